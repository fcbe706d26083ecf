"""Load test of the study server on loopback: N simulated participants answer concurrently.

Starts ``motionlab study serve`` (uvicorn, one process) on a free 127.0.0.1 port over the
demo study (``motionlab study demo``: 4 classes, the thesis's protocol, 60 answers per
participant), then runs N participants at once, each in its own thread with its own HTTP
connection, from consent to thank-you with no think time (the worst case: every
participant answers the moment the previous answer is stored). Every trial POST is timed
on the client; at the end the answers in the database are counted and must equal N x 60.
Traffic goes to 127.0.0.1 only; the run is bounded (each participant does one study).

Usage::

    python benchmarks/study_load.py [--participants 50] [--db URL] [--think-ms 0]

``--db`` defaults to a fresh SQLite file; give ``postgresql+psycopg://...`` to load a
PostgreSQL server instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2
import numpy as np

from motionlab.study.config import load_config
from motionlab.study.demo import make_demo_study
from motionlab.study.simulate import attach_truth, simulate_participant, truth_map
from motionlab.study.stimuli import Catalogue
from motionlab.study.storage import Store

ADMIN = "load-test-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--participants", type=int, default=50)
    ap.add_argument("--db", help="SQLAlchemy URL (default: a new SQLite file)")
    ap.add_argument(
        "--think-scale",
        type=float,
        default=0.0,
        help="wait this times each simulated response time before answering (0: at once)",
    )
    ap.add_argument(
        "--fetch-stimuli", action="store_true", help="download every clip as a browser does"
    )
    ap.add_argument("--folder", type=Path, help="demo study folder (default: a temp folder)")
    args = ap.parse_args()
    if args.participants < 1 or args.participants > 500:
        ap.error("--participants must be 1..500")

    folder = args.folder or Path(tempfile.mkdtemp(prefix="study-load-"))
    config_path = folder / "study.toml"
    if not config_path.exists():
        make_demo_study(folder)
    db = args.db or f"sqlite:///{folder / f'load-{int(time.time())}.db'}"
    config = load_config(config_path)
    truth = truth_map(Catalogue(config, cache_dir=folder / ".stimulus-cache"))
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "motionlab",
        "-q",
        "study",
        "serve",
        "--config",
        str(config_path),
        "--db",
        db,
        "--port",
        str(port),
        "--rest-seconds",
        "0",
        "--admin-token",
        ADMIN,
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx2.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                print(server.stdout.read() if server.poll() is not None else "", file=sys.stderr)
                raise SystemExit("the server did not start")
            time.sleep(0.2)

        results, errors = [], []
        barrier = threading.Barrier(args.participants)

        def participant(k: int) -> None:
            with httpx2.Client(base_url=base, timeout=60) as client:
                attach_truth(client, truth)
                barrier.wait()
                try:
                    results.append(
                        simulate_participant(
                            client,
                            seed=1000 + k,
                            think_scale=args.think_scale,
                            fetch_stimuli=args.fetch_stimuli,
                        )
                    )
                except Exception as exc:
                    errors.append(repr(exc))

        threads = [
            threading.Thread(target=participant, args=(k,)) for k in range(args.participants)
        ]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
        server_cpu = cpu_seconds(server.pid)
    finally:
        server.terminate()
        server.wait(30)

    # count this run's participants only (a --db URL may hold earlier runs)
    mine = {r.participant for r in results}
    store = Store(db)
    ids = {p.id for p in store.all_participants() if p.public_id in mine}
    stored = sum(t.participant_id in ids for t in store.all_trials())
    completed = sum(p.completed_ms is not None and p.id in ids for p in store.all_participants())
    store.close()
    lat = np.array([x for r in results for x in r.latencies_ms])
    sent = sum(r.answers for r in results)
    mb = sum(r.bytes_fetched for r in results) / 1e6
    expected = args.participants * 60
    kind = db.split(":", 1)[0]
    print(
        "| participants | think | clips fetched | database | answers sent / stored / expected | "
        "completed | answer latency p50 / p95 / p99 / max (ms) | answers/s | "
        "server CPU ms / answer | wall (s) |"
    )
    print("|---:|---:|---:|---|---|---:|---|---:|---:|---:|")
    print(
        f"| {args.participants} | {args.think_scale:g} | {mb:.0f} MB | {kind} | {sent} / "
        f"{stored} / {expected} | {completed} | {np.percentile(lat, 50):.1f} / "
        f"{np.percentile(lat, 95):.1f} / {np.percentile(lat, 99):.1f} / {lat.max():.1f} | "
        f"{sent / wall:.0f} | {server_cpu * 1000 / max(1, sent):.1f} | {wall:.1f} |"
    )
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; errors: {len(errors)}"
    )
    for e in errors[:5]:
        print("  ", e)
    ok = not errors and stored == sent == expected and completed == args.participants
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
