"""Projects: create and describe them (``service``), and report their state (``status``)."""
