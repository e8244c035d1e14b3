"""The checks every human label passes before it is stored, whoever gives it (an annotator on the dashboard,
a reviewer adjudicating): the item is in the project, the emotions are in its taxonomy, intensities lie in
[0, 1], and a cause span lies inside the text it points into (the item's own, or an earlier turn of its
conversation)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from annotator import repo
from annotator.tables import Item


def check_labels(db: Session, project_name: str, item_id: int, emotions: list[str], intensity: float | None,
                 cause: tuple[int, int] | None, *, intensities: dict[str, float] | None = None,
                 cause_turn: int | None = None, cause_outside: bool = False) -> dict[str, Any]:
    """Check one human label for an item and return the fields to store: emotions in taxonomy order,
    intensity, intensities, cause_start/end/text, cause_turn, cause_outside.

    ``intensities``: an intensity per chosen emotion (those of emotions not chosen are dropped);
    ``cause_turn``: the earlier turn of the item's conversation ``cause`` is a span of (None or the item's own
    turn: its own text); ``cause_outside``: the cause is not in the conversation (``cause`` must be None).
    Raises repo.NotFound for an item outside the project and ValueError for labels outside the taxonomy, an
    intensity outside [0, 1], a turn that is not an earlier turn of the conversation and a span outside its text.
    """
    project = repo.get_project_or_raise(db, project_name)
    item = db.get(Item, item_id)
    if item is None or item.project_id != project.id:
        raise repo.NotFound(f"no item {item_id} in project {project_name!r}")
    unknown = sorted(set(emotions) - set(project.labels))
    if unknown:
        raise ValueError(f"labels not in the project's taxonomy: {', '.join(unknown)}")
    per_emotion = {label: float(v) for label, v in (intensities or {}).items() if label in emotions and v is not None}
    for name, value in [("intensity", intensity), *((f"intensity of {k}", v) for k, v in per_emotion.items())]:
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")
    if cause_outside and cause is not None:
        raise ValueError("a cause outside the conversation has no span")
    source_text = item.text
    if cause_turn is not None and cause_turn != item.turn:
        earlier = repo.conversation_turn(db, item, cause_turn)
        if earlier is None or item.turn is None or cause_turn > item.turn:
            raise ValueError(f"turn {cause_turn} is not an earlier turn of this item's conversation")
        source_text = earlier.text
    else:
        cause_turn = None
    if cause is not None and not 0 <= cause[0] < cause[1] <= len(source_text):
        raise ValueError(f"cause span {cause} is outside the text (0..{len(source_text)})")
    return {
        "emotions": sorted(set(emotions), key=project.labels.index),
        "intensity": intensity, "intensities": per_emotion or None,
        "cause_start": cause[0] if cause else None, "cause_end": cause[1] if cause else None,
        "cause_text": source_text[cause[0]:cause[1]] if cause is not None else None,
        "cause_turn": cause_turn if cause is not None else None, "cause_outside": True if cause_outside else None,
    }
