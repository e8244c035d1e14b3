"""The Streamlit dashboard (`annotator ui`): pages over annotator.services, no SQL of its own."""
