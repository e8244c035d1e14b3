"""Adjudication: a reviewer settles the items whose annotators disagree most, with every answer side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from annotator.correct import adjudication, dashboard
from ui.auth import can_adjudicate, current_user
from ui.data import current_project, session
from ui.render import highlight_html

MAJORITY = "the majority"

project = current_project()
user = current_user()
assert user is not None  # app.py logs in before any page runs
st.title("Adjudication")
if not can_adjudicate():
    st.info("Adjudication is for reviewers and admins: an admin gives the role with "
            "`annotator user add NAME --role reviewer`.")
    st.stop()

with session() as db:
    queue = adjudication.adjudication_queue(db, project)
    labels = dashboard.project_labels(db, project)
flash = st.session_state.pop("adjudication_flash", None)
if flash:
    st.success(flash)
if not queue:
    st.info("Nothing to adjudicate: no item's annotators disagree at or above the project's threshold "
            "(project setting adjudicate_above, default 0.5).")
    st.stop()

item = queue[0]
st.caption(f"item {item.item_id} · disagreement {item.disagreement:.2f} · {len(queue):,} waiting")
st.html(highlight_html(item.text, None, None))
answers = pd.DataFrame([{"who": a["coder"], "emotions": ", ".join(a["emotions"]) or "no emotion",
                         "intensity": a["intensity"], "cause": a["cause"] or "-"} for a in item.answers])
st.dataframe(answers, hide_index=True, width="stretch")

sources = {MAJORITY: item.proposal, **{a["coder"]: a for a in item.answers}}
start = st.radio("Start from", list(sources), horizontal=True, key=f"adjudicate-from-{item.item_id}")
chosen = sources[start]
emotions = st.multiselect("Final emotions", labels, default=[e for e in chosen["emotions"] if e in labels],
                          key=f"adjudicate-emotions-{item.item_id}-{start}")
with st.form(f"adjudicate-{item.item_id}"):
    intensity = st.slider("Final intensity", 0.0, 1.0, step=0.01, key=f"adjudicate-intensity-{item.item_id}-{start}",
                          value=float(chosen["intensity"] if chosen["intensity"] is not None else 0.5))
    proposed_cause = chosen["cause"]["text"] if isinstance(chosen["cause"], dict) else (chosen["cause"] or "")
    cause = st.text_input("Final cause: a phrase copied from the text (empty: no cause)", value=proposed_cause,
                          key=f"adjudicate-cause-{item.item_id}-{start}")
    save = st.form_submit_button("Save final label", type="primary")
if save:
    try:
        span = dashboard.cause_span(item.text, cause)
        taken_as_is = start != MAJORITY and sorted(emotions) == sorted(chosen["emotions"])
        with session() as db:
            adjudication.adjudicate(db, project, item.item_id, user["name"], emotions, intensity, span,
                                    chosen_from=start if taken_as_is else None)
    except ValueError as exc:
        st.error(str(exc))
    else:
        st.session_state["adjudication_flash"] = f"Item {item.item_id} settled."
        st.rerun()
