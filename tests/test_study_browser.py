"""End to end in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright through ``executable_path``) walks a short study from consent to thank-you
against the app running under uvicorn, reloads the page in the middle of a test phase, and
checks the stored rows, the response times, the frame rate, the pixels on the canvas and
the export.

Needs ``pip install playwright`` (in the ``dev`` extra) and ``apt-get install -y chromium``
(``playwright install`` cannot download its own browser on these machines); skipped with
the reason otherwise. Set ``MOTIONLAB_CHROMIUM`` to use another Chromium binary and
``MOTIONLAB_STUDY_SCREENSHOTS=DIR`` to keep a screenshot of every page (README pictures).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="needs the study extra: pip install 'motionlab[study]'")
pytest.importorskip("uvicorn", reason="needs the study extra: pip install 'motionlab[study]'")
pytest.importorskip("playwright", reason="needs Playwright: pip install playwright (dev extra)")

import uvicorn
from playwright import sync_api
from sqlalchemy import select

from motionlab.study.config import load_config
from motionlab.study.export import export_tables
from motionlab.study.server import create_app
from motionlab.study.simulate import truth_map
from motionlab.study.stimuli import Catalogue
from motionlab.study.storage import PhaseLog, Store
from motionlab.video import read_video

from conftest import write_short_study

CHROMIUM = (
    os.environ.get("MOTIONLAB_CHROMIUM")
    or shutil.which("chromium")
    or shutil.which("chromium-browser")
)
if CHROMIUM is not None and not Path(CHROMIUM).is_file():
    CHROMIUM = None
ADMIN = "browser-test-admin-token-0123456789"
# Playwright already passes --no-sandbox etc.; this keeps Chromium off the network.
CHROMIUM_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs a Chromium binary: apt-get install -y chromium (or set MOTIONLAB_CHROMIUM)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serve(tmp_path, study_stimuli, *, rest=2, extra="", config_path=None, port=None):
    """A short study (``extra`` TOML appended; or the study file ``config_path``) under
    uvicorn on a free loopback port (or ``port``)."""
    path = config_path
    if path is None:
        path = write_short_study(tmp_path, study_stimuli, rest=rest)
        if extra:
            text = path.read_text()
            cut = text.index("[[phases]]")
            path.write_text(text[:cut] + extra + "\n" + text[cut:])
    config = load_config(path)
    store = Store(f"sqlite:///{tmp_path / 'study.db'}")
    catalogue = Catalogue(config, cache_dir=tmp_path / "cache")
    app = create_app(config, store, catalogue, admin_token=ADMIN)
    port = port or _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started:
        if time.time() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield {
            "url": f"http://127.0.0.1:{port}",
            "store": store,
            "catalogue": catalogue,
            "truth": truth_map(catalogue),
            "config": config,
        }
    finally:
        srv.should_exit = True
        thread.join(10)
        store.close()


@pytest.fixture
def server(tmp_path, study_stimuli):
    """The short study under uvicorn on a free loopback port."""
    with _serve(tmp_path, study_stimuli) as srv:
        yield srv


@pytest.fixture
def page(tmp_path):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 900, "height": 760})
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.errors = errors
        yield pg
        context.close()
        browser.close()


class Shots:
    """Screenshots of each page, kept in MOTIONLAB_STUDY_SCREENSHOTS when it is set."""

    def __init__(self, page, folder: Path, prefix: str = "study") -> None:
        self.page = page
        self.prefix = prefix
        self.folder = Path(os.environ.get("MOTIONLAB_STUDY_SCREENSHOTS") or folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    def __call__(self, name: str) -> None:
        path = self.folder / f"{self.prefix}_{len(self.taken) + 1:02d}_{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)


CLASSES = ["right", "left", "up"]  # the short study's classes, in order


def _kind(page, kind: str) -> None:
    page.wait_for_selector(f'body[data-kind="{kind}"]', timeout=15000)


def _ready_trial(page, counter: str) -> str:
    """Wait until trial ``counter`` ('Clip k of n') plays; return its stimulus key."""
    page.wait_for_function(
        "t => (document.getElementById('counter') || {}).textContent?.startsWith(t)",
        arg=counter,
        timeout=15000,
    )
    page.wait_for_selector("button.choice:not([disabled])", timeout=15000)
    return page.get_attribute("#stimulus", "data-stimulus")


def _choose(page, label: str) -> None:
    page.click(f'button.choice[data-choice="{label}"]')


def _canvas_frame(page) -> tuple[int, np.ndarray]:
    """The index of the frame on the canvas and its RGB pixels, read in one JS task."""
    got = page.evaluate(
        """() => {
        const c = document.getElementById('stimulus');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        return {frame: Number(c.dataset.frame), w: c.width, h: c.height, data: Array.from(d)};
    }"""
    )
    rgba = np.array(got["data"], np.uint8).reshape(got["h"], got["w"], 4)
    return got["frame"], rgba[:, :, :3]


def test_study_in_chromium(server, page, tmp_path):
    truth, store = server["truth"], server["store"]
    shot = Shots(page, tmp_path / "shots")

    # a recruitment platform's link (Prolific's parameters)
    page.goto(server["url"] + "/?PROLIFIC_PID=browser-test&STUDY_ID=st-1&SESSION_ID=se-1")
    _kind(page, "consent")
    assert page.is_disabled("#consent")
    shot("consent")
    page.check("#agree")
    page.click("#consent")

    _kind(page, "instructions")
    shot("instructions")
    assert page.text_content(".slide") == "First slide."
    page.click("#next")
    page.wait_for_selector("text=Second slide.")
    page.click("#next")  # "Begin"

    _kind(page, "familiarisation")
    for k, label in enumerate(["right", "left", "up"]):
        page.wait_for_function(
            "l => document.getElementById('label')?.textContent === l", arg=label
        )
        page.wait_for_selector("#stimulus[data-frame]")
        if k == 0:
            page.wait_for_timeout(300)  # let it play a few frames
            shot("familiarisation")
        page.click("#next")

    # training on RGB: the right answer is shown after each choice
    _kind(page, "training")
    for t in range(3):
        key = _ready_trial(page, f"Clip {t + 1} of 3")
        wrong = t == 0
        label = next(c for c in ("right", "left", "up") if c != truth[key]) if wrong else truth[key]
        if t == 0:
            shot("training")
        _choose(page, label)
        page.wait_for_selector("#feedback:not(:empty)")
        text = page.text_content("#feedback")
        assert text == (f"Wrong: it was {truth[key]}." if wrong else f"Correct: it was {label}.")
        if t == 0:
            shot("training_feedback")
        page.click("#next")

    # test on RGB, with a reload in the middle
    _kind(page, "test")
    key0 = _ready_trial(page, "Clip 1 of 6")
    shot("test_rgb")
    page.wait_for_timeout(400)
    _choose(page, truth[key0])
    key1 = _ready_trial(page, "Clip 2 of 6")
    page.fill("#fps", "40")  # the frame-rate slider
    assert page.text_content(".fps-value") == "40 fps"
    page.wait_for_timeout(200)
    _choose(page, truth[key1])
    key2 = _ready_trial(page, "Clip 3 of 6")
    page.reload()
    _kind(page, "test")
    assert _ready_trial(page, "Clip 3 of 6") == key2  # resumed at the same trial
    for t in range(2, 6):
        key = _ready_trial(page, f"Clip {t + 1} of 6")
        if t in (3, 4):  # keyboard answers: keys 1..3 stand for right, left, up
            assert page.text_content(f'button.choice[data-choice="{truth[key]}"] kbd') == str(
                CLASSES.index(truth[key]) + 1
            )
            page.keyboard.press(str(CLASSES.index(truth[key]) + 1))
        else:
            _choose(page, truth[key])

    _kind(page, "rest")
    shot("rest")
    assert page.is_disabled("#next")
    page.wait_for_selector("#next:not([disabled])", timeout=10000)
    page.click("#next")

    _kind(page, "training")
    for t in range(3):
        key = _ready_trial(page, f"Clip {t + 1} of 3")
        _choose(page, truth[key])
        page.wait_for_selector("#feedback:not(:empty)")
        page.click("#next")

    # test on AFD: the canvas shows the stimulus's exact pixels
    _kind(page, "test")
    key = _ready_trial(page, "Clip 1 of 6")
    page.fill("#fps", "10")
    shot("test_afd")
    frames = read_video(server["catalogue"].by_key[key].path)
    index, pixels = _canvas_frame(page)
    assert 0 <= index < len(frames)
    np.testing.assert_array_equal(pixels, frames[index])
    _choose(page, truth[key])

    # trial 2: the server stores the answer but its response is lost; the app resends it
    calls = []

    def lose_first_response(route):
        calls.append(route.request.post_data)
        if len(calls) == 1:
            route.fetch()  # reaches the server, which stores the answer ...
            route.abort()  # ... but the browser never hears back
        else:
            route.continue_()

    key = _ready_trial(page, "Clip 2 of 6")
    page.route("**/api/trials", lose_first_response)
    _choose(page, truth[key])
    _ready_trial(page, "Clip 3 of 6")
    page.unroute("**/api/trials")
    assert len(calls) == 2 and calls[0] == calls[1]  # the same answer, sent twice

    # trial 3: no connection at all; the answer waits in localStorage across a reload
    key = _ready_trial(page, "Clip 3 of 6")
    page.route("**/api/trials", lambda route: route.abort())
    _choose(page, truth[key])
    page.wait_for_selector("#status.show")
    assert "retrying" in page.text_content("#status")
    assert page.evaluate("() => localStorage.getItem('motionlab.study.pending')") is not None
    page.unroute("**/api/trials")
    page.reload()
    _kind(page, "test")
    key = _ready_trial(page, "Clip 4 of 6")  # the pending answer was sent on loading
    _choose(page, truth[key])

    # a second tab of the same participant answers clip 5; the first tab, still showing
    # clip 5, then answers it differently: refused, and the first tab catches up
    key = _ready_trial(page, "Clip 5 of 6")
    other = page.context.new_page()
    other.goto(server["url"] + "/")
    assert _ready_trial(other, "Clip 5 of 6") == key
    _choose(other, truth[key])
    _ready_trial(other, "Clip 6 of 6")
    other.close()
    _choose(page, next(c for c in ("right", "left", "up") if c != truth[key]))
    key = _ready_trial(page, "Clip 6 of 6")
    _choose(page, truth[key])

    _kind(page, "questionnaire")
    for name, value in [
        ("colour_vision_deficiency", "no"),
        ("short_sighted", "yes"),
        ("owns_glasses", "yes"),
        ("wearing_glasses", "yes"),
        ("sees_monitor_sharply", "yes"),
        ("familiarity_computer_vision", "4"),
        ("familiarity_action_recognition", "2"),
        ("difficulty_0", "1"),
        ("difficulty_1", "2"),
        ("difficulty_2", "3"),
    ]:
        page.check(f'input[name="{name}"][value="{value}"]')
    page.fill("#remarks", "The noise clips were hard.")
    shot("questionnaire")
    page.click("#submit")

    _kind(page, "thanks")
    assert "Thank you" in page.text_content("#thanks")
    shot("thanks")
    page.reload()  # stays at the end
    _kind(page, "thanks")

    # the same participant id in another browser profile cannot start again
    other = page.context.browser.new_context()
    second = other.new_page()
    second.goto(server["url"] + "/?PROLIFIC_PID=browser-test&STUDY_ID=st-1&SESSION_ID=se-2")
    second.wait_for_selector("#refused", timeout=15000)
    assert "already started" in second.text_content("#refused")
    other.close()

    # the admin dashboard
    page.goto(server["url"] + f"/admin#token={ADMIN}")
    page.wait_for_selector("table tbody tr")
    assert "browser-test" in page.text_content("table")
    shot("dashboard")
    assert page.errors == []

    # what was stored: every answer once, with its timing
    trials = store.all_trials()
    assert len(trials) == 18
    assert len({(t.phase_index, t.trial_index) for t in trials}) == 18
    test_rgb = [t for t in trials if t.phase_name == "test-rgb"]
    assert [t.trial_index for t in test_rgb] == list(range(6))
    assert test_rgb[0].rt_ms >= 400 and test_rgb[0].rt_ms < 10000
    assert test_rgb[0].fps == 25 and test_rgb[1].fps == 40
    assert all(t.frames_shown >= 1 and t.rt_ms > 0 for t in trials)
    assert sum(not t.correct for t in trials) == 1  # the one deliberate mistake
    assert {t.stimulus_key for t in test_rgb[:3]} == {key0, key1, key2}
    assert [t.response for t in test_rgb] == ["click"] * 3 + ["key"] * 2 + ["click"]
    assert all(t.correct and 0 < t.rt_ms < 10000 for t in test_rgb[3:5])
    afd = [t for t in trials if t.phase_name == "test-afd"]
    assert [t.trial_index for t in afd] == list(range(6))  # resent answers stored once
    assert afd[0].fps == 10 and all(t.modality == "afd" for t in afd)
    now = time.time() * 1000
    assert all(abs(t.client_ms - t.server_ms) < 60_000 and t.server_ms <= now for t in trials)
    (participant,) = store.all_participants()
    assert participant.external_id == "browser-test" and participant.completed_ms
    assert json.loads(participant.url_params) == {"SESSION_ID": "se-1", "STUDY_ID": "st-1"}
    assert len(store.all_questionnaires()) == 1
    rows = export_tables(store)["trials"].strip().splitlines()
    assert len(rows) == 19
    assert len(shot.taken) == 11


def test_browser_checks_refuse_a_small_window_and_count_no_one(tmp_path, study_stimuli, page):
    with _serve(tmp_path, study_stimuli, extra="[requirements]\nmin_width = 2000\n") as srv:
        page.goto(srv["url"] + "/?PROLIFIC_PID=small-window")
        page.wait_for_selector(".check-failed", timeout=15000)
        Shots(page, tmp_path / "shots", prefix="checks")("failed")
        text = page.text_content("main")
        assert "900 x 760" in text and "2000 x 0" in text
        assert srv["store"].all_participants() == []  # not counted
        assert page.errors == []


def _frame(page) -> int:
    return int(page.get_attribute("#stimulus", "data-frame"))


def test_fullscreen_is_required_and_exits_are_recorded(tmp_path, study_stimuli, page):
    extra = "[requirements]\nfullscreen = true\nmin_width = 400\nmin_refresh_hz = 20\n"
    with _serve(tmp_path, study_stimuli, extra=extra) as srv:
        store, truth = srv["store"], srv["truth"]
        page.goto(srv["url"] + "/?pid=fs")
        page.wait_for_selector("#fullscreen-gate", timeout=15000)
        assert "full screen" in page.text_content("#fullscreen-gate")
        page.click("#fullscreen")
        page.wait_for_selector("#fullscreen-gate", state="detached")
        assert page.evaluate("!!document.fullscreenElement")
        _kind(page, "consent")
        page.check("#agree")
        page.click("#consent")
        _kind(page, "instructions")
        page.click("#next")
        page.click("#next")
        _kind(page, "familiarisation")
        for _ in range(3):
            page.wait_for_selector("#stimulus[data-frame]")
            page.click("#next")
        _kind(page, "training")
        key = _ready_trial(page, "Clip 1 of 3")
        page.evaluate("document.exitFullscreen()")
        page.wait_for_selector("#fullscreen-gate", timeout=5000)
        assert "You left full screen" in page.text_content("#fullscreen-gate")
        held = _frame(page)
        page.wait_for_timeout(400)  # 10 frames at 25 fps: the clip is paused
        assert _frame(page) == held
        page.keyboard.press(str(CLASSES.index(truth[key]) + 1))  # keys do nothing meanwhile
        page.click("#fullscreen")
        page.wait_for_selector("#fullscreen-gate", state="detached")
        page.wait_for_function(
            "h => document.getElementById('stimulus').dataset.frame !== h", arg=str(held)
        )
        _choose(page, truth[key])
        page.wait_for_selector("#feedback:not(:empty)")
        events = [(e.kind, e.trial_index) for e in store.all_events()]
        assert events == [
            ("fullscreen_enter", None),
            ("fullscreen_exit", 0),
            ("fullscreen_enter", 0),
        ]
        (p,) = store.all_participants()
        info = json.loads(p.client_info)
        assert (info["width"], info["height"]) == (900, 760) and info["refresh_hz"] > 20
        (trial,) = store.all_trials()
        assert trial.correct  # the key pressed while paused was not taken as the answer
        assert page.errors == []


THESIS_CLASSES = ["right", "left", "up", "down", "still"]


@pytest.fixture(scope="module")
def thesis_stimuli(tmp_path_factory):
    """5 classes x 22 clips x (rgb, afd): enough for the thesis preset (4 + 18 per class).
    The demo has four motions; the fifth class ("still") reuses the "right" clips."""
    from motionlab.study.demo import make_demo_stimuli

    folder = tmp_path_factory.mktemp("thesis_stimuli")
    make_demo_stimuli(
        folder, classes=tuple(THESIS_CLASSES[:4]), per_class=22, frames=8, size=(64, 48)
    )
    for source in ("rgb", "afd"):
        shutil.copytree(folder / source / "right", folder / source / "still")
    return folder


def test_whole_thesis_study_in_chromium(tmp_path, thesis_stimuli, page):
    """The exact §4.3 protocol (preset = "thesis": 4 training + 18 test clips per class and
    modality, a five-minute rest) with what an online study adds: a Prolific link, keyboard
    answers only, one attention check per test phase, full screen with one exit, and the
    redirect back to the platform; then the export and the report."""
    from motionlab.study.analysis import load_from_db, write_report

    port = _free_port()
    root = thesis_stimuli.as_posix()
    config_path = tmp_path / "thesis.toml"
    config_path.write_text(
        f"""
[study]
title = "Thesis protocol"
classes = {json.dumps(THESIS_CLASSES)}
preset = "thesis"
completion_code = "C0DE42"
completion_url = "http://127.0.0.1:{port}/healthz?cc={{code}}"

[stimuli.rgb]
root = "{root}/rgb"
pattern = "{{class}}/*.mkv"

[stimuli.afd]
root = "{root}/afd"
pattern = "{{class}}/*.mkv"

[stimuli.catch]
root = "{root}/rgb"
pattern = "{{class}}/*.mkv"

[attention]
source = "catch"
per_test_phase = 1

[requirements]
fullscreen = true
min_width = 640
"""
    )
    with _serve(tmp_path, None, config_path=config_path, port=port) as srv:
        store, truth = srv["store"], srv["truth"]
        shot = Shots(page, tmp_path / "shots", prefix="thesis")
        page.goto(srv["url"] + "/?PROLIFIC_PID=thesis-1&STUDY_ID=st&SESSION_ID=se")
        page.wait_for_selector("#fullscreen-gate", timeout=20000)
        shot("fullscreen_gate")
        page.click("#fullscreen")
        page.wait_for_selector("#fullscreen-gate", state="detached")

        _kind(page, "instructions")  # (i) the slide show: no consent page in the exact protocol
        for _ in range(4):
            page.click("#next")

        def answer_all(n: int, *, feedback: bool, exit_at: int | None = None) -> None:
            for t in range(n):
                key = _ready_trial(page, f"Clip {t + 1} of {n}")
                if t == exit_at:
                    page.evaluate("document.exitFullscreen()")
                    page.wait_for_selector("#fullscreen-gate", timeout=5000)
                    shot("fullscreen_left")
                    page.click("#fullscreen")
                    page.wait_for_selector("#fullscreen-gate", state="detached")
                if t == 0 and feedback and not shot.taken[1:]:
                    shot("training_keys")
                page.keyboard.press(str(THESIS_CLASSES.index(truth[key]) + 1))
                if feedback:
                    page.wait_for_selector("#feedback:not(:empty)")
                    page.click("#next")

        _kind(page, "training")  # (ii) 20 RGB clips with the answer shown
        answer_all(20, feedback=True)
        _kind(page, "test")  # (iii) 90 RGB clips + 1 attention check, each looping
        answer_all(91, feedback=False, exit_at=30)
        _kind(page, "rest")  # (iv) five minutes: the server holds the participant there
        assert page.is_disabled("#next")
        with store.session() as s:  # let the five minutes pass
            log = s.scalars(select(PhaseLog).where(PhaseLog.phase_name == "rest")).one()
            log.started_ms -= 300_000
        page.reload()
        page.click("#fullscreen")  # a reload leaves full screen
        page.wait_for_selector("#next:not([disabled])", timeout=10000)
        page.click("#next")
        _kind(page, "training")  # (v) AFD training
        answer_all(20, feedback=True)
        _kind(page, "test")  # (vi) AFD test
        answer_all(91, feedback=False)
        _kind(page, "questionnaire")  # (vii)
        for name, value in [
            ("colour_vision_deficiency", "no"),
            ("short_sighted", "no"),
            ("owns_glasses", "no"),
            ("wearing_glasses", "no"),
            ("sees_monitor_sharply", "yes"),
            ("familiarity_computer_vision", "3"),
            ("familiarity_action_recognition", "3"),
            *[(f"difficulty_{i}", "2") for i in range(5)],
        ]:
            page.check(f'input[name="{name}"][value="{value}"]')
        page.click("#submit")
        _kind(page, "thanks")
        assert page.text_content("#code") == "C0DE42"
        page.wait_for_url("**/healthz?cc=C0DE42", timeout=10000)  # back to the platform

        trials = store.all_trials()
        assert len(trials) == 2 * (20 + 91)
        by_phase = Counter((t.phase_name, t.attention_check) for t in trials)
        assert by_phase == {
            ("training-rgb", False): 20,
            ("test-rgb", False): 90,
            ("test-rgb", True): 1,
            ("training-afd", False): 20,
            ("test-afd", False): 90,
            ("test-afd", True): 1,
        }
        assert all(t.response == "key" and t.correct for t in trials)
        assert [(e.kind, e.trial_index) for e in store.all_events()][1:3] == [
            ("fullscreen_exit", 30),
            ("fullscreen_enter", 30),
        ]
        (p,) = store.all_participants()
        assert p.external_id == "thesis-1" and p.completed_ms is not None
        assert json.loads(p.url_params) == {"SESSION_ID": "se", "STUDY_ID": "st"}
        plan = json.loads(p.plan)
        assert [ph["seconds"] for ph in plan["phases"] if ph["kind"] == "rest"] == [300]
        records, questionnaires = load_from_db(srv["store"].url)
        files = write_report(records, tmp_path / "report", questionnaires=questionnaires)
        report = files["markdown"].read_text()
        assert "0 of 1 participants with checks scored below" in report
        assert page.errors == []
