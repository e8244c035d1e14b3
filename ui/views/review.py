"""Review queue: what teaches the labeler most (or its least certain, or most disputed items) first; accept or
correct, save, next."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from annotator.correct import dashboard
from annotator.settings import get_settings
from ui.auth import current_user
from ui.data import current_project, session
from ui.render import dialogue_html, highlight_html

ORDERS = {"selected": "What teaches the labeler most", "confidence": "Lowest labeler confidence",
          "disagreement": "Highest disagreement"}


def _cause_words(other: dict) -> str:
    """Another annotator's cause as the page names it: its words, and the earlier turn they are in."""
    if other["cause_outside"]:
        return "not in the conversation"
    if not other["cause"]:
        return "-"
    return other["cause"] + (f" (turn {other['cause_turn']})" if other["cause_turn"] is not None else "")


project = current_project()
user = current_user()
assert user is not None  # app.py logs in before any page runs
st.title("Review queue")

order = st.radio("Order", list(ORDERS), format_func=ORDERS.get, horizontal=True, key="review_order")
skipped: set[int] = st.session_state.setdefault("review_skipped", set())
with session() as db:
    labels = dashboard.project_labels(db, project)
    queue = dashboard.review_queue(db, project, user["name"], order,
                                   limit=get_settings().review_batch_size + len(skipped))
    done_by_me = dashboard.annotations_by(db, project, user["name"])
    waiting = {name: dashboard.review_waiting(db, project, user["name"], name) for name in ORDERS}
queue = [r for r in queue if r.item_id not in skipped]
if order != "disagreement":  # hold a slot of the item shown; one someone else just filled is passed over
    with session() as db:
        while queue and not queue[0].gold and not dashboard.claim(db, project, queue[0].item_id, user["name"]):
            queue.pop(0)
waiting_here = max(0, waiting[order] - len(skipped))

flash = st.session_state.pop("review_flash", None)
if flash:
    st.success(flash)
if not queue:
    other_order = next(name for name in ORDERS if name != order)
    if order == "disagreement" and waiting[other_order]:
        st.info(f"No item you have not annotated has annotations by others yet, so none has a disagreement to "
                f"sort by. {waiting[other_order]:,} items wait in the '{ORDERS[other_order]}' order.")
        st.button(f"Switch to '{ORDERS[other_order]}'", key="review_switch_order",
                  on_click=lambda: st.session_state.update(review_order=other_order))  # before the radio is drawn
    else:
        st.info("Nothing to review here: every item in this order is done by you"
                + (", or skipped." if skipped else ".") + f" You have corrected {done_by_me:,} items.")
    if skipped and st.button("Show the skipped items again"):
        skipped.clear()
        st.rerun()
    st.stop()

item = queue[0]
shown_at: dict[int, float] = st.session_state.setdefault("review_shown_at", {})
shown_at.setdefault(item.item_id, time.time())

facts = [f"item {item.item_id}", f"adapter {item.adapter_version or '-'}"]
if item.confidence is not None:
    facts.append(f"confidence {item.confidence:.2f}")
if item.disagreement is not None:
    facts.append(f"disagreement {item.disagreement:.2f}")
st.caption(" · ".join(facts) + f" · {waiting_here:,} waiting · {done_by_me:,} corrected by you")

left, right = st.columns([3, 2], gap="large")
with right:
    if item.probabilities:  # every label, most probable first, none hidden behind a scroll bar
        probs = pd.DataFrame({"emotion": list(item.probabilities), "probability": list(item.probabilities.values())})
        st.dataframe(probs, hide_index=True, width="stretch", height=35 * (len(probs) + 1) + 3, column_config={
            "probability": st.column_config.ProgressColumn("probability", min_value=0.0, max_value=1.0,
                                                           format="%.2f")})
with left:
    if item.turn is not None:  # a turn of a conversation: the turns before it, then the turn itself
        st.html(dialogue_html([(t.turn, t.speaker, t.text) for t in item.context], item.turn, item.speaker,
                              item.text, item.cause_start, item.cause_end, item.cause_turn))
    else:
        st.html(highlight_html(item.text, item.cause_start, item.cause_end))
    proposed_intensity = "-" if item.intensity is None else f"{item.intensity:.2f}"
    st.markdown(f"**Proposed:** {', '.join(item.proposed) or 'no emotion'} · intensity {proposed_intensity}")
    for other in item.other_annotations:
        st.caption(f"{other['annotator']}: {', '.join(other['emotions']) or 'no emotion'}"
                   f" · intensity {other['intensity'] if other['intensity'] is not None else '-'}"
                   f" · cause {_cause_words(other)}")

    proposed_cause = dashboard.proposed_cause(item)
    # outside the form: choosing an emotion shows its intensity slider at once
    emotions = st.multiselect("Emotions", labels, default=[e for e in item.proposed if e in labels],
                              key=f"emotions-{item.item_id}")
    proposed_levels = item.intensities or {}
    with st.form(f"review-{item.item_id}", enter_to_submit=True):
        intensity = st.slider("Intensity", 0.0, 1.0,
                              value=float(item.intensity if item.intensity is not None else 0.5),
                              step=0.01, key=f"intensity-{item.item_id}")
        levels = {label: st.slider(f"Intensity of {label}", 0.0, 1.0, step=0.01,
                                   value=float(proposed_levels.get(label, intensity)),
                                   key=f"intensity-{item.item_id}-{label}") for label in emotions}
        where = "this turn or a turn shown above it" if item.context else "the text"
        cause = st.text_input(f"Cause: a phrase copied from {where} (empty: no cause)", value=proposed_cause,
                              key=f"cause-{item.item_id}")
        outside = item.turn is not None and st.checkbox(
            "The cause is not in the conversation", key=f"outside-{item.item_id}")
        save_col, skip_col, _ = st.columns([2, 1, 2])
        save = save_col.form_submit_button("Save and next", type="primary")
        skip = skip_col.form_submit_button("Skip")
    st.caption("Enter in the cause field saves the form.")

if skip:
    skipped.add(item.item_id)
    with session() as db:
        dashboard.release(db, item.item_id, user["name"])  # someone else may take it
    st.rerun()
if save:
    try:
        if outside and cause.strip():
            raise ValueError("clear the cause phrase, or untick 'The cause is not in the conversation'")
        located = None if outside else dashboard.locate_cause(item, cause)
        with session() as db:
            dashboard.save_correction(db, project, item.item_id, user["name"], emotions, intensity,
                                      None if located is None else located[1:], intensities=levels,
                                      cause_turn=None if located is None else located[0], cause_outside=outside,
                                      based_on_adapter=item.adapter_version,
                                      lead_time=round(time.time() - shown_at.pop(item.item_id, time.time()), 3))
    except ValueError as exc:
        st.error(str(exc))
    else:
        st.session_state["review_flash"] = f"Saved item {item.item_id}."
        st.rerun()
