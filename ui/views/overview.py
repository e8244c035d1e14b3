"""Overview: how far the project has come, what its labels look like, and what the workers are doing."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from annotator.correct import dashboard
from annotator.states import AdapterStatus, JobState
from ui.data import current_project, engine, label_distribution, session


def label_chart(frame: pd.DataFrame) -> alt.Chart:
    """One horizontal bar per label, most frequent first, every label named: a fixed band per label, and
    no label dropped for overlapping (Vega-Lite's default hides every other one when bands are tight)."""
    order = frame.groupby("label")["items"].sum().sort_values(ascending=False).index.tolist()
    return alt.Chart(frame).mark_bar().encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False, labelLimit=240)),
        x=alt.X("sum(items):Q", title="items"),
        color=alt.Color("source:N", title="from"),
        tooltip=["label", "source", "items"],
    ).properties(height=alt.Step(22))


project = current_project()
st.title(f"Overview · {project}")

with session() as db:
    counts = dashboard.overview(db, project)
    jobs = dashboard.job_progress(db, project)
distribution = label_distribution(engine().url.render_as_string(hide_password=False), project)

cols = st.columns(5)
cols[0].metric("Items", f"{counts['items']:,}")
cols[1].metric("Predicted", f"{counts['predicted']:,}")
cols[2].metric("Corrected", f"{counts['corrected']:,}")
cols[3].metric("Annotations", f"{counts['annotations']:,}")
cols[4].metric("Labeler", counts["labeler"] or "none",
               help="The adapter whose predictions label this project: the promoted one, else the shipped "
               "default." if counts["labeler"] else "Nothing has pre-labeled this project yet: annotator prelabel.")
if counts["labeler_status"] == AdapterStatus.DEFAULT:
    cols[4].caption("shipped default, not promoted")

st.subheader("Labels")
st.caption("Items carrying each label in their current best labels: the human consensus where people "
           "annotated the item, else the labeler's prediction. Recounted at most once a minute.")
frame = pd.DataFrame(distribution)
if frame.empty or frame["items"].sum() == 0:
    st.info("No labels yet: pre-label with `annotator prelabel` or correct items in the review queue.")
else:
    frame = frame[frame.groupby("label")["items"].transform("sum") > 0]
    st.altair_chart(label_chart(frame), width="stretch")

st.subheader("Jobs")
if not jobs:
    st.info("No jobs yet.")
for job in jobs:
    label = f"#{job['id']} {job['kind']} · {job['state']} · {job['done']:,}/{job['total']:,}"
    if job["adapter"]:
        label += f" · {job['adapter']}"
    st.progress(job["progress"] if job["progress"] is not None else (1.0 if job["state"] == JobState.DONE else 0.0),
                text=label)
    if job["error"]:
        st.error(f"job {job['id']}: {job['error']}")
