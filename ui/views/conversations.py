"""Conversations: the emotions of each speaker along the turns of one conversation."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from annotator.correct import dashboard
from ui.data import current_project, session

NONE = "no emotion"


def timeline_chart(frame: pd.DataFrame) -> alt.Chart:
    """One point per (turn, emotion) in the turn's best labels, coloured by speaker, sized by intensity."""
    return alt.Chart(frame).mark_circle(opacity=0.85).encode(
        x=alt.X("turn:O", title="turn", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("emotion:N", title=None, axis=alt.Axis(labelOverlap=False)),
        color=alt.Color("speaker:N", title="speaker"),
        size=alt.Size("intensity:Q", title="intensity", scale=alt.Scale(domain=[0, 1], range=[40, 400]),
                      legend=alt.Legend(values=[0.25, 0.5, 1.0])),
        tooltip=["turn", "speaker", "emotion", "intensity", "source", "text"],
    ).properties(height=alt.Step(28))


project = current_project()
st.title("Conversations")
with session() as db:
    listed = dashboard.conversations(db, project)
if not listed:
    st.info("No conversations in this project: ingest dialogue data with `annotator ingest --conversation-field` "
            "(or the reccon / emotionlines formats).")
    st.stop()
chosen = st.selectbox("Conversation", [c for c, _ in listed], key="conversation",
                      format_func=lambda c: f"{c} ({dict(listed)[c]} turns)")
with session() as db:
    turns = dashboard.conversation_timeline(db, project, chosen)

points = [{"turn": t["turn"], "speaker": t["speaker"], "emotion": emotion, "text": t["text"], "source": t["source"],
           "intensity": t["intensities"].get(emotion) if t["intensities"].get(emotion) is not None else 0.5}
          for t in turns for emotion in (t["emotions"] or [NONE])]
st.caption("Each turn's current best labels (the human consensus where people annotated it, else the labeler's "
           "prediction), one point per emotion, coloured by speaker; a bigger point is a stronger emotion.")
st.altair_chart(timeline_chart(pd.DataFrame(points)), width="stretch")
st.dataframe(pd.DataFrame([{"turn": t["turn"], "speaker": t["speaker"], "text": t["text"],
                            "emotions": ", ".join(t["emotions"]) or NONE, "from": t["source"] or "-"}
                           for t in turns]), hide_index=True, width="stretch")
