"""Study commands never "work" on a missing config or database, and the CSV export keeps
any text a participant typed (CR, LF, quotes, commas, formulas, non-ASCII)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="needs the study extra: pip install 'motionlab[study]'")
pytest.importorskip("sqlalchemy", reason="needs the study extra: pip install 'motionlab[study]'")

from motionlab.cli import main
from motionlab.errors import MotionlabError
from motionlab.study.analysis import TrialRecord, load_from_db, write_report
from motionlab.study.export import TRIAL_COLUMNS, export_study, to_csv
from motionlab.study.storage import Store

# --------------------------------------------------------------------------------------
# defect 5: a missing config or database is refused, and nothing is created

TRIALS = ",".join(TRIAL_COLUMNS) + "\r\n"

MISSING = [
    (["export", "--config", "nosuch.toml", "-o", "e"], "nosuch.toml: no such study config"),
    (["export", "--db", "nosuch.db", "-o", "e"], "nosuch.db: no such study database"),
    (["export", "--db", "sqlite:///nosuch.db", "-o", "e"], "no such study database"),
    (["export", "--db", "sqlite://", "-o", "e"], "in-memory database holds no study"),
    (["export", "--db", "empty.db", "-o", "e"], "not a motionlab study database"),
    (["export", "--db", "text.db", "-o", "e"], "not SQLite"),
    (["report", "--config", "nosuch.toml", "-o", "e"], "nosuch.toml: no such study config"),
    (["report", "--db", "nosuch.db", "-o", "e"], "no such study database"),
    (["report", "--trials", "t.csv", "--config", "nosuch.toml", "-o", "e"], "no such study"),
    (["report", "--trials", "t.csv", "--questionnaires", "nosuch.csv", "-o", "e"], "no such file"),
    (["report", "--trials", "t.csv", "--model-predictions", "no.csv", "-o", "e"], "no such file"),
    (["report", "--trials", "e2", "-o", "e"], "e2: is a folder"),
    (["serve", "--config", "nosuch.toml", "--db", "nosuch.db"], "no such study config"),
    (["simulate", "--config", "nosuch.toml", "--db", "nosuch.db"], "no such study config"),
]


@pytest.mark.parametrize(("argv", "match"), MISSING, ids=[" ".join(a) for a, _ in MISSING])
def test_missing_config_or_database_is_refused(argv, match, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.csv").write_text(TRIALS)
    (tmp_path / "empty.db").write_bytes(b"")
    (tmp_path / "text.db").write_text("[study]\ntitle = 'not a database'\n" * 20)
    (tmp_path / "e2").mkdir()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert main(["-q", "study", *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("motionlab: error: "), err
    assert match in err, err
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before  # no database made, no input touched
    assert not (tmp_path / "e").exists()  # and no output


def test_readers_never_create_a_database(tmp_path):
    with pytest.raises(MotionlabError, match="no such study database"):
        export_study(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "out")
    with pytest.raises(MotionlabError, match="no such study database"):
        load_from_db(f"sqlite:///{tmp_path / 'x.db'}")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------
# defect 6 (CSV): text round-trips through the export, formulas are neutralised

REMARKS = [
    "a lone\rcarriage return",
    "two\nlines",
    "windows\r\nline end",
    'quotes "inside", and a comma',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2",
    "@SUM(A1:A2)",
    "\tstarts with a tab",
    "\rstarts with a CR",
    "Grüße, naïve – 漢字 ✓ 🙂",
    "",
    "plain",
]


def _expected(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def test_to_csv_round_trips_any_text():
    rows = [{"id": i, "text": t} for i, t in enumerate(REMARKS)]
    text = to_csv(("id", "text"), rows)
    assert text.endswith("\r\n")
    back = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["text"] for r in back] == [_expected(t) for t in REMARKS]
    assert [r["id"] for r in back] == [str(i) for i in range(len(REMARKS))]


def _study_with_remarks(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    store = Store(url)
    plan = {"phases": [{"name": "consent"}]}
    for i, remark in enumerate(REMARKS):
        new = store.create_participant(seed=i, plan=plan, user_agent=remark)
        store.save_questionnaire(
            new.participant.id,
            {
                "colour_vision_deficiency": "no",
                "short_sighted": "no",
                "owns_glasses": "no",
                "wearing_glasses": "no",
                "sees_monitor_sharply": "yes",
                "familiarity_computer_vision": 3,
                "familiarity_action_recognition": 3,
                "difficulty": '{"up": 1}',
                "remarks": remark,
            },
        )
    store.close()
    return url


def test_export_keeps_remarks_and_user_agents(tmp_path):
    url = _study_with_remarks(tmp_path)
    paths = export_study(url, tmp_path / "out")
    with open(paths["questionnaires"], newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["remarks"] for r in rows] == [_expected(t) for t in REMARKS]
    with open(paths["participants"], newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["user_agent"] for r in rows] == [_expected(t) for t in REMARKS]
    # every record ends in CRLF; a CR or LF inside a cell is always within quotes
    raw = paths["questionnaires"].read_bytes()
    assert raw.endswith(b"\r\n") and raw.count(b"\r\n") >= len(REMARKS) + 1


def test_report_keeps_remarks_on_one_line(tmp_path):
    url = _study_with_remarks(tmp_path)
    _, questionnaires = load_from_db(url)
    assert len(questionnaires) == len(REMARKS)
    trials = [
        TrialRecord("p", "test-afd", "test", "afd", "s", t, "up", t == "up", 900.0, 25.0, 1)
        for t in ("up", "down")
    ]
    files = write_report(trials, tmp_path / "report", questionnaires=questionnaires)
    md = files["markdown"].read_text(encoding="utf-8")
    line = next(x for x in md.split("\n") if x.startswith("Remarks: "))
    assert "\r" not in line and "a lone carriage return" in line and "two lines" in line
    assert "Grüße, naïve – 漢字 ✓ 🙂" in line
    assert "&quot;inside&quot;, and a comma" in files["html"].read_text(encoding="utf-8")


def test_report_into_the_export_folder_is_allowed(tmp_path, monkeypatch, capsys):
    """An input inside the output folder at a name the report does not write is fine."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "e").mkdir()
    base = {c: "" for c in TRIAL_COLUMNS} | {"participant": "p", "phase": "test-afd"}
    base |= {"kind": "test", "modality": "afd", "stimulus": "s", "choice": "up"}
    base |= {"rt_ms": 900, "fps": 25, "loops": 1}
    rows = [base | {"truth": t, "correct": int(t == "up")} for t in ("up", "down")]
    (tmp_path / "e" / "trials.csv").write_text(to_csv(TRIAL_COLUMNS, rows), newline="")
    assert main(["-q", "study", "report", "--trials", "e/trials.csv", "-o", "e"]) == 0
    assert (tmp_path / "e" / "report.md").is_file() and (tmp_path / "e" / "trials.csv").is_file()
    assert main(["-q", "study", "report", "--trials", "e/report.md", "-o", "e"]) == 1
    assert "would overwrite the input e/report.md" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# the server answers only to its own host names


@pytest.fixture
def hosted(tmp_path, study_stimuli):
    from fastapi.testclient import TestClient

    from motionlab.study.config import load_config
    from motionlab.study.server import create_app
    from motionlab.study.stimuli import Catalogue

    from conftest import write_short_study

    config = load_config(write_short_study(tmp_path, study_stimuli))
    store = Store(f"sqlite:///{tmp_path / 'study.db'}")
    app = create_app(
        config,
        store,
        Catalogue(config, cache_dir=tmp_path / "cache"),
        admin_token="admin-token-for-the-tests-0123456789",
        allowed_hosts=["study.example.org", "*.lab.example.org", "127.0.0.1", "::1"],
    )
    with TestClient(app, base_url="http://study.example.org") as client:
        yield client, store
    store.close()


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("study.example.org", 200),
        ("Study.Example.org:8000", 200),
        ("a.lab.example.org", 200),
        ("127.0.0.1:8000", 200),
        ("[::1]:8000", 200),
        ("evil.example.com", 400),
        ("study.example.org.evil.com", 400),
        ("lab.example.org", 400),  # '*.lab...' is for sub-domains only
        ("", 400),
    ],
)
def test_only_allowed_hosts_are_served(hosted, host, status):
    client, store = hosted
    res = client.post("/api/session", json={}, headers={"Host": host})
    assert res.status_code == status, res.text
    assert len(store.all_participants()) == (1 if status == 200 else 0)  # refused: no session
    if status == 400:
        assert res.headers["x-frame-options"] == "DENY"  # the guard's headers are still set


def test_default_allowed_hosts():
    from motionlab.study.server import default_allowed_hosts

    assert default_allowed_hosts("127.0.0.1") == ["127.0.0.1", "::1", "localhost"]
    assert default_allowed_hosts("10.1.2.3", "https://Study.Example.org/x") == [
        "10.1.2.3",
        "study.example.org",
    ]
    wildcard = default_allowed_hosts("0.0.0.0")
    assert {"localhost", "127.0.0.1"} <= set(wildcard) and "0.0.0.0" not in wildcard
