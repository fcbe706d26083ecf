"""50 simulated participants take a short study at the same time against the server under
uvicorn on loopback; every answer is counted in the database (the full-size run with
latencies is ``benchmarks/study_load.py``, reported in docs/benchmarks.md)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="needs the study extra: pip install 'motionlab[study]'")
pytest.importorskip("uvicorn", reason="needs the study extra: pip install 'motionlab[study]'")

import httpx2
import uvicorn

from motionlab.study.config import load_config
from motionlab.study.server import create_app
from motionlab.study.simulate import attach_truth, simulate_participant, truth_map
from motionlab.study.stimuli import Catalogue
from motionlab.study.storage import Store

from conftest import write_short_study

N = 50


def test_fifty_concurrent_participants(tmp_path, study_stimuli):
    config = load_config(write_short_study(tmp_path, study_stimuli))
    store = Store(f"sqlite:///{tmp_path / 'load.db'}")
    catalogue = Catalogue(config, cache_dir=tmp_path / "cache")
    app = create_app(config, store, catalogue, admin_token="load-test-admin-token-012345")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        assert time.time() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    truth = truth_map(catalogue)
    results, errors = [], []
    barrier = threading.Barrier(N)

    def participant(k: int) -> None:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            attach_truth(client, truth)
            barrier.wait()
            try:
                results.append(simulate_participant(client, seed=k, duplicate_every=5))
            except Exception as exc:  # reported below
                errors.append(repr(exc))

    try:
        threads = [threading.Thread(target=participant, args=(k,)) for k in range(N)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(300)
    finally:
        server.should_exit = True
        thread.join(10)
    assert errors == []
    assert len(results) == N and all(r.answers == 18 for r in results)
    assert store.count_trials() == N * 18  # every answer stored, the resent ones once
    participants = store.all_participants()
    assert len(participants) == N and all(p.completed_ms for p in participants)
    assert len(store.all_questionnaires()) == N
    store.close()
