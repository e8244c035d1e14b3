"""How far a project has come: items, predictions, annotations, ingest errors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from annotator import repo
from annotator.db import session_scope


def project_status(engine: Engine, project_name: str) -> dict[str, Any]:
    """Counts for one project, plus predictions per adapter, error reasons and the latest ingest runs."""
    with session_scope(engine) as db:
        project = repo.get_project_or_raise(db, project_name)
        counts = repo.project_counts(db, project.id)
        adapter = repo.labeling_adapter(db, project)
        active = adapter.version if adapter is not None else None
        reasons = repo.ingest_error_reasons(db, project.id)
        runs = repo.latest_ingest_runs(db, project.id)
        return {
            "project": project.name,
            "taxonomy": project.taxonomy,
            "labels": len(project.labels),
            "active_adapter": active,
            **counts,
            "predictions_by_adapter": repo.predictions_by_adapter(db, project.id),
            "ingest_errors_by_reason": reasons,
            "ingest_runs": [
                {"id": r.id, "source": r.source, "state": r.state, "inserted": r.rows_inserted,
                 "duplicates": r.rows_duplicate, "rejected": r.rows_rejected}
                for r in runs
            ],
        }
