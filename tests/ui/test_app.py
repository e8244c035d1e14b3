"""Each dashboard page through Streamlit's AppTest, against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from annotator import repo
from annotator.correct import dashboard
from annotator.db import session_scope
from annotator.jobs import service as jobs
from annotator.states import JobKind
from annotator.tables import (Adapter, AgreementReport, Annotation, Item, Job,
                              Prediction, Project)
from tests.ui.conftest import (ITEMS, PASSWORDS, UI_APP, VERSION, seed_consensus, seed_dialogue,
                               seed_every_label)


def login(name: str, password: str | None = None) -> AppTest:
    """A fresh app session, logged in (or not, with a wrong password)."""
    at = AppTest.from_file(str(UI_APP), default_timeout=60).run()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password if password is not None else PASSWORDS[name])
    at.button[0].click()
    return at.run()


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_login_failure_then_success(seeded):
    at = login("alice", "not-her-password")
    assert not at.exception
    assert "Wrong name or password" in texts(at.error)[0] and texts(at.title) == ["emo-annotator"]
    assert "user" not in at.session_state and "login_password" not in at.session_state
    at = login("nobody", "whatever-pass")
    assert texts(at.error) and "user" not in at.session_state

    at = login("alice")
    assert not at.exception and not at.error
    assert at.session_state["user"] == {"name": "alice", "role": "annotator"}
    assert "login_password" not in at.session_state  # no password kept in the session
    assert texts(at.title) == ["Overview · demo"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Items": "3", "Predicted": "3", "Corrected": "0", "Annotations": "0",
                       "Labeler": VERSION}


def test_overview_shows_job_progress(engine, seeded):
    with session_scope(engine) as db:
        project_id = repo.get_project_or_raise(db, "demo").id
        job = jobs.create_job(db, "prelabel", project_id, adapter_version=VERSION, total=40)
        job.done, job.state = 10, "running"
    at = login("alice")
    (bar,) = at.get("progress")
    assert bar.proto.value == 25 and f"#{job.id} prelabel · running · 10/40 · {VERSION}" in bar.proto.text


def _open_review(name: str = "alice") -> AppTest:
    at = login(name)
    at.switch_page("views/review.py").run()
    assert not at.exception, at.exception
    return at


def _annotations(engine) -> list[Annotation]:
    with session_scope(engine) as db:
        return list(db.scalars(select(Annotation).order_by(Annotation.id)))


def test_review_correct_item_saves_it_under_the_user(engine, seeded):
    at = _open_review()
    first, second, third = seeded.item_ids
    assert f"item {second}" in at.caption[0].value  # lowest confidence first
    (html,) = at.get("html")
    assert "<mark>The train was cancelled again</mark>" in html.proto.body
    assert at.multiselect(key=f"emotions-{second}").value == ["anger"]

    at.multiselect(key=f"emotions-{second}").set_value(["sadness", "anger"]).run()
    # a slider per chosen emotion appears at once, starting at the labeler's intensity for that emotion
    assert [s.label for s in at.slider] == ["Intensity", "Intensity of sadness", "Intensity of anger"]
    at.slider(key=f"intensity-{second}").set_value(0.3)
    at.slider(key=f"intensity-{second}-sadness").set_value(0.8)
    at.text_input(key=f"cause-{second}").input("third time this week")
    _submit(at, "Save and next")
    at.run()
    assert not at.exception and not at.error
    assert texts(at.success) == [f"Saved item {second}."]
    assert f"item {third}" in at.caption[0].value  # the next item loaded

    (ann,) = _annotations(engine)
    text = ITEMS[1][0]
    assert (ann.item_id, ann.annotator, ann.source, ann.status) == (second, "alice", "dashboard", "accepted")
    assert ann.emotions == ["anger", "sadness"] and ann.intensity == pytest.approx(0.3)
    assert ann.intensities == {"sadness": pytest.approx(0.8), "anger": pytest.approx(0.5)}  # anger: as proposed
    assert text[ann.cause_start:ann.cause_end] == ann.cause_text == "third time this week"
    assert ann.based_on_adapter == VERSION and ann.lead_time is not None and ann.lead_time >= 0


def test_review_accept_as_proposed_and_refuse_a_cause_not_in_the_text(engine, seeded):
    at = _open_review()
    second, third = seeded.item_ids[1], seeded.item_ids[2]
    _submit(at, "Save and next")
    at.run()
    (ann,) = _annotations(engine)
    assert (ann.item_id, ann.emotions, ann.intensity, ann.cause_text) == (second, ["anger"], 0.5,
                                                                          "The train was cancelled again")

    at.text_input(key=f"cause-{third}").input("words that are not there")
    _submit(at, "Save and next")
    at.run()
    assert "not a part of the text" in texts(at.error)[0]
    assert len(_annotations(engine)) == 1 and f"item {third}" in at.caption[0].value

    _submit(at, "Skip")  # skip moves on without saving
    at.run()
    assert f"item {seeded.item_ids[0]}" in at.caption[0].value and len(_annotations(engine)) == 1


def _submit(at: AppTest, label: str) -> None:
    (button,) = [b for b in at.button if b.label == label]
    button.click()


def test_review_shows_every_label_probability(engine, seeded):
    labels = seed_every_label(engine)  # 28 labels; "all-labels" sorts first, so the picker opens on it
    at = _open_review()
    (probs,) = at.dataframe
    assert sorted(probs.value["emotion"]) == sorted(labels)  # all 28, not the top 10


def test_review_counts_what_waits_and_explains_an_empty_order(engine, seeded):
    at = _open_review()
    second = seeded.item_ids[1]
    assert "3 waiting" in at.caption[0].value  # all of the project's predicted items, not the batch size
    _submit(at, "Save and next")
    at.run()
    assert "2 waiting" in at.caption[0].value and f"item {second}" not in at.caption[0].value

    # Nobody else has annotated anything: the disagreement order says why it is empty and offers the other.
    at.radio(key="review_order").set_value("disagreement").run()
    (info,) = texts(at.info)
    assert "none has a disagreement to sort by" in info and "2 items wait" in info
    at.button(key="review_switch_order").click().run()
    assert at.radio(key="review_order").value == "selected" and "2 waiting" in at.caption[0].value


def test_agreement_page_reads_reports(engine, seeded):
    at = login("alice")
    at.switch_page("views/agreement.py").run()
    assert "No agreement figures yet" in texts(at.info)[0]

    with session_scope(engine) as db:
        project_id = repo.get_project_or_raise(db, "demo").id
        for day, (hh, lh) in enumerate([(0.41, 0.30), (0.52, 0.35)]):
            for field in ("emotions", "intensity", "cause", "emotion:joy"):
                for coders, value in (("human-human", hh), ("labeler-human", lh)):
                    db.add(AgreementReport(project_id=project_id, field=field, coders=coders, value=value,
                                           n_items=20, n_coders=3, created_at=_day(day)))
    at.run()
    assert not at.exception
    (table,) = at.dataframe
    latest = table.value
    assert latest.loc["intensity", "human-human"] == pytest.approx(0.52)
    assert latest.loc["emotion:joy", "labeler-human"] == pytest.approx(0.35)
    assert at.multiselect(key="agreement_fields").value == ["cause", "emotions", "intensity"]
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2  # one per coder pair


def _day(n: int):
    from datetime import datetime, timedelta, timezone

    return datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=n)


def _light_retrain(engine, job_id: int) -> dict:
    """A retraining runner that only reports progress: this test is about the button and the job, not training."""
    jobs.set_job_total(engine, job_id, 2)
    jobs.add_job_progress(engine, job_id, 2)
    return {"plumbing": True}


def test_models_retrain_button_enqueues_a_job(engine, seeded, monkeypatch):
    import annotator.retrain.job  # noqa: F401 - registers the real runner, which this test replaces

    monkeypatch.setitem(jobs._RUNNERS, JobKind.RETRAIN, _light_retrain)
    seed_consensus(engine)
    at = login("root")
    at.switch_page("views/models.py").run()
    assert not at.exception
    (button,) = [b for b in at.button if b.label == "Retrain"]
    button.click()
    at.run()
    assert not at.exception
    with session_scope(engine) as db:
        (job,) = db.scalars(select(Job)).all()
        project = db.scalar(select(Project).where(Project.name == "demo"))
        assert (job.kind, job.project_id, job.queue) == ("retrain", project.id, "train")
    assert texts(at.success) == [f"Retraining job #{job.id} queued."]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # broker-less: it runs in a thread of the app's process
        with session_scope(engine) as db:
            if db.get(Job, job.id).state == "done":
                break
        time.sleep(0.1)
    at.run()
    (bar,) = at.get("progress")
    assert f"#{job.id} retrain · done · 2/2" in bar.proto.text


def test_the_retrain_button_refuses_a_project_without_consensus_and_makes_no_job(engine, seeded):
    at = login("root")
    at.switch_page("views/models.py").run()
    (button,) = [b for b in at.button if b.label == "Retrain"]
    button.click()
    at.run()
    assert not at.exception and not at.success
    (error,) = texts(at.error)
    assert "has no consensus items to train on yet" in error  # the message the CLI gives
    with session_scope(engine) as db:
        assert db.scalars(select(Job)).all() == []


def test_models_promote_and_roll_back(engine, seeded):
    with session_scope(engine) as db:
        project_id = repo.get_project_or_raise(db, "demo").id
        db.add(Adapter(version="ekman-v2", project_id=project_id, base_model="smollm2", path="adapters/v2",
                       metrics={"emotions_f1": 0.66}))
    at = login("root")
    at.switch_page("views/models.py").run()
    (table,) = at.dataframe
    assert set(table.value["version"]) == {VERSION, "ekman-v2"}
    assert "metric: emotions_f1" in table.value.columns
    at.selectbox(key="promote_choice").set_value("ekman-v2")
    at.button(key="promote").click()
    at.run()
    assert texts(at.success) == ["ekman-v2 is now active."]
    assert "Active adapter: **ekman-v2**" in texts(at.markdown)
    at.button(key="rollback").click()
    at.run()
    assert texts(at.success) == [f"Rolled back to {VERSION}."]
    at.button(key="rollback").click()
    at.run()
    assert "no earlier adapter" in texts(at.error)[0]


def test_models_actions_are_for_admins_only(seeded):
    at = login("alice")
    at.switch_page("views/models.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.label in ("Retrain", "Promote", "Roll back")]
    assert any("for admins" in c.value for c in at.caption)


def test_pages_name_the_shipped_default_when_it_labels_the_project(engine, seeded):
    """No promoted adapter, the shipped default pre-labeled the items: Overview and Models name it."""
    with session_scope(engine) as db:
        project = repo.add_project(db, "a-default", "ekman", ["joy", "sadness"], {})
        db.add(Adapter(version="shipped-v9", project_id=None, base_model="smollm2", path="adapters/default/v9",
                       status="default"))
        item = Item(project_id=project.id, text="hello there", content_hash="h-hello")
        db.add(item)
        db.flush()
        db.add(Prediction(item_id=item.id, adapter_version="shipped-v9", emotions={"joy": 0.8, "sadness": 0.1},
                          confidence=0.7))
    at = login("alice")
    assert texts(at.title) == ["Overview · a-default"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Labeler"] == "shipped-v9"
    assert any("shipped default" in c.value for c in at.caption)
    at.switch_page("views/models.py").run()
    assert not at.exception
    assert any("shipped default **shipped-v9**" in m.value for m in at.markdown)
    (table,) = at.dataframe
    assert table.value.set_index("version").loc["shipped-v9", "labels the project"]


def test_review_shows_a_turn_with_the_turns_before_it_and_takes_a_cause_from_them(engine, seeded):
    target = seed_dialogue(engine)
    at = _open_review()
    assert f"item {target}" in at.caption[0].value
    (html,) = at.get("html")
    body = html.proto.body
    # the earlier turns, oldest first, with their speakers, then the turn to label
    assert body.index("Shall we see a movie tomorrow?") < body.index("Or go bowling?") < body.index("Sounds like")
    assert "<b>Bob</b>" in body and "turn 2 · <b>Ann</b>" in body
    at.text_input(key=f"cause-{target}").input("see a movie tomorrow")
    _submit(at, "Save and next")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (ann,) = _annotations(engine)
    assert (ann.item_id, ann.cause_turn, ann.cause_text, ann.cause_outside) == (target, 0, "see a movie tomorrow", None)
    assert "Shall we see a movie tomorrow?"[ann.cause_start:ann.cause_end] == "see a movie tomorrow"


def test_review_marks_a_proposed_cause_in_an_earlier_turn_and_keeps_it_there_when_accepted(engine, seeded):
    target = seed_dialogue(engine, cause=(0, 9, 29))  # the labeler points at "see a movie tomorrow" in turn 0
    at = _open_review()
    (html,) = at.get("html")
    body = html.proto.body
    assert "Shall we <mark>see a movie tomorrow</mark>?" in body and body.count("<mark>") == 1
    assert body.index("<mark>") < body.index("Sounds like")  # in the earlier turn, not in the turn itself
    assert at.text_input(key=f"cause-{target}").value == "see a movie tomorrow"
    _submit(at, "Save and next")  # accepted as proposed
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (ann,) = _annotations(engine)
    assert (ann.cause_turn, ann.cause_start, ann.cause_end, ann.cause_text) == (0, 9, 29, "see a movie tomorrow")


def test_review_records_a_cause_outside_the_conversation_and_refuses_words_from_nowhere(engine, seeded):
    target = seed_dialogue(engine)
    at = _open_review()
    at.text_input(key=f"cause-{target}").input("popcorn")
    _submit(at, "Save and next")
    at.run()
    assert "not a part of this turn or the turns shown above it" in texts(at.error)[0] and not _annotations(engine)
    at.text_input(key=f"cause-{target}").input("")
    at.checkbox(key=f"outside-{target}").check()
    _submit(at, "Save and next")
    at.run()
    (ann,) = _annotations(engine)
    assert (ann.item_id, ann.cause_outside, ann.cause_start, ann.cause_turn) == (target, True, None, None)


def test_conversations_page_plots_each_speakers_emotions_along_the_turns(engine, seeded):
    target = seed_dialogue(engine)
    with session_scope(engine) as db:  # a person labeled the first turn; the labeler predicted the last
        first = db.scalar(select(Item).where(Item.conversation_id == "c1", Item.turn == 0))
        repo.upsert_annotations(db, [{"item_id": first.id, "annotator": "alice", "emotions": ["surprise"],
                                      "intensity": 0.3, "intensities": {"surprise": 0.3}}], "dashboard")
    at = login("alice")
    at.switch_page("views/conversations.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="conversation").value == "c1" and at.selectbox(key="conversation").options == ["c1 (3 turns)"]
    (table,) = at.dataframe
    rows = table.value.to_dict("records")
    assert [(r["turn"], r["speaker"], r["emotions"], r["from"]) for r in rows] == [
        (0, "Ann", "surprise", "human"), (1, "Bob", "no emotion", "-"), (2, "Ann", "joy", "model")]
    (chart,) = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    assert spec["encoding"]["color"]["field"] == "speaker" and spec["encoding"]["x"]["field"] == "turn"
    assert at.dataframe[0].value["turn"].tolist() == [0, 1, 2] and target


def test_conversations_page_says_how_to_get_conversations(seeded):
    at = login("alice")
    at.switch_page("views/conversations.py").run()
    assert not at.exception and "--conversation-field" in at.info[0].value


def test_an_item_open_in_one_review_is_not_offered_to_another_annotator(engine, seeded):
    first, second, third = seeded.item_ids
    alice = _open_review("alice")
    assert f"item {second}" in alice.caption[0].value  # alice now holds its one slot (overlap 1)
    root = _open_review("root")
    assert f"item {third}" in root.caption[0].value and "2 waiting" in root.caption[0].value
    _submit(alice, "Skip")  # alice gives it up: the next person gets it
    alice.run()
    again = _open_review("root")  # root keeps the item they have open first, and now also gets alice's
    assert f"item {third}" in again.caption[0].value and "2 waiting" in again.caption[0].value  # alice took item 1
    with session_scope(engine) as db:
        assert [r.item_id for r in dashboard.review_queue(db, "demo", "root")][:2] == [third, second]
