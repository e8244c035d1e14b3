"""Adjudication: a reviewer settles the items whose annotators disagree most, with every answer side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from annotator.correct import adjudication, dashboard
from ui.auth import can_adjudicate, current_user
from ui.data import current_project, session
from ui.render import dialogue_html, highlight_html

MAJORITY = "the majority"


def _cause_words(cause: dict | None) -> str:
    """An answer's cause as the page names it: its words, and the earlier turn they are in."""
    if not cause:
        return "-"
    if cause["outside"]:
        return "not in the conversation"
    return str(cause["text"]) + (f" (turn {cause['turn']})" if cause["turn"] is not None else "")

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
if item.turn is not None:  # a turn of a conversation: the turns before it, then the turn itself
    st.html(dialogue_html([(t.turn, t.speaker, t.text) for t in item.context], item.turn, item.speaker, item.text,
                          None, None))
else:
    st.html(highlight_html(item.text, None, None))
answers = pd.DataFrame([{"who": a["coder"], "emotions": ", ".join(a["emotions"]) or "no emotion",
                         "intensity": a["intensity"], "cause": _cause_words(a["cause"])} for a in item.answers])
st.dataframe(answers, hide_index=True, width="stretch")

sources = {MAJORITY: item.proposal, **{a["coder"]: a for a in item.answers}}
start = st.radio("Start from", list(sources), horizontal=True, key=f"adjudicate-from-{item.item_id}")
chosen = sources[start]
emotions = st.multiselect("Final emotions", labels, default=[e for e in chosen["emotions"] if e in labels],
                          key=f"adjudicate-emotions-{item.item_id}-{start}")
with st.form(f"adjudicate-{item.item_id}"):
    intensity = st.slider("Final intensity", 0.0, 1.0, step=0.01, key=f"adjudicate-intensity-{item.item_id}-{start}",
                          value=float(chosen["intensity"] if chosen["intensity"] is not None else 0.5))
    proposed = chosen["cause"] if chosen["cause"] and not chosen["cause"]["outside"] else None
    where = "this turn or a turn shown above it" if item.context else "the text"
    cause = st.text_input(f"Final cause: a phrase copied from {where} (empty: no cause)",
                          value=proposed["text"] if proposed else "", key=f"adjudicate-cause-{item.item_id}-{start}")
    outside = item.turn is not None and st.checkbox(
        "The cause is not in the conversation", value=bool(chosen["cause"] and chosen["cause"]["outside"]),
        key=f"adjudicate-outside-{item.item_id}-{start}")
    save = st.form_submit_button("Save final label", type="primary")
if save:
    try:
        if outside and cause.strip():
            raise ValueError("clear the cause phrase, or untick 'The cause is not in the conversation'")
        located = None if outside else dashboard.locate_phrase(
            item.text, item.context, cause,
            (proposed["turn"], proposed["start"], proposed["end"]) if proposed else None)
        taken_as_is = start != MAJORITY and sorted(emotions) == sorted(chosen["emotions"])
        with session() as db:
            adjudication.adjudicate(db, project, item.item_id, user["name"], emotions, intensity,
                                    None if located is None else located[1:],
                                    chosen_from=start if taken_as_is else None,
                                    cause_turn=None if located is None else located[0], cause_outside=outside)
    except ValueError as exc:
        st.error(str(exc))
    else:
        st.session_state["adjudication_flash"] = f"Item {item.item_id} settled."
        st.rerun()
