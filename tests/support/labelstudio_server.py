"""The real Label Studio server the integration tests start: the product's own (``annotator labelstudio serve``)."""

from annotator.correct.labelstudio.server import (  # noqa: F401 - re-exported for the tests
    LabelStudioServer,
    LabelStudioStartError,
    LabelStudioVenvError,
    ensure_venv,
    free_port,
)
