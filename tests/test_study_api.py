"""The study server's API through FastAPI's TestClient: a whole study, resuming, idempotent
answers, and hostile requests (bad tokens, other participants' stimuli, path traversal,
malformed bodies, duplicates): always a 4xx, never a 500."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import uuid

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="needs the study extra: pip install 'motionlab[study]'")
pytest.importorskip("sqlalchemy", reason="needs the study extra: pip install 'motionlab[study]'")

from fastapi.testclient import TestClient
from sqlalchemy import select

from motionlab.errors import MotionlabError
from motionlab.study.config import load_config
from motionlab.study.export import export_tables
from motionlab.study.server import MAX_BODY, create_app
from motionlab.study.simulate import simulate_participant, truth_map
from motionlab.study.stimuli import Catalogue
from motionlab.study.storage import Participant, Store

from conftest import write_short_study

ADMIN = "admin-token-for-the-tests-0123456789"
QUESTIONNAIRE = {
    "colour_vision_deficiency": "no",
    "short_sighted": "yes",
    "owns_glasses": "yes",
    "wearing_glasses": "yes",
    "sees_monitor_sharply": "yes",
    "familiarity_computer_vision": 4,
    "familiarity_action_recognition": 2,
    "difficulty": {"right": 1, "left": 2, "up": 3},
    "remarks": '=HYPERLINK("x") and <script>alert(1)</script>',
}


@pytest.fixture
def study(tmp_path, study_stimuli):
    config = load_config(write_short_study(tmp_path, study_stimuli, rest=0))
    store = Store(f"sqlite:///{tmp_path / 'study.db'}")
    catalogue = Catalogue(config, cache_dir=tmp_path / "cache")
    app = create_app(config, store, catalogue, admin_token=ADMIN)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.store, client.catalogue, client.config = store, catalogue, config
        client.truth = truth_map(catalogue)
        client.db_url = f"sqlite:///{tmp_path / 'study.db'}"
        yield client
    store.close()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start(client) -> tuple[dict[str, str], dict]:
    res = client.post("/api/session", json={})
    assert res.status_code == 200, res.text
    headers = auth(res.json()["token"])
    return headers, client.get("/api/state", headers=headers).json()


def answer(client, headers, state, t, *, choice=None, **extra):
    item = state["phase"]["items"][t]
    body = {
        "phase_index": state["phase_index"],
        "trial_index": t,
        "stimulus": item["stimulus"],
        "choice": choice or client.truth[item["stimulus"]],
        "rt_ms": 812.5,
        "loops": 1,
        "frames_shown": 21,
        "fps": 25,
        "client_ms": int(time.time() * 1000),
        "submission_id": uuid.uuid4().hex,
    }
    body.update(extra)
    return client.post("/api/trials", json=body, headers=headers), body


def to_kind(client, headers, state, kind):
    """Advance (consenting, answering correctly) until the current phase is ``kind``."""
    while state["phase"]["kind"] != kind:
        i = state["phase_index"]
        k = state["phase"]["kind"]
        if k == "consent":
            res = client.post(
                "/api/consent", json={"phase_index": i, "agree": True}, headers=headers
            )
        elif k == "questionnaire":
            res = client.post("/api/questionnaire", json=QUESTIONNAIRE, headers=headers)
        else:
            if k in ("training", "test"):
                for t in range(state["phase"]["answered"], len(state["phase"]["items"])):
                    assert answer(client, headers, state, t)[0].status_code == 200
            res = client.post("/api/advance", json={"phase_index": i}, headers=headers)
        assert res.status_code == 200, res.text
        state = res.json()
    return state


def test_whole_study_and_export(study):
    headers, state = start(study)
    assert state["phase"]["kind"] == "consent" and state["phase_index"] == 0
    assert [p["kind"] for p in state["phases"]][-1] == "thanks"
    state = to_kind(study, headers, state, "familiarisation")
    assert [i["label"] for i in state["phase"]["items"]] == ["right", "left", "up"]
    state = to_kind(study, headers, state, "training")
    # training: the truth comes back after the answer, never before
    assert all(set(i) == {"stimulus"} for i in state["phase"]["items"])
    res, _ = answer(study, headers, state, 0, choice="up")
    assert res.status_code == 200
    truth = study.truth[state["phase"]["items"][0]["stimulus"]]
    assert res.json()["truth"] == truth and res.json()["correct"] == (truth == "up")
    state = to_kind(study, headers, study.get("/api/state", headers=headers).json(), "test")
    res, _ = answer(study, headers, state, 0)
    assert "truth" not in res.json() and "correct" not in res.json()  # no feedback in tests
    state = to_kind(study, headers, study.get("/api/state", headers=headers).json(), "thanks")
    trials = study.store.all_trials()
    assert len(trials) == 18  # 3 + 6 rgb, 3 + 6 afd
    keys = {(t.phase_index, t.trial_index) for t in trials}
    assert len(keys) == 18
    assert {t.modality for t in trials} == {"rgb", "afd"}
    assert all(t.truth == study.truth[t.stimulus_key] for t in trials)
    tables = export_tables(study.store)
    rows = tables["trials"].strip().splitlines()
    assert len(rows) == 19 and rows[0].startswith("participant,external_id,seed,")
    assert "'=HYPERLINK" in tables["questionnaires"]  # a formula is not run by a spreadsheet
    p = study.store.all_participants()[0]
    assert p.completed_ms is not None and p.consent_ms is not None
    assert json.loads(p.plan)["seed"] == p.seed  # the randomisation is recorded
    # admin views
    summary = study.get("/api/admin/summary", headers=auth(ADMIN)).json()
    assert summary["trials"] == 18 and summary["completed"] == 1
    csv = study.get("/api/admin/export/trials.csv", headers=auth(ADMIN))
    assert csv.status_code == 200 and csv.text == tables["trials"]
    assert csv.headers["content-type"].startswith("text/csv")


def test_resume_after_reload_and_restart(study, tmp_path):
    headers, state = start(study)
    state = to_kind(study, headers, state, "test")
    for t in range(2):
        assert answer(study, headers, state, t)[0].status_code == 200
    # a reload: the same token gives the same phase, the same order, the next trial
    again = study.get("/api/state", headers=headers).json()
    assert again["phase_index"] == state["phase_index"]
    assert again["phase"]["items"] == state["phase"]["items"]
    assert again["phase"]["answered"] == 2
    # a server restart on the same database: nothing lost
    app = create_app(study.config, Store(study.db_url), study.catalogue, admin_token=ADMIN)
    with TestClient(app) as client2:
        resumed = client2.get("/api/state", headers=headers).json()
    assert resumed["phase"] == again["phase"]


def test_duplicate_answers_are_stored_once(study):
    headers, state = start(study)
    state = to_kind(study, headers, state, "test")
    res, body = answer(study, headers, state, 0)
    assert res.json()["duplicate"] is False
    again = study.post("/api/trials", json=body, headers=headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    # a resend with another submission id or time is still the same answer
    body2 = {**body, "submission_id": uuid.uuid4().hex, "rt_ms": 999.0}
    assert study.post("/api/trials", json=body2, headers=headers).json()["duplicate"] is True
    # a different answer to a stored trial is refused
    other = next(c for c in study.config.classes if c != body["choice"])
    res = study.post("/api/trials", json={**body, "choice": other}, headers=headers)
    assert res.status_code == 409
    rows = study.store.answered(study.store.all_participants()[0].id, state["phase_index"])
    assert len(rows) == 1 and rows[0].rt_ms == 812.5 and rows[0].choice == body["choice"]


def test_concurrent_resends_store_one_row(study):
    headers, state = start(study)
    state = to_kind(study, headers, state, "test")
    _, body = answer(study, headers, state, 0)
    body = {**body, "trial_index": 1, "stimulus": state["phase"]["items"][1]["stimulus"]}
    codes = []

    def send():
        codes.append(study.post("/api/trials", json=body, headers=headers).status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert codes == [200] * 8
    rows = study.store.answered(study.store.all_participants()[0].id, state["phase_index"])
    assert [r.trial_index for r in rows] == [0, 1]


def test_order_of_phases_and_trials_is_enforced(study):
    headers, state = start(study)
    i = state["phase_index"]
    # no consent, no progress
    assert study.post("/api/advance", json={"phase_index": i}, headers=headers).status_code == 409
    res = study.post("/api/consent", json={"phase_index": i, "agree": False}, headers=headers)
    assert res.status_code == 422
    # leaving a later phase, or answering ahead, is refused
    assert study.post("/api/advance", json={"phase_index": 5}, headers=headers).status_code == 409
    assert study.post("/api/questionnaire", json=QUESTIONNAIRE, headers=headers).status_code == 409
    state = to_kind(study, headers, state, "training")
    res, _ = answer(study, headers, state, 1)
    assert res.status_code == 409  # trial 0 first
    assert answer(study, headers, state, 0)[0].status_code == 200
    res = study.post("/api/advance", json={"phase_index": state["phase_index"]}, headers=headers)
    assert res.status_code == 409 and "1 of 3" in res.text
    # advancing twice from the same phase is idempotent
    state = to_kind(study, headers, study.get("/api/state", headers=headers).json(), "test")
    i = state["phase_index"] - 1
    res = study.post("/api/advance", json={"phase_index": i}, headers=headers)
    assert res.status_code == 200 and res.json()["phase_index"] == i + 1
    # answering an earlier phase's next trial is refused
    res = study.post(
        "/api/trials",
        headers=headers,
        json={
            "phase_index": state["phase_index"] + 3,
            "trial_index": 0,
            "stimulus": "0" * 20,
            "choice": "up",
            "rt_ms": 1,
            "loops": 0,
            "frames_shown": 1,
            "fps": 25,
            "client_ms": 1,
            "submission_id": "abcdefgh",
        },
    )
    assert res.status_code == 422


def test_rest_cannot_be_skipped(tmp_path, study_stimuli):
    config = load_config(write_short_study(tmp_path, study_stimuli, rest=60))
    store = Store(f"sqlite:///{tmp_path / 'rest.db'}")
    app = create_app(config, store, Catalogue(config, cache_dir=tmp_path / "c"), admin_token=ADMIN)
    with TestClient(app) as client:
        client.truth = truth_map(app.state.study.catalogue)
        headers, state = start(client)
        state = to_kind(client, headers, state, "rest")
        assert 55_000 < state["phase"]["remaining_ms"] <= 60_000
        res = client.post(
            "/api/advance", json={"phase_index": state["phase_index"]}, headers=headers
        )
        assert res.status_code == 409 and "rest" in res.text
        # a reload does not restart the countdown
        time.sleep(0.3)
        again = client.get("/api/state", headers=headers).json()
        assert again["phase"]["remaining_ms"] < state["phase"]["remaining_ms"]


def test_tokens(study):
    headers, _ = start(study)
    for bad in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer " + "x" * 43},
        {"Authorization": ("Bearer " + "é" * 3000).encode("latin-1")},
    ):
        res = study.get("/api/state", headers=bad)
        assert res.status_code == 401, (bad, res.status_code)
    # the admin token is no participant, a participant is no admin
    assert study.get("/api/state", headers=auth(ADMIN)).status_code == 403
    for path in ("/api/admin/summary", "/api/admin/export/trials.csv"):
        assert study.get(path, headers=headers).status_code == 403
        assert study.get(path).status_code == 401
        assert study.get(path, headers=auth(ADMIN[:-1])).status_code == 403
    assert study.get("/api/admin/export/secrets.csv", headers=auth(ADMIN)).status_code == 404
    # tokens are unguessable and stored hashed
    tokens = {study.post("/api/session", json={}).json()["token"] for _ in range(20)}
    assert len(tokens) == 20 and all(len(t) >= 40 for t in tokens)
    stored = {p.token_hash for p in study.store.all_participants()}
    assert not tokens & stored


def test_participants_only_reach_their_own_plan(study):
    a, state_a = start(study)
    b, state_b = start(study)
    state_a = to_kind(study, a, state_a, "test")
    state_b = to_kind(study, b, state_b, "test")
    pa, pb = study.store.all_participants()
    mine = {i["stimulus"] for ph in pa.plan_dict()["phases"] for i in ph["items"]}
    theirs = {i["stimulus"] for ph in pb.plan_dict()["phases"] for i in ph["items"]}
    assert state_a["phase_index"] == state_b["phase_index"]
    only_b = sorted(theirs - mine)
    # different participants get different clips (all 24 of B's among A's 24 of 36 clips:
    # probability (1/15)^6)
    assert only_b
    key = only_b[0]
    assert study.get(f"/api/stimuli/{key}.png", headers=b).status_code == 200
    assert study.get(f"/api/stimuli/{key}.png", headers=a).status_code == 404
    assert study.get(f"/api/stimuli/{key}.json", headers=a).status_code == 404
    # A cannot answer with B's stimulus, and B's answers are not A's
    res, _ = answer(study, a, state_a, 0, stimulus=key)
    assert res.status_code == 422
    assert answer(study, b, state_b, 0)[0].status_code == 200
    assert answer(study, a, state_a, 0)[0].status_code == 200
    assert study.get("/api/state", headers=a).json()["phase"]["answered"] == 1
    pids = {t.participant_id for t in study.store.all_trials()}
    assert len(pids) == 2


@pytest.mark.parametrize(
    "path",
    [
        "/api/stimuli/../../../../etc/passwd.png",
        "/api/stimuli/..%2F..%2F..%2Fetc%2Fpasswd.png",
        "/api/stimuli/%2e%2e%2f%2e%2e%2fetc%2fpasswd.json",
        "/api/stimuli/rgb%2Fright%2Fclip00.mkv.png",
        "/api/stimuli/AAAAAAAAAAAAAAAAAAAA.png",
        "/api/stimuli/0000000000000000000g.png",
        "/api/stimuli/" + "a" * 5000 + ".png",
        "/static/../server.py",
        "/static/..%2Fserver.py",
        "/static/%2e%2e%2fserver.py",
        "/static/index.html/../../config.py",
        "/static/app.js%00.png",
        "/../../etc/passwd",
    ],
)
def test_no_path_traversal(study, path):
    headers, _ = start(study)
    res = study.get(path, headers=headers)
    assert res.status_code in (404, 400, 405, 422), (path, res.status_code)
    assert b"root:" not in res.content and b"import" not in res.content


def test_static_files_and_headers(study):
    res = study.get("/")
    assert res.status_code == 200 and "app.js" in res.text
    assert "default-src 'self'" in res.headers["content-security-policy"]
    assert res.headers["x-content-type-options"] == "nosniff"
    assert study.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert study.get("/admin").status_code == 200
    assert study.get("/healthz").json()["stimuli"] == 36


def _valid_trial(study, headers):
    """The current test phase and a valid, unsent answer to its first trial."""
    state = to_kind(study, headers, study.get("/api/state", headers=headers).json(), "test")
    item = state["phase"]["items"][0]
    return state, {
        "phase_index": state["phase_index"],
        "trial_index": 0,
        "stimulus": item["stimulus"],
        "choice": "up",
        "rt_ms": 1.0,
        "loops": 0,
        "frames_shown": 1,
        "fps": 25,
        "client_ms": 1,
        "submission_id": "abcdefgh",
    }


@pytest.mark.parametrize(
    "change",
    [
        {"choice": "jump"},
        {"choice": ""},
        {"choice": "x" * 65},
        {"choice": 3},
        {"rt_ms": -1},
        {"rt_ms": "fast"},
        {"rt_ms": 1e300},
        {"fps": 5},
        {"fps": 41},
        {"fps": 0},
        {"loops": -1},
        {"loops": 1.5},
        {"trial_index": -1},
        {"trial_index": 10**9},
        {"phase_index": 99},
        {"stimulus": "../../etc/passwd"},
        {"submission_id": "short"},
        {"submission_id": "a b c d e f g h"},
        {"client_ms": -5},
        {"extra": "field"},
        {"correct": True},
    ],
)
def test_invalid_trial_fields_are_refused(study, change):
    headers, _ = start(study)
    state, body = _valid_trial(study, headers)
    body = {**body, **change, "trial_index": change.get("trial_index", 0)}
    res = study.post("/api/trials", json=body, headers=headers)
    assert 400 <= res.status_code < 500, (change, res.status_code)
    assert study.store.answered(study.store.all_participants()[0].id, state["phase_index"]) == []


def test_malformed_bodies_are_4xx(study):
    headers, _ = start(study)
    raw = {**headers, "Content-Type": "application/json"}
    endpoints = [
        "/api/session",
        "/api/consent",
        "/api/advance",
        "/api/trials",
        "/api/questionnaire",
    ]
    rng = np.random.default_rng(0)
    bodies = [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"text"',
        b"1e999",
        b'{"phase_index": NaN}',
        b'{"phase_index": Infinity, "agree": true}',
        b'{"phase_index": "0"}',
        b'{"phase_index": 0, "agree": "yes"}',
        b"\xff\xfe\x00garbage",
        json.dumps({"rt_ms": float("nan")}).encode(),
        b'{"a":' * 5000,
        rng.integers(0, 256, 2000, dtype=np.uint8).tobytes(),
        json.dumps({"difficulty": {"right": 9}}).encode(),
    ]
    for path in endpoints:
        for body in bodies:
            res = study.post(path, content=body, headers=raw)
            # /api/session accepts an empty body or null (no external id)
            ok = path == "/api/session" and body in (b"", b"null")
            assert ok or 400 <= res.status_code < 500, (path, body[:30], res.status_code)
    # oversized bodies
    big = b'{"remarks": "' + b"x" * (MAX_BODY + 10) + b'"}'
    res = study.post("/api/questionnaire", content=big, headers=raw)
    assert res.status_code == 413
    res = study.post("/api/questionnaire", content=iter([big]), headers=raw)  # chunked
    assert 400 <= res.status_code < 500
    # wrong methods, unknown paths
    assert study.get("/api/trials", headers=headers).status_code == 405
    assert study.delete("/api/state", headers=headers).status_code == 405
    assert study.get("/api/nothing", headers=headers).status_code == 404
    assert study.post("/api/session", json={"external_id": "<script>"}).status_code == 422
    assert study.post("/api/session", json={"external_id": "prolific-5f3a"}).status_code == 200


def test_questionnaire_validation_and_once_only(study):
    headers, state = start(study)
    state = to_kind(study, headers, state, "questionnaire")
    for change in (
        {"difficulty": {"right": 1}},
        {"difficulty": {"right": 1, "left": 1, "up": 4}},
        {"familiarity_computer_vision": 6},
        {"owns_glasses": "maybe"},
        {"remarks": "x" * 4001},
        {"difficulty": {"right": 1, "left": 1, "x": 1}},
    ):
        res = study.post("/api/questionnaire", json={**QUESTIONNAIRE, **change}, headers=headers)
        assert res.status_code == 422, change
    res = study.post("/api/questionnaire", json=QUESTIONNAIRE, headers=headers)
    assert res.status_code == 200 and res.json()["phase"]["kind"] == "thanks"
    res = study.post(
        "/api/questionnaire", json={**QUESTIONNAIRE, "remarks": "changed"}, headers=headers
    )
    assert res.status_code == 200 and res.json()["duplicate"] is True
    rows = study.store.all_questionnaires()
    assert len(rows) == 1 and rows[0].remarks == QUESTIONNAIRE["remarks"]
    assert json.loads(rows[0].difficulty) == QUESTIONNAIRE["difficulty"]
    # the end is the end
    assert (
        study.post(
            "/api/advance", json={"phase_index": state["phase_index"] + 1}, headers=headers
        ).status_code
        == 409
    )


def test_simulated_participants(study):
    results = [simulate_participant(study, seed=s, duplicate_every=4) for s in range(3)]
    assert [r.answers for r in results] == [18, 18, 18]
    assert study.store.count_trials() == 54
    assert len({r.participant for r in results}) == 3
    fetched = simulate_participant(study, seed=9, fetch_stimuli=True)
    assert fetched.bytes_fetched > 18 * 64 * 48 * 3  # every clip's sheet, 8 frames of noise


def test_phase_view_says_whether_clips_loop(tmp_path, study_stimuli):
    """Thesis §4.3: each test video repeats until answered; the page learns it from the view."""
    path = write_short_study(tmp_path, study_stimuli, rest=0)
    text = path.read_text()
    first_test = text.index('kind = "test"')
    path.write_text(text[:first_test] + "loop = false\n" + text[first_test:])
    config = load_config(path)
    store = Store(f"sqlite:///{tmp_path / 'loop.db'}")
    app = create_app(config, store, Catalogue(config, cache_dir=tmp_path / "c"), admin_token=ADMIN)
    with TestClient(app) as client:
        client.truth = truth_map(Catalogue(config, cache_dir=tmp_path / "c"))
        headers, state = start(client)
        state = to_kind(client, headers, state, "training")
        assert state["phase"]["loop"] is True
        state = to_kind(client, headers, state, "test")
        assert state["phase"]["loop"] is False
    store.close()


def test_key_responses_are_stored_and_exported(study):
    headers, state = start(study)
    assert state["study"]["keys"] == ["1", "2", "3"]
    state = to_kind(study, headers, state, "training")
    res, _ = answer(study, headers, state, 0, response="key")
    assert res.status_code == 200, res.text
    res, _ = answer(study, headers, state, 1)
    assert res.status_code == 200, res.text
    res, _ = answer(study, headers, state, 2, response="voice")
    assert res.status_code == 422
    assert [t.response for t in study.store.all_trials()] == ["key", "click"]
    rows = list(csv.DictReader(io.StringIO(export_tables(study.store)["trials"])))
    assert [r["response"] for r in rows] == ["key", "click"]


def test_database_of_an_older_version_gains_the_response_column(tmp_path):
    """A study started before answers recorded their input keeps its rows and goes on."""
    import sqlalchemy

    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url).close()
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("ALTER TABLE trials DROP COLUMN response"))
        cols = [r[1] for r in conn.execute(sqlalchemy.text("PRAGMA table_info(trials)"))]
    engine.dispose()
    assert "response" not in cols
    store = Store(url)
    try:
        assert store.all_trials() == []  # the query names the column: it must exist again
    finally:
        store.close()


def test_recruitment_link_parameters_and_one_start_per_id(study):
    """Prolific links carry PROLIFIC_PID, STUDY_ID and SESSION_ID: the id starts once, the
    rest is stored with the participant and exported."""
    body = {"external_id": "5f0c1d2e3a", "url_params": {"STUDY_ID": "s-1", "SESSION_ID": "x.9"}}
    assert study.post("/api/session", json=body).status_code == 200
    again = study.post("/api/session", json=body)
    assert again.status_code == 409 and "already started" in again.text
    assert study.post("/api/session", json={}).status_code == 200  # no id: no limit
    assert study.post("/api/session", json={}).status_code == 200
    for bad in (
        {"url_params": {"STUDY_ID": "<script>"}},
        {"url_params": {"1x": "a"}},
        {"url_params": {f"K{i}": "v" for i in range(17)}},
        {"url_params": {"STUDY_ID": 5}},
    ):
        assert study.post("/api/session", json=bad).status_code == 422, bad
    rows = list(csv.DictReader(io.StringIO(export_tables(study.store)["participants"])))
    assert len(rows) == 3
    (prolific,) = [r for r in rows if r["external_id"] == "5f0c1d2e3a"]
    assert json.loads(prolific["url_params"]) == {"SESSION_ID": "x.9", "STUDY_ID": "s-1"}


def test_completion_url_carries_the_code(tmp_path, study_stimuli):
    config, store, catalogue = _limited_app(
        tmp_path,
        study_stimuli,
        [
            'completion_code = "C0 DE"',
            'completion_url = "https://app.example.org/submissions/complete?cc={code}"',
        ],
    )
    with TestClient(create_app(config, store, catalogue, admin_token=ADMIN)) as client:
        client.truth = truth_map(catalogue)
        headers, state = start(client)
        state = to_kind(client, headers, state, "thanks")
        assert state["phase"]["completion_code"] == "C0 DE"
        assert state["phase"]["completion_url"] == (
            "https://app.example.org/submissions/complete?cc=C0%20DE"
        )
    store.close()


def _study_with(tmp_path, study_stimuli, old, new):
    """The short study with ``old`` replaced by ``new`` in its TOML: (config, store, catalogue)."""
    path = write_short_study(tmp_path, study_stimuli, rest=0)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    config = load_config(path)
    store = Store(f"sqlite:///{tmp_path / 'edited.db'}")
    return config, store, Catalogue(config, cache_dir=tmp_path / "c")


def _limited_app(tmp_path, study_stimuli, lines):
    title = 'title = "Short test study"'
    return _study_with(tmp_path, study_stimuli, title, title + "\n" + "\n".join(lines))


def test_sessions_expire(tmp_path, study_stimuli):
    config, store, catalogue = _limited_app(tmp_path, study_stimuli, ["expire_minutes = 30"])
    with TestClient(create_app(config, store, catalogue, admin_token=ADMIN)) as client:
        headers, _ = start(client)
        assert client.get("/api/state", headers=headers).status_code == 200
        with store.session() as s:  # the session started 31 minutes ago
            p = s.scalars(select(Participant)).one()
            p.created_ms -= 31 * 60_000
        res = client.get("/api/state", headers=headers)
        assert res.status_code == 410 and "expired" in res.text
        assert (
            client.post("/api/advance", json={"phase_index": 0}, headers=headers).status_code == 410
        )
        summary = client.get("/api/admin/summary", headers=auth(ADMIN)).json()
        assert (summary["expired"], summary["in_progress"]) == (1, 0)
        with store.session() as s:  # 29 minutes: still running
            p = s.scalars(select(Participant)).one()
            p.created_ms += 2 * 60_000
        assert client.get("/api/state", headers=headers).status_code == 200
    store.close()


def test_study_closes_after_n_complete_participants(tmp_path, study_stimuli):
    config, store, catalogue = _limited_app(tmp_path, study_stimuli, ["max_participants = 1"])
    with TestClient(create_app(config, store, catalogue, admin_token=ADMIN)) as client:
        client.truth = truth_map(catalogue)
        headers, state = start(client)
        other, _ = start(client)  # a second participant under way may still finish
        to_kind(client, headers, state, "thanks")
        summary = client.get("/api/admin/summary", headers=auth(ADMIN)).json()
        assert (summary["completed"], summary["in_progress"], summary["open"]) == (1, 1, False)
        res = client.post("/api/session", json={})
        assert res.status_code == 403 and "closed" in res.text
        assert client.get("/api/state", headers=other).status_code == 200
    store.close()


def test_pilot_link_runs_a_short_study_marked_as_pilot(study, tmp_path):
    from motionlab.study.analysis import _records, read_csv_text, summarise
    from motionlab.study.server import pilot_token

    assert study.post("/api/session", json={"pilot": "0" * 32}).status_code == 403
    res = study.post("/api/session", json={"pilot": pilot_token(ADMIN)})
    assert res.status_code == 200, res.text
    headers = auth(res.json()["token"])
    state = study.get("/api/state", headers=headers).json()
    assert state["pilot"] is True
    state = to_kind(study, headers, state, "test")
    assert len(state["phase"]["items"]) == 3  # one per class (the full study has 2 per class)
    to_kind(study, headers, state, "thanks")
    summary = study.get("/api/admin/summary", headers=auth(ADMIN)).json()
    assert summary["pilot"] == 1
    rows = read_csv_text(export_tables(study.store)["trials"])
    assert rows and all(r["pilot"] == "1" for r in rows)
    trials = _records(rows, "trials.csv")
    with pytest.raises(MotionlabError, match="only pilot answers"):
        summarise(trials)
    assert summarise(trials, include_pilot=True).n_trials == len(rows)


def test_attention_checks_are_stored_flagged_and_exclude(tmp_path, study_stimuli):
    config, store, catalogue = _study_with(
        tmp_path,
        study_stimuli,
        "[stimuli.afd]",
        f'[stimuli.catch]\nroot = "{study_stimuli.as_posix()}/rgb"\npattern = "{{class}}/*.mkv"\n\n'
        '[attention]\nsource = "catch"\nper_test_phase = 1\n\n[stimuli.afd]',
    )
    with TestClient(create_app(config, store, catalogue, admin_token=ADMIN)) as client:
        client.truth = truth_map(catalogue)
        headers, state = start(client)
        state = to_kind(client, headers, state, "test")
        assert len(state["phase"]["items"]) == 3 * 2 + 1  # the catch clip is not marked
        # answer the catch trial wrong, everything else right
        plan = store.participant(1).plan_dict()
        phase = plan["phases"][state["phase_index"]]
        for t, item in enumerate(phase["items"]):
            wrong = next(c for c in ("right", "left", "up") if c != item["truth"])
            choice = wrong if item.get("attention_check") else item["truth"]
            assert answer(client, headers, state, t, choice=choice)[0].status_code == 200
        summary = client.get("/api/admin/summary", headers=auth(ADMIN)).json()
        assert summary["excluded"] == 1 and summary["rows"][0]["attention"] == 0.0
    rows = list(csv.DictReader(io.StringIO(export_tables(store)["trials"])))
    flagged = [r for r in rows if r["attention_check"] == "1"]
    assert len(flagged) == 1 and flagged[0]["correct"] == "0"
    assert flagged[0]["stimulus"].startswith("catch/")
    store.close()


def test_rate_limiter_by_hand():
    """burst 2, 1 token/s: two at once, then one per second; the wait is what is missing."""
    from motionlab.study.server import RateLimiter

    lim = RateLimiter(burst=2, per_second=1.0)
    assert [lim.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 1.0]
    assert lim.take("a", 0.5) == 0.5  # half a token back
    assert lim.take("a", 1.0) == 0.0  # a whole one now
    assert lim.take("b", 1.0) == 0.0  # keys are separate
    assert lim.take("a", 100.0) == 0.0 and lim.take("a", 100.0) == 0.0  # refilled to the burst only
    assert lim.take("a", 100.0) == 1.0


def test_sessions_and_answers_are_rate_limited(tmp_path, study_stimuli):
    from motionlab.study.server import RateLimits

    config = load_config(write_short_study(tmp_path, study_stimuli, rest=0))
    store = Store(f"sqlite:///{tmp_path / 'rl.db'}")
    catalogue = Catalogue(config, cache_dir=tmp_path / "c")
    limits = RateLimits(
        sessions_burst=3, sessions_per_minute=1, answers_burst=2, answers_per_second=0.01
    )
    app = create_app(config, store, catalogue, admin_token=ADMIN, limits=limits)
    with TestClient(app) as client, TestClient(app, client=("other-client", 1)) as other:
        client.truth = truth_map(catalogue)
        assert [client.post("/api/session", json={}).status_code for _ in range(3)] == [200] * 3
        res = client.post("/api/session", json={})
        assert res.status_code == 429 and int(res.headers["retry-after"]) >= 1
        assert other.post("/api/session", json={}).status_code == 200  # another address
        tok = other.post("/api/session", json={}).json()["token"]
        headers = auth(tok)
        state = to_kind(
            client, headers, client.get("/api/state", headers=headers).json(), "training"
        )
        assert answer(client, headers, state, 0)[0].status_code == 200
        assert answer(client, headers, state, 1)[0].status_code == 200
        res, _ = answer(client, headers, state, 2)
        assert res.status_code == 429 and "too many answers" in res.text
    assert len(store.all_participants()) == 5
    store.close()


def test_requirements_are_checked_and_events_exported(tmp_path, study_stimuli):
    path = write_short_study(tmp_path, study_stimuli, rest=0)
    text = path.read_text()
    cut = text.index("[[phases]]")
    req = (
        "[requirements]\nmin_width = 800\nmin_height = 600\nmin_refresh_hz = 50\n"
        "fullscreen = true\n\n"
    )
    path.write_text(text[:cut] + req + text[cut:])
    config = load_config(path)
    store = Store(f"sqlite:///{tmp_path / 'req.db'}")
    app = create_app(config, store, Catalogue(config, cache_dir=tmp_path / "c"), admin_token=ADMIN)
    good = {"width": 1280, "height": 800, "refresh_hz": 59.9, "webgl": False}
    with TestClient(app) as client:
        info = client.get("/api/study").json()  # before any session: no token needed
        assert info["requirements"] == {
            "min_width": 800,
            "min_height": 600,
            "min_refresh_hz": 50.0,
            "webgl": False,
            "fullscreen": True,
        }
        for client_info, why in (
            (None, "did not run"),
            ({**good, "width": 640}, "640x800"),
            ({**good, "refresh_hz": 30.0}, "about 30 times"),
        ):
            res = client.post(
                "/api/session", json={"client_info": client_info} if client_info else {}
            )
            assert res.status_code == 422 and why in res.text, res.text
        assert store.all_participants() == []  # failed checks are not counted
        res = client.post("/api/session", json={"client_info": good})
        assert res.status_code == 200, res.text
        headers = auth(res.json()["token"])
        event = {"kind": "fullscreen_exit", "phase_index": 0, "trial_index": None, "client_ms": 1}
        assert client.post("/api/events", json=event, headers=headers).status_code == 200
        assert (
            client.post(
                "/api/events", json={**event, "phase_index": 3}, headers=headers
            ).status_code
            == 409
        )
        assert (
            client.post("/api/events", json={**event, "kind": "blur"}, headers=headers).status_code
            == 422
        )
        summary = client.get("/api/admin/summary", headers=auth(ADMIN)).json()
        assert summary["rows"][0]["fullscreen_exits"] == 1
    tables = export_tables(store)
    (row,) = list(csv.DictReader(io.StringIO(tables["participants"])))
    assert row["fullscreen_exits"] == "1" and json.loads(row["client_info"])["width"] == 1280
    (ev,) = list(csv.DictReader(io.StringIO(tables["events"])))
    assert ev["kind"] == "fullscreen_exit" and ev["phase_index"] == "0" and ev["trial_index"] == ""
    store.close()


def test_events_come_back_in_the_order_they_happened(tmp_path):
    """A retried or overtaken request stores an event late: the log (and events.csv)
    follows the browser's clock, arrival order only breaking ties."""
    store = Store(f"sqlite:///{tmp_path / 'ev.db'}")
    plan = {"phases": [{"name": "consent", "kind": "consent"}]}
    pid = store.create_participant(seed=1, plan=plan).participant.id
    for kind, client_ms in (("fullscreen_enter", 5000), ("fullscreen_exit", 4000),
                            ("fullscreen_enter", 4000)):  # fmt: skip
        store.add_event(pid, kind, phase_index=0, trial_index=3, client_ms=client_ms)
    got = [(e.kind, e.client_ms) for e in store.all_events()]
    assert got == [("fullscreen_exit", 4000), ("fullscreen_enter", 4000),
                   ("fullscreen_enter", 5000)]  # fmt: skip
    store.close()
