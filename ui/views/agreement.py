"""Agreement: Krippendorff's alpha per emotion, for intensity and for cause, human-human and labeler-human.

Reads the figures the agreement module records (agreement_reports); computes none of its own.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from annotator.correct import dashboard
from ui.data import current_project, session

project = current_project()
st.title("Agreement")

with session() as db:
    history = dashboard.agreement_history(db, project)
    quality = dashboard.annotator_quality(db, project)
if quality:
    st.subheader("Annotators")
    people = pd.DataFrame(quality).rename(columns={
        "reliability": "reliability (alpha)", "gold_items": "gold items", "gold_emotion_f1": "gold emotion F1",
        "gold_intensity_error": "gold intensity error", "gold_cause_f1": "gold cause F1"})
    scores = ["reliability (alpha)", "gold emotion F1", "gold intensity error", "gold cause F1"]
    people[scores] = people[scores].apply(pd.to_numeric)  # None (not measured) -> NaN, shown as "-"
    st.dataframe(people.style.format({name: "{:.3f}" for name in scores}, na_rep="-"),
                 hide_index=True, width="stretch")
    st.caption("Reliability: each annotator's alpha on the emotion set against the consensus of the others. "
               "Gold: their answers to gold items (`annotator gold import`) scored against the known answers.")
if not history:
    st.info("No agreement figures yet. They appear once the agreement job has compared the annotations "
            "(it needs items with more than one annotator).")
    st.stop()

frame = pd.DataFrame(history)
latest = pd.DataFrame(dashboard.latest_agreement(history))
latest["value"] = pd.to_numeric(latest["value"])  # None (alpha undefined) -> NaN, shown as "-"
st.subheader("Latest")
table = latest.pivot_table(index="field", columns="coders", values="value", aggfunc="last")
st.dataframe(table.style.format("{:.3f}", na_rep="-"), width="stretch")
st.caption(f"Krippendorff's alpha (1 = perfect agreement, 0 = chance). Measured on up to "
           f"{int(latest['n_items'].max()):,} items.")

st.subheader("Over time")
fields = sorted(frame["field"].unique())
summary = [f for f in fields if not f.startswith("emotion:")]
chosen = st.multiselect("Fields", fields, default=summary or fields[:5], key="agreement_fields")
for coders in sorted(frame["coders"].unique()):
    part = frame[(frame["coders"] == coders) & frame["field"].isin(chosen)]
    if part.empty:
        continue
    st.markdown(f"**{coders}**")
    wide = part.pivot_table(index="created_at", columns="field", values="value", aggfunc="last")
    st.line_chart(wide, y_label="alpha")
