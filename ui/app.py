"""The dashboard's entry point (`annotator ui` runs `streamlit run ui/app.py`): login, project, pages."""

from __future__ import annotations

import streamlit as st

from ui import auth, data

st.set_page_config(page_title="emo-annotator", page_icon=":material/sentiment_satisfied:", layout="wide")

# The pages live in views/, not pages/: Streamlit serves a pages/ folder next to the entry script on its own,
# listing raw file names and running them by URL before app.py has checked the log-in.
pages = [
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("views/review.py", title="Review queue", icon=":material/rate_review:"),
    st.Page("views/agreement.py", title="Agreement", icon=":material/groups:"),
    st.Page("views/conversations.py", title="Conversations", icon=":material/forum:"),
    st.Page("views/adjudication.py", title="Adjudication", icon=":material/gavel:"),
    st.Page("views/models.py", title="Models", icon=":material/model_training:"),
]
# Navigation is declared before the log-in so that a page URL opened directly (/review) is remembered and
# shown once logged in; the page list stays hidden, and no page runs, until then.
page = st.navigation(pages, position="sidebar" if auth.current_user() else "hidden")
auth.require_login()
project = data.pick_project()
auth.logout_button()
if project is None:
    st.title("emo-annotator")
    st.info("No project yet. Create one with `annotator project create NAME --taxonomy goemotions`, "
            "then `annotator ingest` and `annotator prelabel`.")
    st.stop()
page.run()
