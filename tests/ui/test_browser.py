"""End to end in headless Chromium: `annotator ui` on a free port, log in, correct an item, save, check the DB."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from annotator.db import open_database, session_scope
from annotator.tables import Annotation, Item
from tests.ui.conftest import ITEMS, PASSWORDS, VERSION, Seeded, seed, seed_dialogue, seed_every_label

CHROMIUM = Path("/usr/bin/chromium")
LEAD_SCREENSHOT = Path("/tmp/ui_screenshot.png")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (Debian package `chromium`)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"`annotator ui` exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"the dashboard did not answer at {url} within {timeout} s")


@contextmanager
def _browser_page(width: int, height: int) -> Iterator[Any]:
    """A page of headless Chromium with this size, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def _log_in(page: Any, name: str = "alice", password: str | None = None) -> None:
    page.get_by_role("textbox", name="Name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password if password is not None else PASSWORDS[name])
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`annotator ui` serving a seeded SQLite database on a free port; stopped afterwards."""
    url = f"sqlite:///{tmp_path}/ui.db"
    monkeypatch.setenv("ANNOTATOR_DATABASE_URL", url)
    seed(open_database(url))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "annotator.cli.main", "ui", "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_log_in_correct_an_item_and_save(dashboard: str, tmp_path: Path):
    from playwright.sync_api import expect

    second = 2  # the seeded item with the lowest confidence: the queue shows it first
    with _browser_page(1400, 1000) as page:
        page.goto(dashboard)
        _log_in(page)
        expect(page.get_by_role("heading", name="Overview · demo")).to_be_visible()

        page.get_by_role("link", name="Review queue").click()
        expect(page.get_by_text(f"item {second} · adapter {VERSION}")).to_be_visible()
        expect(page.locator("mark")).to_have_text("The train was cancelled again")

        # Correct the emotions: add sadness to the proposed anger, by keyboard.
        emotions = page.get_by_test_id("stMultiSelect").locator("input")
        emotions.click()
        page.keyboard.type("sadness")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        expect(page.get_by_test_id("stMultiSelect")).to_contain_text("sadness")
        expect(page.get_by_text("Intensity of sadness")).to_be_visible()  # a slider per chosen emotion
        # Correct the cause, and save with Enter in the cause field.
        cause = page.get_by_label("Cause: a phrase copied from the text (empty: no cause)")
        cause.fill("third time this week")
        cause.press("Enter")
        expect(page.get_by_text(f"Saved item {second}.")).to_be_visible()
        expect(page.get_by_text("item 3 · adapter")).to_be_visible()  # the next item loaded
        expect(page.get_by_role("button", name="Save and next")).to_be_visible()
        expect(page.get_by_test_id("stDataFrame")).to_be_visible()
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)  # the run has finished
        page.screenshot(path=str(tmp_path / "ui.png"), full_page=True)
        shutil.copyfile(tmp_path / "ui.png", LEAD_SCREENSHOT)

    with session_scope(open_database()) as db:
        (ann,) = db.scalars(select(Annotation)).all()
    assert (ann.item_id, ann.annotator, ann.source, ann.based_on_adapter) == (second, "alice", "dashboard", VERSION)
    assert ann.emotions == ["anger", "sadness"] and ann.intensity == pytest.approx(ITEMS[1][2])
    assert ann.cause_text == "third time this week"
    assert ITEMS[1][0][ann.cause_start:ann.cause_end] == "third time this week"


def test_repeated_wrong_passwords_lock_the_log_in(dashboard: str, tmp_path: Path):
    from playwright.sync_api import expect

    with _browser_page(1000, 700) as page:
        page.goto(dashboard)
        for _ in range(5):
            _log_in(page, password="not her password")
            page.wait_for_timeout(300)
            expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)  # this attempt's run is over
            expect(page.get_by_text("Wrong name or password")).to_be_visible()
        _log_in(page)
        expect(page.get_by_text("Log-in refused: too many failed log-ins")).to_be_visible()
        expect(page.get_by_role("heading", name="Overview · demo")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "locked.png"), full_page=True)
        shutil.copyfile(tmp_path / "locked.png", LEAD_SCREENSHOT.with_name("dashboard-locked.png"))


def test_a_page_url_opened_before_log_in_asks_to_log_in_then_shows_that_page(dashboard: str, tmp_path: Path):
    from playwright.sync_api import expect

    with _browser_page(1200, 800) as page:
        page.goto(f"{dashboard}/review")
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "direct.png"), full_page=True)
        shutil.copyfile(tmp_path / "direct.png", LEAD_SCREENSHOT.with_name("dashboard-direct-url.png"))
        body = page.locator("body").inner_text()
        assert "KeyError" not in body and "Traceback" not in body
        assert page.get_by_test_id("stSidebarNav").count() == 0  # no page list (file names) before log-in
        for name in ("review", "overview", "agreement", "models"):
            expect(page.get_by_role("link", name=name)).to_have_count(0)
        _log_in(page)
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()  # the page the URL named


def test_the_label_chart_names_every_bar(dashboard: str, tmp_path: Path):
    from playwright.sync_api import expect

    labels = seed_every_label(open_database())  # "all-labels" sorts before "demo": the picker opens on it
    with _browser_page(1200, 900) as page:
        page.goto(dashboard)
        _log_in(page)
        expect(page.get_by_role("heading", name="Overview · all-labels")).to_be_visible()
        chart = page.get_by_test_id("stVegaLiteChart")
        expect(chart.locator("svg")).to_be_visible()
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        shown = set(chart.locator("svg text").evaluate_all(  # Vega hides an overlapping label with opacity 0
            "els => els.filter(e => e.getAttribute('opacity') !== '0' && getComputedStyle(e).opacity !== '0')"
            ".map(e => e.textContent)"))
        chart.screenshot(path=str(tmp_path / "labels.png"))
        shutil.copyfile(tmp_path / "labels.png", LEAD_SCREENSHOT.with_name("dashboard-label-chart.png"))
        assert set(labels) <= shown, f"labels without a name on the chart: {sorted(set(labels) - shown)}"

        # The review queue's probability table is tall enough for all 28 labels (no inner scroll bar).
        page.get_by_role("link", name="Review queue").click()
        table = page.get_by_test_id("stDataFrame")
        expect(table).to_be_visible()
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        assert table.bounding_box()["height"] >= 35 * (len(labels) + 1)
        page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
        shutil.copyfile(tmp_path / "review.png", LEAD_SCREENSHOT.with_name("dashboard-review-all-labels.png"))


def test_a_dialogue_turn_is_reviewed_below_the_turns_before_it(dashboard: str, tmp_path: Path):
    from playwright.sync_api import expect

    target = seed_dialogue(open_database(), cause=(0, 9, 29))  # the labeler points into the first turn
    with _browser_page(1400, 1000) as page:
        page.goto(dashboard)
        _log_in(page)
        page.get_by_role("link", name="Review queue").click()
        expect(page.get_by_text(f"item {target} · adapter {VERSION}")).to_be_visible()
        expect(page.locator("mark", has_text="see a movie tomorrow")).to_be_visible()  # marked in that turn
        expect(page.get_by_text("(the turn to label)")).to_be_visible()
        cause = page.get_by_label("Cause: a phrase copied from this turn or a turn shown above it (empty: no cause)")
        expect(cause).to_have_value("see a movie tomorrow")  # the proposal, ready to accept
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "dialogue.png"), full_page=True)
        shutil.copyfile(tmp_path / "dialogue.png", LEAD_SCREENSHOT.with_name("dashboard-review-dialogue.png"))
        cause.press("Enter")
        expect(page.get_by_text(f"Saved item {target}.")).to_be_visible()

        # the conversation's page: each speaker's emotions along the turns
        page.get_by_role("link", name="Conversations").click()
        expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
        expect(page.get_by_test_id("stVegaLiteChart")).to_be_visible()
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "conversations.png"), full_page=True)
        shutil.copyfile(tmp_path / "conversations.png", LEAD_SCREENSHOT.with_name("dashboard-conversations.png"))

    with session_scope(open_database()) as db:
        (ann,) = db.scalars(select(Annotation)).all()
    assert (ann.item_id, ann.cause_turn, ann.cause_text) == (target, 0, "see a movie tomorrow")


def test_the_models_page_shows_what_the_pre_labels_are_worth(dashboard: str, tmp_path: Path):
    from playwright.sync_api import expect

    from tests.ui.test_prelabel_value import _annotate

    engine = open_database()
    with session_scope(engine) as db:
        item_ids = [i.id for i in db.scalars(select(Item).order_by(Item.id))]
    _annotate(engine, Seeded("demo", item_ids))
    with _browser_page(1280, 1200) as page:
        page.goto(dashboard)
        _log_in(page)
        page.get_by_role("link", name="Models").click()
        expect(page.get_by_role("heading", name="What the pre-labels are worth")).to_be_visible()
        expect(page.get_by_text("Of 4 annotations made on a pre-label, 3 (75%) kept its emotions exactly.")).to_be_visible()
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        expect(page.get_by_test_id("stDataFrame")).to_have_count(3)  # adapters, times, per label
        page.wait_for_timeout(1500)  # the tables are drawn on a canvas after they appear
        page.screenshot(path=str(tmp_path / "models.png"), full_page=True)
        shutil.copyfile(tmp_path / "models.png", LEAD_SCREENSHOT.with_name("dashboard-models-prelabels.png"))


def test_a_reviewer_settles_a_dispute_and_the_agreement_page_shows_each_annotators_gold(
        dashboard: str, tmp_path: Path):
    from playwright.sync_api import expect
    from typer.testing import CliRunner

    from annotator.agree.service import compute_agreement
    from annotator.cli.main import app
    from annotator.correct import dashboard as service
    from annotator.correct.users import add_user
    from annotator.tables import Adjudication
    from tests.ui.test_adjudication import _dispute
    from tests.ui.test_gold import _gold_file, _more_items

    engine = open_database()
    with session_scope(engine) as db:
        item_ids = [i.id for i in db.scalars(select(Item).order_by(Item.id))]
        add_user(db, "rita", "rita-secret-1", "reviewer")
    _, third = _dispute(engine, Seeded("demo", item_ids))
    gold_ids = _more_items(engine, 2)
    imported = CliRunner().invoke(app, ["gold", "import", str(_gold_file(tmp_path, [
        {"id": "g0", "emotions": ["joy"]}, {"id": "g1", "emotions": ["joy", "surprise"]}])), "--project", "demo"])
    assert imported.exit_code == 0, imported.output
    with session_scope(engine) as db:
        for who, answers in (("bob", (["joy"], ["joy", "surprise"])), ("carol", (["anger"], ["sadness"]))):
            for item, emotions in zip(gold_ids, answers):
                service.save_correction(db, "demo", item, who, emotions, None, None)
    compute_agreement(engine, "demo")

    with _browser_page(1280, 1100) as page:
        page.goto(dashboard)
        _log_in(page, "rita", "rita-secret-1")
        page.get_by_role("link", name="Adjudication").click()
        expect(page.get_by_text(f"item {third}", exact=False).first).to_be_visible()
        expect(page.get_by_test_id("stDataFrame")).to_have_count(1)  # every answer side by side
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        page.wait_for_timeout(1500)  # the table is drawn on a canvas after it appears
        page.screenshot(path=str(tmp_path / "adjudication.png"), full_page=True)
        shutil.copyfile(tmp_path / "adjudication.png", LEAD_SCREENSHOT.with_name("dashboard-adjudication.png"))
        page.get_by_role("button", name="Save final label").click()
        expect(page.get_by_text(f"Item {third} settled.")).to_be_visible()

        page.get_by_role("link", name="Agreement").click()
        expect(page.get_by_role("heading", name="Annotators")).to_be_visible()
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(tmp_path / "agreement.png"), full_page=True)
        shutil.copyfile(tmp_path / "agreement.png", LEAD_SCREENSHOT.with_name("dashboard-agreement.png"))

    with session_scope(engine) as db:
        (row,) = db.scalars(select(Adjudication)).all()
    assert (row.item_id, row.reviewer) == (third, "rita")


def test_a_reviewer_settles_a_dialogue_turn_below_its_context(dashboard: str, tmp_path: Path):
    from playwright.sync_api import expect

    from annotator.correct import dashboard as service
    from annotator.correct.users import add_user
    from annotator.tables import Adjudication

    engine = open_database()
    target = seed_dialogue(engine)
    with session_scope(engine) as db:
        service.save_correction(db, "demo", target, "bob", ["joy"], 0.7, (9, 29), cause_turn=0)
        service.save_correction(db, "demo", target, "carol", ["surprise"], 0.4, (0, 6))
        add_user(db, "rita", "rita-secret-1", "reviewer")
    with _browser_page(1280, 1100) as page:
        page.goto(dashboard)
        _log_in(page, "rita", "rita-secret-1")
        page.get_by_role("link", name="Adjudication").click()
        expect(page.get_by_text(f"item {target}", exact=False).first).to_be_visible()
        expect(page.get_by_text("Shall we see a movie tomorrow?")).to_be_visible()  # the turns before it
        page.get_by_text("bob", exact=True).last.click()  # start from bob's answer
        cause = page.get_by_label("Final cause: a phrase copied from this turn or a turn shown above it "
                                  "(empty: no cause)")
        expect(cause).to_have_value("see a movie tomorrow")
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        page.wait_for_timeout(1500)  # the table is drawn on a canvas after it appears
        page.screenshot(path=str(tmp_path / "adjudication-dialogue.png"), full_page=True)
        shutil.copyfile(tmp_path / "adjudication-dialogue.png",
                        LEAD_SCREENSHOT.with_name("dashboard-adjudication-dialogue.png"))
        page.get_by_role("button", name="Save final label").click()
        expect(page.get_by_text(f"Item {target} settled.")).to_be_visible()
    with session_scope(engine) as db:
        (row,) = db.scalars(select(Adjudication)).all()
    assert (row.item_id, row.cause_turn, row.cause_text, row.chosen_from) == (target, 0, "see a movie tomorrow", "bob")
