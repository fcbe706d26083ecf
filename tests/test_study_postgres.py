"""The study's storage on a real PostgreSQL server, started for this module from Debian's
PostgreSQL binaries (``/usr/lib/postgresql/<version>/bin``, package ``postgresql``) in a
throwaway folder on a free loopback port. Skipped, with the reason, where the binaries,
the ``postgres`` user (initdb refuses to run as root) or the psycopg driver are missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="needs the study extra: pip install 'motionlab[study]'")
pytest.importorskip("psycopg", reason="needs psycopg: pip install 'motionlab[study]'")

from fastapi.testclient import TestClient

from motionlab.study.config import load_config
from motionlab.study.export import export_tables
from motionlab.study.server import create_app
from motionlab.study.simulate import simulate_participant
from motionlab.study.stimuli import Catalogue
from motionlab.study.storage import Conflict, Store

from conftest import write_short_study


def _pg_bin() -> Path | None:
    env = os.environ.get("MOTIONLAB_PG_BIN")
    candidates = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_url():
    """A fresh PostgreSQL cluster for this module; yields its SQLAlchemy URL."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("needs PostgreSQL server binaries: apt-get install -y postgresql")
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root needs the 'postgres' user (apt-get install postgresql)")
        prefix = ["runuser", "-u", "postgres", "--"]
    data, sock = tempfile.mkdtemp(prefix="mlpg-data-"), tempfile.mkdtemp(prefix="mlpg-sock-")
    if as_root:
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
    os.chmod(data, 0o700)
    port = _free_port()

    def run(*args: str) -> None:
        res = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            pytest.skip(f"could not start PostgreSQL ({args[0]}): {res.stderr.strip()[-300:]}")

    try:
        run(
            str(bindir / "initdb"),
            "-D",
            data,
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        run(
            str(bindir / "pg_ctl"),
            "-D",
            data,
            "-l",
            f"{sock}/pg.log",
            "-w",
            "-o",
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(sock, ignore_errors=True)


@pytest.fixture
def pg_store(pg_url):
    from motionlab.study.storage import Base

    store = Store(pg_url)
    yield store
    Base.metadata.drop_all(store.engine)  # each test starts empty
    store.close()


def _trial_fields(**changes):
    fields = {
        "phase_index": 0,
        "phase_name": "test-rgb",
        "phase_kind": "test",
        "modality": "rgb",
        "trial_index": 0,
        "stimulus": "rgb/up/clip00.mkv",
        "stimulus_key": "a" * 20,
        "truth": "up",
        "choice": "up",
        "correct": True,
        "rt_ms": 1234.5,
        "loops": 2,
        "frames_shown": 40,
        "fps": 25.0,
        "client_ms": 1_700_000_000_000,
        "submission_id": uuid.uuid4().hex,
    }
    fields.update(changes)
    return fields


def test_concurrent_duplicates_store_one_row(pg_store):
    plan = {"seed": 1, "phases": [{"name": "test-rgb"}, {"name": "thanks"}]}
    p = pg_store.create_participant(seed=1, plan=plan).participant
    fields = _trial_fields()
    results, errors = [], []
    barrier = threading.Barrier(12)

    def send():
        barrier.wait()
        try:
            results.append(pg_store.record_trial(p.id, **fields))
        except Exception as exc:  # pragma: no cover - would fail the test below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sum(not dup for _, dup in results) == 1  # one stored it, eleven saw the duplicate
    assert {row.id for row, _ in results} == {results[0][0].id}
    assert pg_store.count_trials() == 1
    with pytest.raises(Conflict):
        pg_store.record_trial(p.id, **{**fields, "choice": "left"})
    with pytest.raises(Conflict):
        pg_store.record_trial(p.id, **{**fields, "trial_index": 5})
    # phase changes are compare-and-set: two tabs cannot skip a phase
    names = ["test-rgb", "thanks"]
    assert pg_store.advance(p.id, 0, phase_names=names) == 1
    assert pg_store.advance(p.id, 0, phase_names=names) == 1
    assert pg_store.participant(p.id).completed_ms is not None


def test_whole_study_on_postgres(pg_store, tmp_path, study_stimuli):
    config = load_config(write_short_study(tmp_path, study_stimuli, rest=0))
    app = create_app(
        config,
        pg_store,
        Catalogue(config, cache_dir=tmp_path / "c"),
        admin_token="postgres-test-admin-token",
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        results = [simulate_participant(client, seed=s, duplicate_every=3) for s in range(4)]
    assert [r.answers for r in results] == [18] * 4
    assert pg_store.count_trials() == 72
    participants = pg_store.all_participants()
    assert all(p.completed_ms for p in participants)
    assert all(0 <= p.seed < 2**63 and p.plan_dict()["seed"] == p.seed for p in participants)
    tables = export_tables(pg_store)
    assert len(tables["trials"].strip().splitlines()) == 73
    assert len(tables["questionnaires"].strip().splitlines()) == 5
