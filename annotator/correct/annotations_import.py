"""Load existing human annotations from JSONL, one annotation a line, into a project.

A line: ``{"id": <item external id>, "annotator": "ann1", "emotions": ["joy"], "intensity": 0.7,
"intensities": {"joy": 0.7}, "cause": [start, end] or "cause text", "based_on_adapter": "v3"}``
(``intensity``, ``intensities`` (per chosen emotion), ``cause`` and ``based_on_adapter`` optional; a cause
given as text is located in the item's text, first occurrence). For a turn of a conversation the cause may
lie in any turn up to and including it: ``{"turn": 2, "span": [start, end]}`` or ``{"turn": 2, "text":
"..."}`` (offsets into that turn's text); ``{"outside": true}`` says the cause is not in the conversation.
Annotations are upserted on (item, annotator) with source ``import``. A bad line never stops the run:
it is recorded like a rejected ingest row (``ingest_errors``: source, line, reason, raw bytes), counted
by reason, and can be written back with ``errors_out``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import Engine

from annotator import repo
from annotator.db import session_scope
from annotator.ingest.service import error_row
from annotator.ingest.sources import Record, open_binary, read_jsonl
from annotator.tables import Item

SOURCE = "import"
BATCH = 2000

REASONS = {
    "invalid_json": "the line is not valid JSON",
    "not_an_object": "the line is JSON but not an object",
    "undecodable_bytes": "the line is not valid UTF-8",
    "missing_id": "no item id",
    "unknown_item": "no item of the project has that external id",
    "missing_annotator": "no annotator name (a non-empty string)",
    "invalid_emotions": "emotions is not a list of strings",
    "unknown_label": "an emotion is not a label of the project's taxonomy",
    "invalid_intensity": "intensity is not a number in [0, 1]",
    "invalid_intensities": "intensities is not an object of chosen emotion -> number in [0, 1]",
    "invalid_cause": "cause is neither [start, end] inside the text, a string, nor a turn's span",
    "cause_not_found": "the cause text does not occur in the item's text",
    "invalid_cause_turn": "the cause's turn is not a turn of the item's conversation up to the item",
    "invalid_adapter": "based_on_adapter is not a string",
}


@dataclass
class ImportSummary:
    """What one annotations import did."""

    source: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


class LineError(ValueError):
    """A line that cannot become an annotation; ``reason`` is a key of :data:`REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def import_annotations(engine: Engine, project: str, path: str, *, id_field: str = "id",
                       errors_out: IO[bytes] | None = None, gold: bool = False) -> ImportSummary:
    """Upsert the annotations of JSONL file ``path`` (or ``-``) into ``project``; see the module docstring.

    ``gold``: the lines are known answers of gold items (no ``annotator``; ``annotator gold import``), upserted
    by item into ``gold_answers``."""
    summary = ImportSummary(source=path)
    with session_scope(engine) as db:
        proj = repo.get_project_or_raise(db, project)
        project_id, labels = proj.id, frozenset(proj.labels)
    stream = open_binary(path)
    try:
        batch: list[Record] = []
        for record in read_jsonl(stream):
            batch.append(record)
            if len(batch) >= BATCH:
                _store(engine, project_id, labels, id_field, path, batch, summary, errors_out, gold)
                batch = []
        _store(engine, project_id, labels, id_field, path, batch, summary, errors_out, gold)
    finally:
        if path != "-":
            stream.close()
    return summary


def _store(engine: Engine, project_id: int, labels: frozenset[str], id_field: str, source: str,
           records: list[Record], summary: ImportSummary, errors_out: IO[bytes] | None, gold: bool) -> None:
    """Validate and upsert one batch in one transaction; record its bad lines."""
    if not records:
        return
    with session_scope(engine) as db:
        ids = {ext for r in records if r.fields is not None and (ext := _external_id(r.fields, id_field)) is not None}
        items = repo.items_by_external_id(db, project_id, ids)
        conversations = {item.conversation_id for r in records if isinstance((r.fields or {}).get("cause"), dict)
                         and (item := items.get(_external_id(r.fields, id_field) or "")) is not None
                         and item.conversation_id is not None}
        turns = repo.conversation_turn_texts(db, project_id, conversations) if conversations else {}
        good: list[dict[str, Any]] = []
        bad: list[Record] = []
        for record in records:
            if record.reason is None:
                try:
                    good.append(parse_line(record.fields or {}, items, labels, id_field, turns, gold))
                except LineError as exc:
                    record.reason, record.message = exc.reason, str(exc)
            if record.reason is not None:
                bad.append(record)
        inserted, updated = repo.upsert_gold_answers(db, good) if gold else repo.upsert_annotations(db, good, SOURCE)
        summary.inserted += inserted
        summary.updated += updated
        repo.add_ingest_errors(db.connection(), [
            error_row(project_id, None, source,  # no ingest run: run_id is NULL
                       r.line_number, r.reason or "", r.message or "", r.raw)
            for r in bad
        ])
    summary.rows_read += len(records)
    summary.rejected += len(bad)
    for r in bad:
        summary.reasons[r.reason or ""] += 1
        if errors_out is not None:
            errors_out.write(r.raw if r.raw.endswith(b"\n") else r.raw + b"\n")


def _external_id(fields: dict[str, Any] | None, id_field: str) -> str | None:
    value = (fields or {}).get(id_field)
    if type(value) is int:
        return str(value)
    return value if isinstance(value, str) and value else None


def parse_line(fields: dict[str, Any], items: dict[str, Item], labels: frozenset[str],
               id_field: str = "id", turns: Mapping[tuple[str, int], str] | None = None,
               gold: bool = False) -> dict[str, Any]:
    """The annotation values of one JSON line, or LineError saying what is wrong with it (``turns``: the text
    of each (conversation id, turn) a cause may point into). ``gold``: a known answer, with no annotator
    (the values of a gold_answers row)."""
    ext = _external_id(fields, id_field)
    if ext is None:
        raise LineError("missing_id", f"no {id_field!r} (a non-empty string or integer)")
    item = items.get(ext)
    if item is None:
        raise LineError("unknown_item", f"no item with id {ext!r} in this project (ingest it first)")
    annotator = "" if gold else fields.get("annotator")
    if not gold and (not isinstance(annotator, str) or not annotator.strip() or len(annotator) > 200):
        raise LineError("missing_annotator", "'annotator' must be a non-empty string of up to 200 characters")
    emotions = fields.get("emotions", [])
    if not isinstance(emotions, list) or not all(isinstance(e, str) for e in emotions):
        raise LineError("invalid_emotions", "'emotions' must be a list of label strings")
    emotions = sorted({e.strip().lower() for e in emotions})
    unknown = [e for e in emotions if e not in labels]
    if unknown:
        raise LineError("unknown_label", f"not labels of this project: {', '.join(unknown)}")
    intensity = fields.get("intensity")
    if intensity is not None and (isinstance(intensity, bool) or not isinstance(intensity, (int, float))
                                  or not 0.0 <= intensity <= 1.0):
        raise LineError("invalid_intensity", f"'intensity' must be a number in [0, 1], got {intensity!r}")
    intensities = fields.get("intensities")
    if intensities is not None:
        if not isinstance(intensities, dict) or any(
                k not in emotions or isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0
                for k, v in intensities.items()):
            raise LineError("invalid_intensities", "'intensities' must map chosen emotions to numbers in [0, 1], "
                                                   f"got {str(intensities)[:80]}")
        intensities = {k: float(v) for k, v in intensities.items()} or None
    cause = _cause_values(fields.get("cause"), item, turns or {})
    adapter = fields.get("based_on_adapter")
    if adapter is not None and not isinstance(adapter, str):
        raise LineError("invalid_adapter", "'based_on_adapter' must be an adapter version string")
    if gold:
        if cause["cause_turn"] is not None or cause["cause_outside"]:
            raise LineError("invalid_cause", "a gold cause is a span of the item's own text")
        return {"item_id": item.id, "emotions": emotions, "intensity": None if intensity is None else float(intensity),
                "cause_start": cause["cause_start"], "cause_end": cause["cause_end"]}
    assert isinstance(annotator, str)
    return {"item_id": item.id, "annotator": annotator.strip(), "emotions": emotions,
            "intensity": None if intensity is None else float(intensity), "intensities": intensities,
            **cause, "based_on_adapter": adapter}


CAUSE_KEYS = frozenset({"turn", "span", "text", "outside"})


def _cause_values(cause: Any, item: Item, turns: Mapping[tuple[str, int], str]) -> dict[str, Any]:
    """The cause columns of an annotation from its ``cause`` value (see the module docstring)."""
    values: dict[str, Any] = {"cause_start": None, "cause_end": None, "cause_text": None, "cause_turn": None,
                              "cause_outside": None}
    if not isinstance(cause, dict):
        start, end = locate_cause(cause, item.text)
        if start is not None:
            values.update(cause_start=start, cause_end=end, cause_text=item.text[start:end])
        return values
    if not cause.keys() <= CAUSE_KEYS or ("span" in cause) + ("text" in cause) + bool(cause.get("outside")) != 1:
        raise LineError("invalid_cause", "a cause object is {\"turn\": T, \"span\": [start, end]}, "
                                         "{\"turn\": T, \"text\": \"...\"} or {\"outside\": true}, "
                                         f"got {str(cause)[:80]}")
    if cause.get("outside"):
        if cause["outside"] is not True or "turn" in cause:
            raise LineError("invalid_cause", f"'outside' must be true and alone, got {str(cause)[:80]}")
        values["cause_outside"] = True
        return values
    turn, text = cause.get("turn"), item.text
    if turn is not None:
        if type(turn) is not int or item.conversation_id is None or item.turn is None:
            raise LineError("invalid_cause_turn", f"turn {turn!r}: the item is not a turn of a conversation"
                            if item.conversation_id is None else f"turn must be an integer, got {turn!r}")
        if not 0 <= turn <= item.turn or (item.conversation_id, turn) not in turns:
            raise LineError("invalid_cause_turn", f"turn {turn} is not a stored turn of conversation "
                                                  f"{item.conversation_id!r} at or before the item's turn {item.turn}")
        text = turns[(item.conversation_id, turn)]
        turn = None if turn == item.turn else turn
    where = "the item's text" if turn is None else f"the text of turn {turn}"
    start, end = locate_cause(cause.get("span", cause.get("text")), text, where)
    if start is None:
        raise LineError("invalid_cause", f"the cause has no span, got {str(cause)[:80]}")
    values.update(cause_start=start, cause_end=end, cause_text=text[start:end], cause_turn=turn)
    return values


def locate_cause(cause: Any, text: str, where: str = "the item's text") -> tuple[int | None, int | None]:
    """``(start, end)`` of a cause given as ``[start, end]`` or as text found in ``text``; (None, None) for none."""
    if cause is None:
        return None, None
    if isinstance(cause, str):
        if not cause:
            raise LineError("invalid_cause", "the cause text is empty")
        at = text.find(cause)
        if at < 0:
            raise LineError("cause_not_found", f"{cause[:80]!r} does not occur in {where}")
        return at, at + len(cause)
    if (isinstance(cause, list) and len(cause) == 2 and all(type(x) is int for x in cause)
            and 0 <= cause[0] < cause[1] <= len(text)):
        return cause[0], cause[1]
    raise LineError("invalid_cause", f"'cause' must be [start, end] with 0 <= start < end <= {len(text)} "
                                     f"or a piece of the text, got {str(cause)[:80]}")
