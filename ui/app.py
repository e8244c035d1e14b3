"""The dashboard's entry point (`annotator ui` runs `streamlit run ui/app.py`): login, project, pages."""

from __future__ import annotations

import streamlit as st

from ui import auth, data

st.set_page_config(page_title="emo-annotator", page_icon=":material/sentiment_satisfied:", layout="wide")

auth.require_login()
project = data.pick_project()
auth.logout_button()
if project is None:
    st.title("emo-annotator")
    st.info("No project yet. Create one with `annotator project create NAME --taxonomy goemotions`, "
            "then `annotator ingest` and `annotator prelabel`.")
    st.stop()

pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/review.py", title="Review queue", icon=":material/rate_review:"),
    st.Page("pages/agreement.py", title="Agreement", icon=":material/groups:"),
    st.Page("pages/models.py", title="Models", icon=":material/model_training:"),
]
st.navigation(pages).run()
