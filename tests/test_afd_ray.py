"""afd-dataset on a Ray cluster (``ray start --head``, on 127.0.0.1 only): the same bytes
as the local backend.

The cluster follows ../shared/RECIPES.md: usage stats off, cloud metadata probes sent to a
closed port through a proxy, no dashboard, and every Ray process bound to 127.0.0.1
(``--node-ip-address``); the test checks that no socket of the cluster, its workers or the
driver has a non-loopback address, and stops the cluster (by its process ids) at the end.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from motionlab.afd.dataset import FAILURES, MANIFEST
from motionlab.jobs import ray_safe_environment
from motionlab.video import probe, write_video
from test_afd_dataset import REPO, _descendants, _survivors, make_dataset

from conftest import ctrl_c_as_in_a_terminal

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc to check the cluster's sockets"
)


def _free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _socket_inodes(pids: list[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            for fd in os.scandir(f"/proc/{pid}/fd"):
                target = os.readlink(fd.path)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:  # gone meanwhile
            continue
    return inodes


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address of /proc/net/tcp{,6}: 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def _socket_addresses(pids: list[int]) -> list[str]:
    """The local addresses of the TCP/UDP sockets of ``pids``, with ``LOOPBACK`` or
    ``ELSEWHERE`` in front: a socket listening on 0.0.0.0 is ``ELSEWHERE``, as is a
    connection to another machine."""
    inodes = _socket_inodes(pids)
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[9] in inodes:
                ip = _address(fields[1].split(":")[0])
                found.append(f"{'LOOPBACK' if _is_loopback(ip) else 'ELSEWHERE'} {table} {ip}")
    return found


def _is_loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def test_proc_net_addresses_are_read_right():
    assert _address("0100007F") == ipaddress.ip_address("127.0.0.1")
    assert _address("0000000000000000FFFF00000100007F") == ipaddress.ip_address(
        "::ffff:127.0.0.1"
    )
    assert _is_loopback(_address("0000000000000000FFFF00000100007F"))
    assert not _is_loopback(_address("00000000"))  # 0.0.0.0: every interface
    assert not _is_loopback(_address("0500000A"))  # 10.0.0.5


def _ray_command(*args: str) -> list[str]:
    """The ``ray`` command line tool of the Ray that this Python imports."""
    return [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; main()", *args]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[tuple[str, dict[str, str], int]]:
    """A one-node Ray cluster on 127.0.0.1 (``ray start --head --block``); yields its
    address, the environment to run motionlab with, and the ``ray start`` process id."""
    ray = pytest.importorskip("ray", reason="the optional 'ray' extra is not installed")
    port = _free_loopback_port()
    temp = tempfile.mkdtemp(prefix="ray")  # short: Ray's socket paths must be < 108 bytes
    env = dict(os.environ, **ray_safe_environment())
    path = [str(REPO / "src"), str(Path(ray.__file__).parents[1])]  # for the Ray workers
    env["PYTHONPATH"] = os.pathsep.join([*path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    log = open(Path(temp) / "ray-start.log", "w")  # noqa: SIM115 - closed at teardown
    start = [
        *("start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}"),
        *("--include-dashboard=false", "--disable-usage-stats", "--num-cpus=2"),
        *(f"--object-store-memory={200 * 1024**2}", f"--temp-dir={temp}"),
    ]
    proc = subprocess.Popen(
        _ray_command(*start),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not (Path(temp) / "ray_current_cluster").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start failed: {(Path(temp) / 'ray-start.log').read_text()}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}", env, proc.pid
    finally:
        processes = [proc.pid, *_descendants(proc.pid)]
        proc.send_signal(signal.SIGTERM)  # ray start --block stops what it started
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        leftover = _survivors(processes, time.monotonic() + 5)  # killed if any
        log.close()
        shutil.rmtree(temp, ignore_errors=True)
        assert leftover == [], f"Ray processes outlived the cluster: {leftover}"


def _afd_dataset(src: Path, dst: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "motionlab", "-q", "afd-dataset", str(src), str(dst), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )


def _without_run_fields(path: Path) -> dict[str, object]:
    """A provenance sidecar without what differs from run to run (time, command line)."""
    record = json.loads(path.read_text())
    for key in ("created", "command"):
        record.pop(key, None)
    return record


def test_afd_dataset_on_a_ray_cluster_gives_the_local_bytes(ray_cluster, tmp_path):
    address, env, head = ray_cluster
    src = make_dataset(tmp_path)
    cluster = [head, *_descendants(head)]
    assert len(cluster) >= 3  # GCS, raylet, agents
    sockets = _socket_addresses(cluster)
    assert sockets and all(s.startswith("LOOPBACK") for s in sockets), sockets
    local = _afd_dataset(src, tmp_path / "local", env, "--workers", "2")
    _, local_err = local.communicate(timeout=300)
    dst = tmp_path / "ray"
    run = _afd_dataset(src, dst, env, "--address", address)
    seen: set[str] = set()
    while run.poll() is None:  # the driver, its Ray workers and the cluster: loopback only
        seen.update(_socket_addresses([run.pid, *_descendants(head)]))
        time.sleep(0.05)
    _, err = run.communicate(timeout=300)
    assert seen and all(s.startswith("LOOPBACK") for s in seen), seen
    # the corrupt video fails on both, with the same closing line
    assert local.returncode == run.returncode == 1, err
    assert err.strip().splitlines()[-1] == (
        f"motionlab: error: 1 of 5 videos failed, see {dst / FAILURES}"
    )
    assert local_err.strip().splitlines()[-1].endswith(f"see {tmp_path / 'local' / FAILURES}")
    files = sorted(p.relative_to(dst) for p in dst.rglob("*") if p.is_file())
    assert files == sorted(
        p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*") if p.is_file()
    )
    videos = [rel for rel in files if rel.suffix == ".avi"]
    assert len(videos) == 4
    for rel in files:
        mine, theirs = dst / rel, tmp_path / "local" / rel
        if rel.name.endswith(".motionlab.json"):
            assert _without_run_fields(mine) == _without_run_fields(theirs)
        elif rel.name == MANIFEST:
            assert mine.read_text().split('"seconds"')[0] == theirs.read_text().split(
                '"seconds"'
            )[0]
        else:  # the AFD videos, the failures list, the split files
            assert mine.read_bytes() == theirs.read_bytes(), rel
    assert "v_Lunges_g02_c01.avi" in (dst / FAILURES).read_text()


def test_no_cluster_at_the_address_fails_at_once(tmp_path):
    """One line, in a second (Ray's own client would retry for minutes), nothing made."""
    src = make_dataset(tmp_path)
    closed = _free_loopback_port()  # nothing listens there now
    start = time.monotonic()
    run = _afd_dataset(src, tmp_path / "dst", dict(os.environ, PYTHONPATH=str(REPO / "src")),
                       "--address", f"127.0.0.1:{closed}")  # fmt: skip
    _, err = run.communicate(timeout=60)
    assert time.monotonic() - start < 20
    assert run.returncode == 1
    assert err.strip().splitlines() == [
        f"motionlab: error: no Ray cluster at 127.0.0.1:{closed} (Connection refused); "
        "start one with `ray start --head` or check the address"
    ]
    assert not (tmp_path / "dst").exists()
    local = _afd_dataset(src, tmp_path / "dst", os.environ | {"PYTHONPATH": str(REPO / "src")},
                         "--executor", "local", "--address", "10.0.0.1:6379")  # fmt: skip
    _, err = local.communicate(timeout=60)
    assert local.returncode == 1
    assert err.strip() == "motionlab: error: a Ray cluster address needs executor 'ray'"


def test_ctrl_c_on_a_cluster_stops_at_once_and_a_rerun_resumes(ray_cluster, tmp_path):
    """SIGINT to the command: its tasks are cancelled (their writers remove their files),
    it exits with status 130 within 2 s; the cluster lives on, and a rerun makes the rest
    and skips what was finished (as on the local backend)."""
    address, env, _ = ray_cluster
    src = tmp_path / "src"
    rng = np.random.default_rng(0)
    for i in range(6):  # ~0.5 s each: a panning noise texture, 160x120, 80 frames
        texture = rng.integers(0, 256, (200, 240, 3), np.uint8)
        path = src / "A" / f"v{i}.avi"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, (texture[t : t + 120, t : t + 160] for t in range(80)), fps=25)
    dst = tmp_path / "dst"
    run = _afd_dataset(src, dst, env, "--address", address, "--workers", "2")
    deadline = time.monotonic() + 120
    while not (list(dst.rglob(".*.tmp-*")) and list(dst.rglob("v*.avi"))):
        assert run.poll() is None, run.communicate()[1]
        assert time.monotonic() < deadline, "no video finished within 120 s"
        time.sleep(0.01)
    sent = time.monotonic()
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=30)
    stopped = time.monotonic() - sent
    assert run.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    assert stopped < 2.0, f"ran on for {stopped:.1f} s"
    time.sleep(0.5)  # a cancelled task that was still closing its writer
    assert list(dst.rglob(".*.tmp-*")) == []
    made = sorted(dst.rglob("v*.avi"))
    assert 1 <= len(made) < 6
    assert all(probe(p).num_frames == 80 for p in made)
    stamps = {p: p.stat().st_mtime_ns for p in made}
    rerun = _afd_dataset(src, dst, env, "--address", address)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert {p: p.stat().st_mtime_ns for p in made} == stamps  # not made again
    assert len(sorted(dst.rglob("v*.avi"))) == 6 and list(dst.rglob(".*.tmp-*")) == []
