"""Push, pull and webhook against a real Label Studio server (no mocks).

Covers: 1,000 items pushed with predictions (lowest confidence first), a second push that sends
nothing, re-predicted items getting a new prediction on their existing task, annotations by two
users (one invalid, one skipped) pulled into our database, a crashed push reconciled without
duplicates, the server restarted in the middle of a push, and the webhook receiver.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from sqlalchemy import func, select

from annotator.cli.main import app
from annotator.correct.labelstudio import store
from annotator.correct.labelstudio.client import connect
from annotator.correct.labelstudio.config import labeling_config
from annotator.correct.labelstudio.service import pull_project, push_project, register_webhook, webhook_server
from annotator.correct.labelstudio.tasks import ITEM_ID, task_json
from annotator.db import session_scope
from annotator.settings import get_settings
from annotator.tables import Annotation, Item, LabelStudioTask, Prediction, Project
from annotator.taxonomy import get_taxonomy
from tests.labelstudio.conftest import WEBHOOK_SECRET
from tests.labelstudio.helpers import seed

pytestmark = pytest.mark.slow

EKMAN = list(get_taxonomy("ekman").labels)


def _result(text: str, emotions: list[str], intensity: float, span: tuple[int, int] | None = None) -> list[dict]:
    out = [{"from_name": "emotions", "to_name": "text", "type": "choices", "value": {"choices": emotions}},
           {"from_name": "intensity", "to_name": "text", "type": "number", "value": {"number": intensity}}]
    if span:
        s, e = span
        out.append({"id": "c1", "from_name": "cause", "to_name": "text", "type": "labels",
                    "value": {"start": s, "end": e, "text": text[s:e], "labels": ["cause"]}})
    return out


def _ls_tasks(conn, ls_pid: int) -> list:
    return list(conn.client.tasks.list(project=ls_pid, fields="task_only", page_size=1000))


def _ls_project_id(engine, name: str) -> int:
    with session_scope(engine) as db:
        project = db.scalar(select(Project).where(Project.name == name))
        return store.ls_settings(project)["project_id"]


def test_push_pull_round_trip(engine, ls_settings, labelstudio, annotator_user, runner):
    ids = seed(engine, "round", 1000)
    report = push_project(engine, "round", order="uncertainty")
    assert (report.created, report.repredicted, report.retries) == (1000, 0, 0)
    conn = connect()
    ls_pid = report.ls_project_id
    ls_project = conn.client.projects.get(id=ls_pid)
    assert ls_project.maximum_annotations == 2  # our overlap
    assert ls_project.label_config.strip() == labeling_config(EKMAN).strip()

    tasks = _ls_tasks(conn, ls_pid)
    assert len(tasks) == 1000 and {t.data[ITEM_ID] for t in tasks} == set(ids)
    first = min(tasks, key=lambda t: t.id)
    assert first.data[ITEM_ID] == ids[-1]  # seeded confidence falls with the id: lowest-confidence first
    with session_scope(engine) as db:
        rows = db.execute(select(LabelStudioTask.item_id, LabelStudioTask.ls_task_id,
                                 LabelStudioTask.prediction_version)).all()
    assert len(rows) == 1000 and all(t is not None and v == "emollm-v1" for _, t, v in rows)

    full = conn.client.tasks.get(id=str(first.id))
    (pred,) = full.predictions
    assert pred.model_version == "emollm-v1" and pred.score == pytest.approx(1 - 999 / 1001, abs=1e-4)
    assert [r["from_name"] for r in pred.result] == ["emotions", "intensity", "cause"]

    # Pushing again sends nothing; through the CLI as a user would.
    result = runner.invoke(app, ["labelstudio", "push", "--project", "round"], catch_exceptions=False)
    assert result.exit_code == 0 and "0 new tasks" in result.output, result.output
    assert len(_ls_tasks(conn, ls_pid)) == 1000

    # Re-predict 10 items: their tasks get the new prediction, no task is added.
    with session_scope(engine) as db:
        old = db.scalars(select(Prediction).where(Prediction.item_id.in_(ids[:10]))).all()
        db.add_all([Prediction(item_id=p.item_id, adapter_version="emollm-v2", emotions=p.emotions, intensity=0.5,
                               cause_start=None, cause_end=None, confidence=0.4) for p in old])
    again = push_project(engine, "round")
    assert (again.created, again.repredicted) == (0, 10)
    by_item = {t.data[ITEM_ID]: t.id for t in _ls_tasks(conn, ls_pid)}
    assert len(by_item) == 1000
    versions = sorted(p.model_version for p in conn.client.predictions.list(task=by_item[ids[0]]))
    assert versions == ["emollm-v1", "emollm-v2"]
    assert push_project(engine, "round").sent == 0

    # Two users annotate through the API; one result is invalid, one task is skipped.
    admin = conn.client
    ann = labelstudio.client(token=annotator_user["token"])
    texts = {t.id: t.data["text"] for t in _ls_tasks(conn, ls_pid)}
    t0, t1, t2, t3 = (by_item[i] for i in ids[:4])
    text = texts[t0]  # items 0-3 share the text's length, so one text serves for the spans below
    pred_id = conn.client.predictions.list(task=t0)[0].id
    a_admin0 = admin.annotations.create(id=t0, result=_result(text, ["joy"], 0.7, (8, 33)), lead_time=12.5,
                                        parent_prediction=pred_id)
    admin.annotations.create(id=t1, result=_result(text, ["sadness", "fear"], 0.2), lead_time=3.0)
    admin.annotations.create(id=t2, result=_result(text, ["anger"], 0.9), lead_time=4.0)
    ann.annotations.create(id=t0, result=_result(text, ["joy", "surprise"], 0.6, (0, 6)), lead_time=30.0)
    bad = ann.annotations.create(id=t1, result=_result(text, ["nope"], 3.0, (5, 500)), lead_time=8.0)
    ann.annotations.create(id=t3, result=[], was_cancelled=True)
    admin.annotations.update(id=a_admin0.id, result=_result(text, ["joy", "anger"], 0.8, (8, 33)), lead_time=20.0)

    pulled = pull_project(engine, "round")
    assert (pulled.inserted, pulled.updated, pulled.rejected, pulled.skipped) == (5, 0, 1, 1)
    with session_scope(engine) as db:
        got = {(a.item_id, a.annotator): a for a in db.scalars(select(Annotation))}
    assert set(got) == {(ids[0], "admin@example.com"), (ids[1], "admin@example.com"), (ids[2], "admin@example.com"),
                        (ids[0], "ann@example.com"), (ids[1], "ann@example.com")}
    first_admin = got[(ids[0], "admin@example.com")]
    assert first_admin.emotions == sorted(["joy", "anger"], key=EKMAN.index)
    assert (first_admin.intensity, first_admin.cause_start, first_admin.cause_end) == (0.8, 8, 33)
    assert first_admin.cause_text == text[8:33] and first_admin.lead_time == 20.0
    assert first_admin.source == "labelstudio" and first_admin.status == "accepted"
    assert first_admin.external_ref == str(a_admin0.id)
    assert first_admin.based_on_adapter == "emollm-v1"  # the parent prediction it started from
    rejected = got[(ids[1], "ann@example.com")]
    assert rejected.status == "rejected" and rejected.external_ref == str(bad.id)
    assert "'nope'" in rejected.rejection_reason and "outside [0, 1]" in rejected.rejection_reason
    assert "outside the text" in rejected.rejection_reason
    assert got[(ids[0], "ann@example.com")].created_at is not None

    # Pulling again changes nothing but the timestamps it re-reads.
    result = runner.invoke(app, ["labelstudio", "pull", "--project", "round"], catch_exceptions=False)
    assert result.exit_code == 0 and "0 new and 5 updated" in result.output, result.output
    with session_scope(engine) as db:
        assert db.scalar(select(func.count()).select_from(Annotation)) == 5


def test_crashed_push_is_reconciled(engine, ls_settings):
    """Tasks imported by a push that died before recording their ids are adopted, not sent twice."""
    ids = seed(engine, "crash", 30)
    first = push_project(engine, "crash", limit=10, order="id")
    assert first.created == 10
    conn = connect()
    ls_pid = first.ls_project_id
    # What a push does for the next chunk, up to the moment it would record the task ids:
    with session_scope(engine) as db:
        project = db.scalar(select(Project).where(Project.name == "crash"))
        plan = store.plan_push(db, project, ls_pid, "id", 8)
        items, preds = store.load_chunk(db, plan)
        store.mark_pending(db, project.id, ls_pid, plan)
    conn.client.projects.import_tasks(
        id=ls_pid, request=[task_json(items[r.item_id], preds[r.prediction_id], EKMAN, 0.5) for r in plan])
    # ...and a pending row whose import never reached the server:
    with session_scope(engine) as db:
        rest = store.plan_push(db, project, ls_pid, "id", None)
        store.mark_pending(db, project.id, ls_pid, rest[:2])

    report = push_project(engine, "crash")
    assert report.recovered == 8 and report.created == 12
    tasks = _ls_tasks(conn, ls_pid)
    assert len(tasks) == 30 and sorted(t.data[ITEM_ID] for t in tasks) == sorted(ids)


def test_push_survives_server_restart(engine, ls_settings, labelstudio, monkeypatch):
    """The server is stopped while an import is in flight and started again: the push completes, once."""
    monkeypatch.setenv("ANNOTATOR_LABELSTUDIO_CHUNK_SIZE", "500")
    get_settings.cache_clear()
    ids = seed(engine, "restart", 3000)
    restarted = threading.Event()
    errors: list[BaseException] = []

    def bounce() -> None:
        try:
            time.sleep(0.3)  # the second chunk's import is on the wire by now (one takes ~1.5 s)
            labelstudio.restart()
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            restarted.set()

    def on_chunk(report) -> None:
        if report.created == 500 and not restarted.is_set() and not getattr(on_chunk, "started", False):
            on_chunk.started = True
            threading.Thread(target=bounce, daemon=True).start()

    report = push_project(engine, "restart", on_chunk=on_chunk)
    restarted.wait(120)
    assert not errors, errors
    assert report.created == 3000
    assert report.retries >= 1, "the restart did not interrupt the push; the test proved nothing"
    conn = connect()
    tasks = _ls_tasks(conn, report.ls_project_id)
    assert len(tasks) == 3000 and sorted(t.data[ITEM_ID] for t in tasks) == sorted(ids)
    with session_scope(engine) as db:
        assert db.scalar(select(func.count()).select_from(LabelStudioTask).where(
            LabelStudioTask.ls_task_id.is_(None))) == 0
    assert push_project(engine, "restart").sent == 0


def test_a_wrong_token_is_one_line_without_headers(engine, ls_settings, runner, monkeypatch):
    """The real server answers 401 to a token it does not know: one line naming the variable, exit 2."""
    seed(engine, "wrongtoken", 3)
    monkeypatch.setenv("ANNOTATOR_LABELSTUDIO_TOKEN", "0" * 40)
    get_settings.cache_clear()
    for command in ("push", "pull"):
        result = runner.invoke(app, ["labelstudio", command, "--project", "wrongtoken"])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "refused the token" in lines[0] and "ANNOTATOR_LABELSTUDIO_TOKEN" in lines[0]
        assert "cookie" not in result.output.lower() and "0" * 40 not in result.output


def test_webhook_receives_annotations(engine, ls_settings, labelstudio, annotator_user):
    ids = seed(engine, "hooked", 3)
    report = push_project(engine, "hooked")
    server = webhook_server(engine, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        register_webhook(engine, "hooked", url)
        register_webhook(engine, "hooked", url)  # idempotent: updates the same webhook
        conn = connect()
        assert len([w for w in conn.client.webhooks.list(project=str(report.ls_project_id)) if w.url == url]) == 1

        by_item = {t.data[ITEM_ID]: t for t in _ls_tasks(conn, report.ls_project_id)}
        task = by_item[ids[0]]
        ann = labelstudio.client(token=annotator_user["token"])
        created = ann.annotations.create(id=task.id, result=_result(task.data["text"], ["fear"], 0.3, (8, 33)),
                                         lead_time=9.0)
        with session_scope(engine) as db:
            row = db.scalar(select(Annotation).where(Annotation.item_id == ids[0]))
        assert row is not None, "the webhook did not store the annotation"
        assert (row.annotator, row.emotions, row.intensity, row.external_ref) == (
            "ann@example.com", ["fear"], 0.3, str(created.id))
        assert row.based_on_adapter == "emollm-v1"

        ann.annotations.update(id=created.id, result=_result(task.data["text"], ["fear", "sadness"], 0.4))
        with session_scope(engine) as db:
            row = db.scalar(select(Annotation).where(Annotation.item_id == ids[0]))
            assert (row.emotions, row.intensity) == (["fear", "sadness"], 0.4)  # taxonomy order
            assert db.scalar(select(func.count()).select_from(Annotation)) == 1

        # A request without the shared secret is refused.
        req = urllib.request.Request(url, data=json.dumps({"action": "ANNOTATION_CREATED"}).encode(), method="POST")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10)
        assert err.value.code == 401

        # With the secret, a forged event (another result, another user, a task we never pushed) or a replay
        # stores the server's own copy of the annotation, or nothing.
        port = server.server_address[1]
        forged = {"action": "ANNOTATION_UPDATED", "project": {"id": report.ls_project_id},
                  "task": {"id": task.id, "data": task.data},
                  "annotation": {"id": created.id, "task": task.id, "completed_by": 1,
                                 "result": _result(task.data["text"], ["joy"], 1.0)}}
        assert _post(port, forged)[0] == 200
        other = conn.client.tasks.create(project=report.ls_project_id, data={"text": "not ours", ITEM_ID: ids[1]})
        planted = ann.annotations.create(id=other.id, result=_result("not ours", ["anger"], 0.9))
        assert _post(port, {**forged, "task": {"id": other.id, "data": {ITEM_ID: ids[1]}},
                            "annotation": {"id": planted.id, "task": other.id}})[0] == 200
        assert _post(port, {**forged, "annotation": {"id": planted.id, "task": task.id}})[0] == 200  # mismatch
        with session_scope(engine) as db:
            rows = db.scalars(select(Annotation)).all()
            assert [(r.item_id, r.annotator, r.emotions, r.intensity) for r in rows] == [
                (ids[0], "ann@example.com", ["fear", "sadness"], 0.4)]

        # Bodies that are not events get a 4xx answer, never a 500 or a dropped connection.
        assert _post(port, [1, 2, 3])[0] == 400
        assert _post(port, b"[" * 100_000 + b"]" * 100_000)[0] == 400
        assert _post(port, b"\xff\xfe not json")[0] == 400
        assert _post(port, {"action": "ANNOTATION_CREATED", "task": {"id": "1"}, "annotation": {}})[0] == 400
        assert _post(port, b'{"a": 1}', length="abc")[0] == 411
        assert _post(port, b'{"a": 1}', length="-5")[0] == 411
        assert _post(port, b'{"a": 1}', length="\u00b2")[0] == 411  # a digit to str.isdigit, not to int()
        assert _post(port, {**forged, "task": {"id": 2**70}})[0] == 400  # no integer column holds it
        assert _post(port, {"action": "PROJECT_UPDATED"}) == (200, {"stored": 0})
    finally:
        server.shutdown()
        server.server_close()


def _post(port: int, body: object, length: str | None = None) -> tuple[int, dict]:
    """POST ``body`` (bytes, or JSON) with the webhook secret over a raw socket, so any header can be sent."""
    import http.client

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", "/hook")
    conn.putheader("X-Annotator-Webhook-Secret", WEBHOOK_SECRET)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", length if length is not None else str(len(data)))
    conn.endheaders(data)
    response = conn.getresponse()
    status, payload = response.status, json.loads(response.read() or b"{}")
    conn.close()
    return status, payload


def test_an_intensity_per_emotion_round_trips_through_label_studio(engine, ls_settings, labelstudio):
    """Pre-labels carry each chosen emotion's intensity into Label Studio (a Number per emotion, shown while
    that emotion is chosen), and an annotator's per-emotion intensities come back exactly."""
    ids = seed(engine, "levels", 3)
    with session_scope(engine) as db:  # a one-pass prediction: an intensity for every emotion
        for pred in db.scalars(select(Prediction).where(Prediction.item_id.in_(ids))):
            pred.intensities = {label: round(0.1 + 0.1 * k, 2) for k, label in enumerate(EKMAN)}
    report = push_project(engine, "levels")
    conn = connect()
    ls_project = conn.client.projects.get(id=report.ls_project_id)
    assert 'name="intensity_joy"' in ls_project.label_config and 'whenChoiceValue="joy"' in ls_project.label_config
    tasks = {t.data[ITEM_ID]: t for t in _ls_tasks(conn, report.ls_project_id)}
    (pred,) = conn.client.tasks.get(id=str(tasks[ids[0]].id)).predictions
    chosen = next(r for r in pred.result if r["from_name"] == "emotions")["value"]["choices"]
    numbers = {r["from_name"]: r["value"]["number"] for r in pred.result if r["type"] == "number"}
    assert chosen == ["anger"]  # seed: item 0's 0.9 is the first label
    assert numbers == {"intensity": 0.0, "intensity_anger": 0.1}  # only the chosen emotion's own

    task = tasks[ids[1]]
    result = _result(task.data["text"], ["joy", "fear"], 0.5) + [
        {"from_name": "intensity_joy", "to_name": "text", "type": "number", "value": {"number": 0.9}},
        {"from_name": "intensity_fear", "to_name": "text", "type": "number", "value": {"number": 0.25}},
        {"from_name": "intensity_sadness", "to_name": "text", "type": "number", "value": {"number": 0.7}},  # unchosen
    ]
    conn.client.annotations.create(id=task.id, result=result, lead_time=5.0)
    assert pull_project(engine, "levels").inserted == 1
    with session_scope(engine) as db:
        (got,) = db.scalars(select(Annotation)).all()
    assert got.status == "accepted" and got.emotions == ["fear", "joy"]  # taxonomy order
    assert got.intensities == {"joy": 0.9, "fear": 0.25} and got.intensity == 0.5


def test_a_dialogue_turn_is_a_task_with_its_conversation_and_a_cause_in_an_earlier_turn_pulls_back(
        engine, ls_settings, labelstudio, tmp_path):
    """A conversation project's tasks show the turns before the item as a dialogue (speakers); a cause marked
    in an earlier turn (ParagraphLabels), one in the turn itself and 'not in the conversation' come back
    exactly; a paragraph span that does not match the stored turn is rejected, not stored as given."""
    from annotator.ingest.service import IngestOptions, ingest
    from annotator.projects.service import create_project

    turns = [("A", "Shall we see a movie tomorrow?"), ("B", "Or go bowling?"), ("A", "Sounds like a good plan!")]
    corpus = tmp_path / "chat.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"c1#{n}", "dialog": "c1", "n": n, "who": who, "text": text}) + "\n"
                              for n, (who, text) in enumerate(turns))
                      + json.dumps({"id": "lone", "text": "I lost my keys again."}) + "\n")
    with session_scope(engine) as db:
        create_project(db, "chat", get_taxonomy("ekman"))
    assert ingest(engine, "chat", str(corpus), IngestOptions(text_field="text", id_field="id", conversation_field="dialog",
                                                              turn_field="n", speaker_field="who")).inserted == 4
    report = push_project(engine, "chat")
    assert report.created == 4
    conn = connect()
    config = conn.client.projects.get(id=report.ls_project_id).label_config
    assert config.strip() == labeling_config(EKMAN, dialogue=True).strip()
    assert 'layout="dialogue"' in config and 'name="context_cause"' in config
    tasks = {t.data["external_id"]: t for t in _ls_tasks(conn, report.ls_project_id)}
    assert tasks["c1#2"].data["dialogue"] == [{"speaker": "A", "text": turns[0][1], "turn": 0},
                                              {"speaker": "B", "text": turns[1][1], "turn": 1}]
    assert tasks["c1#0"].data["dialogue"] == [] and tasks["lone"].data["dialogue"] == []

    movie = turns[0][1].index("see a movie tomorrow")

    def paragraph_cause(index: int, start: int, end: int, text: str) -> dict:
        return {"from_name": "context_cause", "to_name": "dialogue", "type": "paragraphlabels",
                "value": {"start": str(index), "end": str(index), "startOffset": start, "endOffset": end,
                          "text": text, "paragraphlabels": ["cause"]}}

    last = tasks["c1#2"]
    conn.client.annotations.create(id=last.id, lead_time=3.0, result=_result(turns[2][1], ["joy"], 0.6) + [
        paragraph_cause(0, movie, movie + 20, "see a movie tomorrow")])
    conn.client.annotations.create(id=tasks["c1#1"].id, lead_time=3.0, result=_result(turns[1][1], ["surprise"], 0.3) + [
        {"from_name": "cause_outside", "to_name": "text", "type": "choices",
         "value": {"choices": ["not in the conversation"]}}])
    conn.client.annotations.create(id=tasks["c1#0"].id, lead_time=3.0,
                                   result=_result(turns[0][1], ["joy"], 0.4, (movie, movie + 11)))
    # a paragraph span whose words are not those of the stored turn
    conn.client.annotations.create(id=tasks["lone"].id, lead_time=3.0, result=_result("x", ["sadness"], 0.5) + [
        paragraph_cause(0, 0, 5, "Shall")])
    pulled = pull_project(engine, "chat")
    assert (pulled.inserted, pulled.rejected) == (4, 1)
    with session_scope(engine) as db:
        got = {ext: a for ext, a in db.execute(select(Item.external_id, Annotation).join(
            Item, Item.id == Annotation.item_id))}
    assert (got["c1#2"].cause_turn, got["c1#2"].cause_text, got["c1#2"].status) == (0, "see a movie tomorrow",
                                                                                      "accepted")
    assert turns[0][1][got["c1#2"].cause_start:got["c1#2"].cause_end] == "see a movie tomorrow"
    assert got["c1#1"].cause_outside is True and got["c1#1"].cause_start is None
    assert (got["c1#0"].cause_turn, got["c1#0"].cause_text) == (None, "see a movie")
    assert got["lone"].status == "rejected" and "not an earlier turn" in got["lone"].rejection_reason


def test_each_annotator_gets_only_tasks_that_still_need_someone(engine, ls_settings, labelstudio, annotator_user,
                                                                third_user):
    """Distribution through Label Studio's own labeling stream: overlap 2, three people asking for work.

    Nobody is handed a task they annotated, a task's slots (annotations + people holding it open) never
    exceed the overlap, and when everyone has asked until nothing is left each item has exactly two
    annotations by two different people, which pull into our database as such.
    """
    ids = seed(engine, "spread", 3)  # overlap 2
    pid = push_project(engine, "spread").ls_project_id
    tokens = {"admin": labelstudio.token, "ann": annotator_user["token"], "bea": third_user["token"]}
    clients = {who: labelstudio.client(token=token) for who, token in tokens.items()}
    texts = {t.id: t.data["text"] for t in _ls_tasks(connect(), pid)}

    def next_task(who: str) -> int | None:
        try:
            return int(labelstudio.request("GET", f"/api/projects/{pid}/next", token=tokens[who])["id"])
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # nothing left for this person
                return None
            raise

    held = {who: next_task(who) for who in tokens}  # three people open a task each, none saves yet
    assert all(held.values()) and max(list(held.values()).count(t) for t in held.values()) <= 2
    assert next_task("admin") == held["admin"]  # asking again gives back the task one holds

    done: dict[int, list[str]] = {t: [] for t in texts}
    rounds = 0
    while rounds < 10:
        rounds += 1
        handed = {who: next_task(who) for who in tokens}
        if not any(handed.values()):
            break
        for who, task in handed.items():
            if task is None:
                continue
            assert who not in done[task], f"{who} was handed task {task} again"
            clients[who].annotations.create(id=task, result=_result(texts[task], ["joy"], 0.5), lead_time=1.0)
            done[task].append(who)
            assert len(done[task]) <= 2, f"task {task} got a third annotation"
    assert all(len(people) == 2 and len(set(people)) == 2 for people in done.values()), done

    assert pull_project(engine, "spread").inserted == 6
    with session_scope(engine) as db:
        per_item = dict(db.execute(select(Annotation.item_id, func.count()).group_by(Annotation.item_id)).all())
    assert per_item == dict.fromkeys(ids, 2)
