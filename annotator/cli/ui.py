"""`annotator ui`: start the Streamlit dashboard."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import typer

from annotator.cli.common import console, database, fail, user_errors
from annotator.settings import get_settings

UI_APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"


def streamlit_command(host: str, port: int) -> list[str]:
    """The `streamlit run` command line for the dashboard, headless, on ``host:port``."""
    return [
        sys.executable, "-m", "streamlit", "run", str(UI_APP),
        "--server.headless", "true",
        "--server.address", host,
        "--server.port", str(port),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]


@user_errors
def ui_cmd(
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Port (default ANNOTATOR_UI_PORT, 8501)."),
    host: str = typer.Option(None, "--host", help="Address to listen on (default ANNOTATOR_UI_HOST, 127.0.0.1)."),
) -> None:
    """Start the dashboard (Streamlit): overview, review queue, agreement, models.

    Log in with an account from `annotator user add`. The dashboard uses the same ANNOTATOR_* settings
    (database, broker) as this command. Stops with Ctrl+C.

    Example: annotator ui --port 8501 --host 0.0.0.0
    """
    settings = get_settings()
    if importlib.util.find_spec("streamlit") is None:
        raise fail("the dashboard needs Streamlit: pip install 'emo-annotator[ui]'")
    database()  # fail here, with the message, if the database is unusable; and migrate it once
    host = host or settings.ui_host
    port = port or settings.ui_port
    console.print(f"dashboard on http://{host}:{port} (Ctrl+C stops it)")
    sys.stdout.flush()
    # Become Streamlit (exec): signals reach it directly, no orphan is left behind, and it inherits this
    # environment, so the same ANNOTATOR_* settings apply there.
    command = streamlit_command(host, port)
    os.execv(command[0], command)
