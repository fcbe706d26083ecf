"""``motionlab study ...`` run as a user would, and the analysis on hand-made numbers."""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="needs the study extra: pip install 'motionlab[study]'")
pytest.importorskip("matplotlib", reason="needs matplotlib (study extra)")

import httpx2

from motionlab.study.analysis import (
    TrialRecord,
    confusion,
    normalise_rows,
    read_trials,
    summarise,
    write_report,
)
from motionlab.study.export import TABLES, TRIAL_COLUMNS
from motionlab.study.server import pilot_token

from conftest import write_short_study


def run(*args, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "motionlab", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_simulate_export_report(tmp_path, study_stimuli):
    config = write_short_study(tmp_path, study_stimuli)
    res = run("study", "simulate", "--config", config, "--participants", "4", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "study.db").exists()  # the default database beside the config
    res = run("study", "export", "--config", config, "-o", "out", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    with open(tmp_path / "out" / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * 18 and tuple(rows[0]) == TRIAL_COLUMNS
    assert {r["modality"] for r in rows} == {"rgb", "afd"}
    assert {r["kind"] for r in rows} == {"training", "test"}
    assert all(r["server_time"].endswith("+00:00") for r in rows)
    prov = json.loads((tmp_path / "out" / "motionlab.json").read_text())  # provenance
    assert [Path(x["path"]).name for x in prov["inputs"]] == ["study.toml", "study.db"]
    assert prov["tables"] == sorted(TABLES) and "trials" in TABLES
    for name in ("questionnaires", "participants", "phases"):
        assert (tmp_path / "out" / f"{name}.csv").exists()
    preds = tmp_path / "preds.csv"
    preds.write_text("stimulus,truth,prediction,modality\na,up,up,afd\nb,left,up,afd\n")
    res = run(
        "study",
        "report",
        "--trials",
        "out/trials.csv",
        "--questionnaires",
        "out/questionnaires.csv",
        "--model-predictions",
        preds,
        "--config",
        config,
        "-o",
        "report",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    md = (tmp_path / "report" / "report.md").read_text()
    for fig in (
        "confusion.png",
        "rt_correct_wrong.png",
        "participants.png",
        "training_vs_test.png",
    ):
        assert f"]({fig})" in md
        assert (tmp_path / "report" / fig).stat().st_size > 5000
    assert "model, afd" in md and "Questionnaire" in md
    html = (tmp_path / "report" / "report.html").read_text()
    assert html.startswith("<!doctype html>") and '<img src="confusion.png"' in html
    # straight from the database gives the same tables
    res = run("study", "report", "--db", tmp_path / "study.db", "-o", "report2", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    md2 = (tmp_path / "report2" / "report.md").read_text()

    def section(text):
        return text.split("## Accuracy per modality")[1].split("## Accuracy per class")[0]

    assert section(md2) == section(md)
    assert "| afd |" in section(md) and "| rgb |" in section(md)


def test_cli_errors(tmp_path):
    res = run("study", "serve", "--config", tmp_path / "none.toml", cwd=tmp_path)
    assert res.returncode == 1 and "no such study config" in res.stderr
    res = run("study", "export", "-o", "x", cwd=tmp_path)
    assert res.returncode == 1 and "--db" in res.stderr
    res = run("study", "report", "--trials", tmp_path / "none.csv", "-o", "r", cwd=tmp_path)
    assert res.returncode == 1 and "no such file" in res.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    res = run("study", "report", "--trials", bad, "-o", "r", cwd=tmp_path)
    assert res.returncode == 1 and "not a trials export row" in res.stderr
    res = run("study", "--help", cwd=tmp_path)
    assert res.returncode == 0
    for command in ("serve", "export", "report", "demo", "simulate"):
        assert command in res.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_prints_links_and_runs(tmp_path, study_stimuli):
    config = write_short_study(tmp_path, study_stimuli)
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "motionlab",
            "study",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--db",
            str(tmp_path / "s.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = [proc.stdout.readline() for _ in range(5)]
        text = "".join(lines)
        assert f"participant: http://127.0.0.1:{port}/" in text
        token = re.search(r"admin token: (\S+)", text).group(1)
        assert f"/admin#token={token}" in text and len(token) >= 24
        assert f"pilot:       http://127.0.0.1:{port}/?pilot={pilot_token(token)}" in text
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while True:
            try:
                if httpx2.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        assert httpx2.get(base + "/").status_code == 200
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx2.get(base + "/api/admin/summary", headers=auth).json()["participants"] == 0
        # stimuli were prepared at start
        assert len(list((tmp_path / ".stimulus-cache").glob("*.png"))) == 36
    finally:
        proc.terminate()
        proc.wait(30)


def _trial(p, kind, modality, truth, choice, rt):
    return TrialRecord(
        p, f"{kind}-{modality}", kind, modality, "s", truth, choice, truth == choice, rt, 25.0, 1
    )


def test_measures_by_hand(tmp_path):
    classes = ["a", "b", "c"]
    m = confusion(["a", "a", "b", "c", "c", "c"], ["a", "b", "b", "c", "a", "x"], classes)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])  # 'x' is ignored
    np.testing.assert_allclose(normalise_rows(m)[0], [0.5, 0.5, 0])
    np.testing.assert_allclose(normalise_rows(np.zeros((2, 2)))[0], [0, 0])
    trials = [
        _trial("p1", "test", "rgb", "a", "a", 1000),
        _trial("p1", "test", "rgb", "b", "b", 1200),
        _trial("p1", "test", "afd", "a", "b", 3000),
        _trial("p1", "test", "afd", "b", "b", 2000),
        _trial("p2", "test", "rgb", "a", "a", 900),
        _trial("p2", "test", "rgb", "b", "a", 1500),
        _trial("p2", "test", "afd", "a", "a", 2500),
        _trial("p2", "test", "afd", "b", "b", 2100),
        _trial("p2", "training", "afd", "a", "b", 4000),
    ]
    s = summarise(trials, ["a", "b"])
    assert s.modalities == ["rgb", "afd"]  # in the order of the phases
    pooled, mean, sd, n = s.modality_accuracy["rgb"]
    assert (pooled, mean, n) == (0.75, 0.75, 2)
    assert sd == pytest.approx(np.std([1.0, 0.5], ddof=1))
    assert s.class_accuracy["afd"]["a"] == (0.5, 2)  # training answers are not counted
    assert s.rt_correct_wrong["afd"]["a"] == ([2500], [3000])
    assert s.participant_accuracy["p2"] == {"rgb": 0.5, "afd": 1.0}
    assert s.rt_by_kind[("training", "afd")] == [4000]
    files = write_report(trials, tmp_path / "r", classes=["a", "b"])
    assert "| rgb | 75.0 % | 75.0 % | 35.4 | 2 |" in files["markdown"].read_text()
    with pytest.raises(Exception, match="no trials"):
        summarise([])


def test_read_trials_roundtrip(tmp_path):
    path = tmp_path / "t.csv"
    row = {c: "" for c in TRIAL_COLUMNS}
    row.update(
        participant="p",
        phase="test-rgb",
        kind="test",
        modality="rgb",
        stimulus="s",
        truth="a",
        choice="a",
        correct="1",
        rt_ms="12.5",
        fps="25.0",
        loops="2",
    )
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, TRIAL_COLUMNS)
        w.writeheader()
        w.writerow(row)
    (t,) = read_trials(path)
    assert t.correct and t.rt_ms == 12.5 and t.loops == 2


def test_attention_check_exclusion_rule_by_hand():
    """Two participants; B misses one of two catch trials. Catch trials never count; with the
    rule at 1.0 B is excluded, at 0.5 B is kept."""
    from motionlab.study.analysis import TrialRecord, summarise

    def rec(p, truth, choice, check=False):
        return TrialRecord(
            p,
            "test-rgb",
            "test",
            "rgb",
            "s",
            truth,
            choice,
            truth == choice,
            900.0,
            25.0,
            1,
            attention_check=check,
        )

    trials = [
        rec("A", "x", "x"),
        rec("A", "y", "x"),
        rec("A", "x", "x", check=True),
        rec("B", "x", "x"),
        rec("B", "y", "y"),
        rec("B", "x", "y", check=True),
        rec("B", "y", "y", check=True),
    ]
    strict = summarise(trials, ["x", "y"])
    assert strict.excluded == ["B"] and strict.attention == {"A": (1.0, 1), "B": (0.5, 2)}
    assert strict.participants == ["A"] and strict.modality_accuracy["rgb"][0] == 0.5  # 1 of 2
    lenient = summarise(trials, ["x", "y"], min_attention=0.5)
    assert lenient.excluded == [] and lenient.modality_accuracy["rgb"][0] == 0.75  # 3 of 4
    assert lenient.n_trials == 4  # the three catch trials are not analysed
