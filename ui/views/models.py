"""Models: adapter versions with their metrics and which is active; admins retrain, promote, roll back."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from annotator import repo
from annotator.correct import dashboard
from annotator.label import adapters
from annotator.retrain.job import start_retrain
from annotator.states import JobState
from ui.auth import is_admin
from ui.data import current_project, engine, prelabel_worth, session

project = current_project()
st.title("Models")

with session() as db:
    rows = adapters.list_adapters(db, project)
    active = adapters.active_adapter(db, project)
    labeler = repo.labeling_adapter(db, repo.get_project_or_raise(db, project))
    table = [
        {"version": a.version, "labels the project": labeler is not None and a.id == labeler.id, "status": a.status,
         "base model": a.base_model, "created": a.created_at, **{f"metric: {k}": v for k, v in (a.metrics or {}).items()
                                                                 if isinstance(v, (int, float, str))}}
        for a in rows
    ]
    versions = [a.version for a in rows]

if active is not None:
    st.markdown(f"Active adapter: **{active.version}**")
elif labeler is not None:
    st.markdown(f"Labeling with the shipped default **{labeler.version}**; no adapter has been promoted for this "
                "project yet (retrain, or promote one below).")
else:
    st.markdown("Active adapter: **none**: nothing has pre-labeled this project yet (`annotator prelabel`).")
if table:
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")
else:
    st.info("No adapters yet: `annotator train` registers one.")

if is_admin():
    st.subheader("Actions")
    retrain_col, promote_col, rollback_col = st.columns(3)
    with retrain_col:
        if st.button("Retrain", type="primary", key="retrain",
                     help="Train a candidate on the human corrections; it replaces the active adapter only "
                     "if it is better on held-out gold."):
            try:
                job_id = start_retrain(engine(), project, wait=False)
            except (ValueError, LookupError) as exc:
                st.error(str(exc))
            else:
                st.session_state["models_flash"] = f"Retraining job #{job_id} queued."
                st.rerun()
    with promote_col:
        candidates = [v for v in versions if active is None or v != active.version]
        choice = st.selectbox("Adapter", candidates, key="promote_choice") if candidates else None
        if st.button("Promote", key="promote", disabled=choice is None) and choice is not None:
            with session() as db:
                adapters.promote_adapter(db, project, choice)
            st.session_state["models_flash"] = f"{choice} is now active."
            st.rerun()
    with rollback_col:
        if st.button("Roll back", key="rollback", help="Reactivate the adapter that was active before this one."):
            try:
                with session() as db:
                    previous = adapters.rollback(db, project)
                    st.session_state["models_flash"] = f"Rolled back to {previous.version}."
            except ValueError as exc:
                st.error(str(exc))
            else:
                st.rerun()
    flash = st.session_state.pop("models_flash", None)
    if flash:
        st.success(flash)
else:
    st.caption("Retraining, promotion and rollback are for admins.")


value = prelabel_worth(engine().url.render_as_string(hide_password=False), project)
if value.on_prelabel:
    st.subheader("What the pre-labels are worth")
    st.markdown(f"Of **{value.on_prelabel:,}** annotations made on a pre-label, **{value.accepted:,}** "
                f"({value.accepted / value.on_prelabel:.0%}) kept its emotions exactly.")
    times = [{"situation": t.situation, "annotations": t.annotations, "timed": t.timed,
              "median seconds per item": t.median_seconds} for t in value.times]
    st.dataframe(pd.DataFrame(times), hide_index=True, width="stretch")
    per_label = [{"label": v.label, "proposed": v.proposed, "kept": v.kept, "keep rate": v.keep_rate,
                  "added by annotators": v.added} for v in value.labels if v.proposed or v.added]
    st.dataframe(pd.DataFrame(per_label), hide_index=True, width="stretch")


@st.fragment(run_every="5s")
def retrain_jobs() -> None:
    """The project's retraining jobs and their progress, refreshed every few seconds."""
    with session() as db:
        jobs = dashboard.job_progress(db, project, kind="retrain", limit=5)
    if not jobs:
        return
    st.subheader("Retraining jobs")
    for job in jobs:
        progress = job["progress"] if job["progress"] is not None else (1.0 if job["state"] == JobState.DONE else 0.0)
        st.progress(progress, text=f"#{job['id']} retrain · {job['state']} · {job['done']:,}/{job['total']:,}")
        if job["error"]:
            st.error(f"job {job['id']}: {job['error']}")


retrain_jobs()
