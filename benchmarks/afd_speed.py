"""End-to-end speed and peak memory of appearance-free video making, as Markdown tables.

Each configuration runs in a fresh subprocess: decode an H.264 input, estimate flow, make
the noise, encode losslessly (the library path behind ``motionlab afd``), timed from
opening the input to closing the output, after a warm-up (imports and the compiled noise
kernels loaded).
Peak memory is the subprocess's maximum resident set size (``ru_maxrss``); "base" is its
size before the video is opened.

**The floor** is the minimal PyAV path, with no motionlab code: decode the same H.264 input
to numpy ``rgb24`` arrays and encode them as raw ``bgr24`` ``.avi`` (what ``motionlab afd``
writes), one process (:func:`pyav_floor`). No AFD job can be faster. It is measured paired
with ``motionlab afd`` (defaults, ``.avi``), interleaved, ``--repeat`` times; the ratio of
each pair is reported (their median), so that a busy machine slows both alike, and so is
the CPU time per frame (user + system, all threads of the process), which other programs
on a busy machine change much less than the wall clock. The
"motionlab reader -> writer" rows decode and encode through motionlab's VideoReader and
VideoWriter (no AFD): the cost of our own I/O layer over the floor.

**Per-stage profile** (``--profile``): ``motionlab afd``'s pipeline (decode and flow in a
background thread, the noise in the main thread, encoding in a writer thread) with each
stage timed per frame: decode, flow, noise, encode, and the waits: the main thread waiting
for decoded frames with their flow, and for room in the writer's queue; the writer
waiting for frames.

**Workers** (``--workers-videos N``): ``afd-dataset`` on N videos with 1 and 2 worker
processes, interleaved: frames/s, the speed-up, and the CPU time per frame (the command
and its workers), whose inverse times 2 is the frame rate a quiet 2-core machine allows
at best.

Inputs are made once in a temporary folder from DAVIS ``dance-twirl`` (real motion; the
synthetic scene when ../shared is absent), resized and looped to the wanted length.

Usage::

    python benchmarks/afd_speed.py [--frames 150] [--quick] [--repeat 3] [--profile]
        [--workers-videos 4] [--no-table]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

SHARED = Path(__file__).resolve().parents[2] / "shared"
DAVIS = SHARED / "data" / "davis2016" / "JPEGImages" / "480p" / "dance-twirl"


def make_input(path: Path, size: tuple[int, int], frames: int, offset: int = 0) -> None:
    from motionlab.synthetic import sample_video_frames
    from motionlab.video import list_frame_files, read_image, write_video

    if DAVIS.exists():
        src = [read_image(p) for p in list_frame_files(DAVIS)]
        src = src + src[::-1]  # ping-pong loop: no jump at the seam
    else:
        src = list(sample_video_frames(60, size=(854, 480)))
    seq = (
        cv2.resize(src[(i + offset) % len(src)], size, interpolation=cv2.INTER_AREA)
        for i in range(frames)
    )
    write_video(path, seq, fps=25, crf=18)


def _cpu() -> float:
    """CPU seconds (user + system) of this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pyav_floor(source: str, output: str) -> int:
    """The floor: decode H.264 -> (H, W, 3) uint8 rgb24 arrays -> raw bgr24 .avi, with
    PyAV alone (as motionlab's reader and writer convert); return the frame count."""
    import av

    n = 0
    with av.open(source) as src, av.open(output, "w") as dst:
        stream = src.streams.video[0]
        stream.thread_type = "AUTO"
        out = dst.add_stream("rawvideo", rate=stream.average_rate)
        out.pix_fmt = "bgr24"
        out.width, out.height = stream.width, stream.height
        for frame in src.decode(stream):
            array = frame.to_ndarray(format="rgb24")
            for packet in out.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                dst.mux(packet)
            n += 1
        for packet in out.encode(None):
            dst.mux(packet)
    return n


THREAD_CPU: dict[str, float] = {}  # CPU seconds of finished Python threads, per name


def _count_thread_cpu() -> None:
    """From now on, every Python thread adds its CPU time to :data:`THREAD_CPU` when it
    ends, and (Linux) carries its name in the OS, for :func:`_native_thread_cpu`."""
    import ctypes
    import threading

    try:
        prctl = ctypes.CDLL(None).prctl
    except (OSError, AttributeError):
        prctl = None
    run = threading.Thread.run

    def counted_run(self: threading.Thread) -> None:
        if prctl is not None:
            prctl(15, self.name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
        c0 = time.thread_time()
        try:
            run(self)
        finally:
            name = self.name.split("_")[0]  # executor threads: prefix_0, prefix_1, ...
            THREAD_CPU[name] = THREAD_CPU.get(name, 0.0) + time.thread_time() - c0

    threading.Thread.run = counted_run  # type: ignore[method-assign]


def _native_thread_cpu() -> float:
    """CPU seconds so far of FFmpeg's decoder threads of this process (Linux /proc)."""
    tasks = Path("/proc/self/task")
    total = 0.0
    if tasks.is_dir():
        for task in tasks.iterdir():
            try:
                if (task / "comm").read_text().startswith("av:"):
                    stat = (task / "stat").read_text().rsplit(")", 1)[1].split()
                    total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
            except OSError:  # the thread ended meanwhile
                continue
    return total


def run_profile(spec: dict) -> dict:
    """``motionlab afd`` (defaults, raw .avi) with every stage timed; seconds per stage, and
    CPU seconds per frame of each thread."""
    import threading

    _count_thread_cpu()

    import motionlab.afd.make as afd_module
    from motionlab.afd import AFDConfig, afd_steps
    from motionlab.flow import get_estimator
    from motionlab.pipeline import prefetch, write_in_background
    from motionlab.synthetic import sample_video_frames
    from motionlab.video import VideoReader, VideoWriter

    spent: dict[str, float] = {}  # wall seconds per stage
    cpu: dict[str, float] = {}  # CPU seconds of the calling thread per stage
    clock, thread_clock = time.perf_counter, time.thread_time

    def add(key: str, t0: float, c0: float) -> None:
        spent[key] = spent.get(key, 0.0) + clock() - t0
        cpu[key] = cpu.get(key, 0.0) + thread_clock() - c0

    def timed_iter(items, key):  # time spent in next(), in the consuming thread
        it = iter(items)
        while True:
            t0, c0 = clock(), thread_clock()
            try:
                item = next(it)
            except StopIteration:
                return
            add(key, t0, c0)
            yield item

    def timed(fn, key):
        def call(*args, **kwargs):
            t0, c0 = clock(), thread_clock()
            try:
                return fn(*args, **kwargs)
            finally:
                add(key, t0, c0)

        return call

    config = AFDConfig()
    est = get_estimator(config.flow_method, **config.resolved_flow_options)
    for _ in afd_steps(sample_video_frames(3, size=(64, 64)), config=config, estimator=est):
        pass  # warm-up
    THREAD_CPU.clear()
    est._estimate_batch = timed(est._estimate_batch, "flow")  # in the producer thread
    # the main thread's waits for the producer (decode + flow), inside afd_steps
    afd_module.prefetch = lambda items, **kw: timed_iter(prefetch(items, **kw), "wait_frames")
    writer_busy = {}
    out = Path(spec["out"])
    try:
        t0 = clock()
        main0 = time.thread_time()
        with VideoReader(spec["input"]) as reader:
            n = 0
            with VideoWriter(out, fps=reader.rate, codec="raw") as writer:
                write = timed(writer.write, "encode")

                def write_and_note(frame):
                    writer_busy.setdefault("thread", threading.current_thread().name)
                    writer_busy.setdefault("start", clock())
                    write(frame)
                    writer_busy["end"] = clock()

                with write_in_background(write_and_note) as put:
                    put = timed(put, "wait_queue")
                    steps = afd_steps(timed_iter(reader, "decode"), config=config, estimator=est)
                    for step in timed_iter(steps, "steps"):
                        put(step.afd)
                        n += 1
                decoders = _native_thread_cpu()  # while the decoder threads live
            wall = clock() - t0
    finally:
        afd_module.prefetch = prefetch
    out.unlink()
    # main thread: next(steps) = waits for the producer + the noise step; decode: the
    # producer's next() on the reader (its flow calls are not inside it)
    for d in (spent, cpu):
        d["noise"] = d.pop("steps") - d.get("wait_frames", 0.0)
    spent["writer_idle"] = (writer_busy["end"] - writer_busy["start"]) - spent["encode"]
    threads = {k: v / n for k, v in THREAD_CPU.items()}
    threads["main"] = (time.thread_time() - main0) / n
    threads["av decoder threads"] = decoders / n
    return {"frames": n, "wall": wall, "fps": n / wall, "seconds": spent, "cpu": cpu,
            "threads": threads}  # fmt: skip


def run_one(spec: dict) -> dict:
    """One job in this process; returns fps and memory."""
    from motionlab.afd import AFDConfig, afd_steps
    from motionlab.flow import get_estimator
    from motionlab.pipeline import write_in_background
    from motionlab.synthetic import sample_video_frames
    from motionlab.video import VideoReader, VideoWriter

    if spec["mode"] == "pyav-floor":  # no motionlab code
        import av  # noqa: F401 - imported before the clock starts, as for the other rows

        t0, c0 = time.perf_counter(), _cpu()
        n = pyav_floor(spec["input"], spec["out"])
        dt, cpu = time.perf_counter() - t0, _cpu() - c0
        Path(spec["out"]).unlink()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"fps": n / dt, "frames": n, "peak_mb": peak, "base_mb": peak,
                "cpu_ms": 1000 * cpu / n}  # fmt: skip
    if spec["mode"] == "profile":
        return run_profile(spec)
    if spec["mode"] == "dataset":
        return run_dataset(spec)
    out = Path(spec["out"])
    config = None
    est = None
    if spec["mode"] != "floor":
        method, opts = spec["method"], {}
        if method == "dis-medium":
            method, opts = "dis", {"preset": "medium"}
        elif method == "raft-small":
            weights = SHARED / "weights" / "raft-small.pth"
            opts = {"weights": weights} if weights.exists() else {"pretrained": False}
        elif method == "-":
            method = "dis"  # unused: i.i.d. noise needs no flow
        config = AFDConfig(
            mode=spec["mode"], flow_method=method, density=spec["density"], flow_options=opts
        )
        if config.directions != "none":
            est = get_estimator(config.flow_method, **config.resolved_flow_options)
        # warm-up: load the compiled kernels and the estimator's first-call costs
        for _ in afd_steps(sample_video_frames(3, size=(64, 64)), config=config, estimator=est):
            pass
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), _cpu()  # from opening the input, as for the PyAV floor
    with VideoReader(spec["input"]) as reader:
        n = 0
        with VideoWriter(out, fps=reader.rate, codec=spec["codec"]) as writer:
            if config is None:
                for frame in reader:
                    writer.write(frame)
                    n += 1
            else:
                with write_in_background(writer.write) as put:  # as motionlab afd does
                    for step in afd_steps(reader, config=config, estimator=est):
                        put(step.afd)
                        n += 1
        dt, cpu = time.perf_counter() - t0, _cpu() - c0
    out.unlink()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"fps": n / dt, "frames": n, "peak_mb": peak, "base_mb": base, "cpu_ms": 1000 * cpu / n}


def run_dataset(spec: dict) -> dict:
    """``make_afd_dataset`` (defaults, .avi) of ``spec["src"]`` with ``spec["workers"]``."""
    from motionlab.afd.dataset import make_afd_dataset

    def cpu_with_workers() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the finished workers
        return _cpu() + children.ru_utime + children.ru_stime

    dst = Path(spec["out"])
    t0, c0 = time.perf_counter(), cpu_with_workers()
    result = make_afd_dataset(spec["src"], dst, workers=spec["workers"])
    wall, cpu = time.perf_counter() - t0, cpu_with_workers() - c0
    frames = json.loads((dst / "afd_dataset.json").read_text())["videos"] * spec["frames"]
    shutil.rmtree(dst)
    assert not result.failed
    return {"fps": frames / wall, "frames": frames, "wall": wall, "cpu_ms": 1000 * cpu / frames}


def _run(spec: dict) -> dict:
    """One spec in a fresh process; its result."""
    res = subprocess.run(
        [sys.executable, __file__, "--one", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise RuntimeError(res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _median(values: list[float]) -> float:
    return statistics.median(values)


def floor_section(inputs: dict[str, Path], tmp: Path, repeat: int) -> list[str]:
    """PyAV floor vs motionlab's reader -> writer vs ``motionlab afd`` (defaults, .avi),
    interleaved per repeat; Markdown lines."""
    kinds = {
        "floor: PyAV decode -> array -> encode raw (.avi)": {"mode": "pyav-floor"},
        "motionlab reader -> writer, raw (.avi), no AFD": {"mode": "floor", "codec": "raw"},
        "motionlab afd, defaults, raw (.avi)": {
            "mode": "advect", "method": "dis", "density": 1, "codec": "raw"
        },
    }  # fmt: skip
    fps: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for r in range(repeat):
        for size, path in inputs.items():
            for label, extra in kinds.items():
                spec = {"input": str(path), "out": str(tmp / "floor.avi"), **extra}
                result = _run(spec)
                fps.setdefault((label, size), []).append(result["fps"])
                cpu.setdefault((label, size), []).append(result["cpu_ms"])
                print(f"[{r + 1}/{repeat}] {label} {size}: {fps[(label, size)][-1]:.1f} fps",
                      file=sys.stderr)  # fmt: skip
    floor = next(iter(kinds))
    lines = [
        "| pipeline | size | fps | x floor (fps) | CPU ms/frame | floor's CPU / this CPU |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for label in kinds:
        for s in inputs:
            # the ratio of each interleaved pair (same repeat), then their median
            speed = _median([a / b for a, b in zip(fps[(label, s)], fps[(floor, s)], strict=True)])
            work = _median([b / a for a, b in zip(cpu[(label, s)], cpu[(floor, s)], strict=True)])
            lines.append(
                f"| {label} | {s} | {_median(fps[(label, s)]):.1f} | {speed:.2f} | "
                f"{_median(cpu[(label, s)]):.2f} | {work:.2f} |"
            )
    return lines


def profile_section(inputs: dict[str, Path], tmp: Path) -> list[str]:
    """Per-stage profile of ``motionlab afd`` (defaults, .avi); Markdown lines."""
    stages = [
        ("decode", "decode (producer thread)"),
        ("flow", "flow, DIS fast (producer thread)"),
        ("noise", "noise (main thread)"),
        ("encode", "encode raw .avi (writer thread)"),
        ("wait_frames", "main waits for frames + flow"),
        ("wait_queue", "main waits for room in the writer queue"),
        ("writer_idle", "writer waits for frames"),
    ]
    results = {}
    for size, path in inputs.items():
        results[size] = _run({"mode": "profile", "input": str(path), "out": str(tmp / "p.avi")})
    lines = [
        f"| stage | {' | '.join(f'{s} ms/frame (CPU of its thread)' for s in inputs)} |",
        "|---|" + "---:|" * len(inputs),
    ]
    for key, label in stages:
        cells = []
        for size in inputs:
            r, n = results[size], results[size]["frames"]
            wall = f"{1000 * r['seconds'].get(key, 0.0) / n:.2f}"
            own = f" ({1000 * r['cpu'][key] / n:.2f})" if key in r["cpu"] else ""
            cells.append(wall + own)
        lines.append(f"| {label} | {' | '.join(cells)} |")
    walls = [f"{1000 * results[s]['wall'] / results[s]['frames']:.2f}" for s in inputs]
    rates = " / ".join(f"{results[s]['fps']:.1f}" for s in inputs)
    lines.append(f"| **wall clock** ({rates} fps) | {' | '.join(walls)} |")
    # CPU per thread: what the two cores have to carry per frame
    names = sorted({k for s in inputs for k in results[s]["threads"]})
    if names:
        lines += ["", f"| thread | {' | '.join(f'{s} CPU ms/frame' for s in inputs)} |",
                  "|---|" + "---:|" * len(inputs)]  # fmt: skip
        for name in names:
            cells = [f"{1000 * results[s]['threads'].get(name, 0.0):.2f}" for s in inputs]
            lines.append(f"| {THREAD_LABELS.get(name, name)} | {' | '.join(cells)} |")
        totals = [f"{1000 * sum(results[s]['threads'].values()):.2f}" for s in inputs]
        lines.append(f"| **all threads** | {' | '.join(totals)} |")
    return lines


THREAD_LABELS = {
    "main": "main: noise step (advect, render)",
    "motionlab-prefetch": "motionlab-prefetch x2: decoded frames to arrays; flow",
    "motionlab-pools": "motionlab-pools: the noise's random numbers, drawn ahead",
    "motionlab-noise": "motionlab-noise: bands of the noise step",
    "motionlab-writer": "motionlab-writer: encode",
    "av decoder threads": "FFmpeg's H.264 decoder threads",
}


def workers_section(size: tuple[int, int], frames: int, videos: int, tmp: Path,
                    repeat: int) -> list[str]:  # fmt: skip
    """afd-dataset with 1 and 2 workers, interleaved; Markdown lines."""
    src = tmp / "dataset"
    for i in range(videos):
        path = src / "A" / f"v{i}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        make_input(path, size, frames, offset=17 * i)
    fps: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float]] = {1: [], 2: []}
    for r in range(repeat):
        for workers in (1, 2):
            spec = {"mode": "dataset", "src": str(src), "out": str(tmp / "dst"),
                    "workers": workers, "frames": frames}  # fmt: skip
            result = _run(spec)
            fps[workers].append(result["fps"])
            cpu[workers].append(result["cpu_ms"])
            print(f"[{r + 1}/{repeat}] afd-dataset, {workers} worker(s): "
                  f"{fps[workers][-1]:.1f} fps, {cpu[workers][-1]:.2f} CPU ms/frame",
                  file=sys.stderr)  # fmt: skip
    speedup = _median([b / a for a, b in zip(fps[1], fps[2], strict=True)])
    return [
        "| afd-dataset workers | frames/s | speed-up over 1 (pairs) | CPU ms/frame | "
        "2 cores / CPU per frame |",
        "|---|---:|---:|---:|---:|",
        f"| 1 (in-process, decode + flow in a thread) | {_median(fps[1]):.1f} | 1.00 | "
        f"{_median(cpu[1]):.2f} | {2000 / _median(cpu[1]):.0f} |",
        f"| 2 (processes, one thread each) | {_median(fps[2]):.1f} | {speedup:.2f} | "
        f"{_median(cpu[2]):.2f} | {2000 / _median(cpu[2]):.0f} |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150, help="frames per input video")
    parser.add_argument("--quick", action="store_true", help="defaults only (a smoke run)")
    parser.add_argument("--no-table", action="store_true", help="skip the table of settings")
    parser.add_argument(
        "--repeat", type=int, default=3, help="interleaved repeats of the floor comparison"
    )
    parser.add_argument("--profile", action="store_true", help="per-stage profile")
    parser.add_argument(
        "--workers-videos", type=int, default=0, metavar="N",
        help="afd-dataset on N videos (320x240) with 1 and 2 workers (default: skip)",
    )  # fmt: skip
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="afd-speed-"))
    try:
        return _measure(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(args: argparse.Namespace, tmp: Path) -> int:
    """Every section of the benchmark, inputs and outputs in ``tmp``."""
    sizes = {"320x240": (320, 240), "854x480": (854, 480)}
    inputs = {}
    for name, size in sizes.items():
        inputs[name] = tmp / f"in_{name}.mp4"
        make_input(inputs[name], size, args.frames)
    print(
        f"AFD speed: {os.cpu_count()} cores, {args.frames}-frame H.264 inputs (DAVIS dance-twirl)\n"
    )
    print(f"Floor (interleaved, {args.repeat} repeats; medians):\n")
    print("\n".join(floor_section(inputs, tmp, args.repeat)))
    if args.profile:
        print("\nPer-stage profile of motionlab afd (defaults, raw .avi):\n")
        print("\n".join(profile_section(inputs, tmp)))
    if args.workers_videos:
        print(f"\nafd-dataset, {args.workers_videos} videos of 320x240 x {args.frames} frames "
              f"(interleaved, {args.repeat} repeats):\n")  # fmt: skip
        print("\n".join(
            workers_section((320, 240), args.frames, args.workers_videos, tmp, args.repeat)
        ))  # fmt: skip
    if args.no_table:
        return 0
    # (label, mode, method, density, codec, sizes); method "dis" = motionlab's AFD default
    # (DIS fast), "dis-medium" = DIS medium
    rows = [
        ("motionlab reader -> writer, raw (.avi)", "floor", "-", 0, "raw", list(sizes)),
        ("motionlab reader -> writer, FFV1 (.mkv)", "floor", "-", 0, "ffv1", list(sizes)),
        ("advect, defaults, raw (.avi)", "advect", "dis", 1, "raw", list(sizes)),
        ("advect, defaults, FFV1 (.mkv)", "advect", "dis", 1, "ffv1", list(sizes)),
        ("advect, defaults, x264rgb (.mp4)", "advect", "dis", 1, "x264rgb", list(sizes)),
        ("advect, density 2, DIS medium, raw", "advect", "dis-medium", 2, "raw", list(sizes)),
        ("first-frame, DIS fast, raw", "first-frame", "dis", 1, "raw", list(sizes)),
        ("iid, raw", "iid", "-", 1, "raw", list(sizes)),
        ("advect, farneback, raw", "advect", "farneback", 1, "raw", list(sizes)),
        ("advect, raft-small (CPU), raw", "advect", "raft-small", 1, "raw", ["320x240"]),
    ]
    if args.quick:
        rows = rows[:3]
    results: dict[tuple[str, str], dict] = {}
    for label, mode, method, density, codec, row_sizes in rows:
        for size in row_sizes:
            suffix = {"ffv1": ".mkv", "raw": ".avi"}.get(codec, ".mp4")
            spec = {
                "mode": mode,
                "method": method,
                "density": density,
                "codec": codec,
                "input": str(inputs[size]),
                "out": str(tmp / f"out{suffix}"),
            }
            if method == "raft-small":
                spec["input"] = str(tmp / "in_raft.mp4")
                if not Path(spec["input"]).exists():
                    make_input(Path(spec["input"]), sizes[size], 30)
            results[(label, size)] = r = _run(spec)
            print(
                f"{label} {size}: {r['fps']:.1f} fps, peak {r['peak_mb']:.0f} MB", file=sys.stderr
            )

    # memory does not grow with length: 1080p, 40 vs 120 frames
    mem = {}
    for n in (40, 120):
        path = tmp / f"in_1080_{n}.mp4"
        make_input(path, (1920, 1080), n)
        spec = {
            "mode": "advect",
            "method": "dis",
            "density": 1,
            "codec": "raw",
            "input": str(path),
            "out": str(tmp / "out1080.avi"),
        }
        mem[n] = _run(spec)

    print("\nSettings (one run each):\n")
    print("| pipeline | 320x240 fps | 854x480 fps | peak MB 320x240 / 854x480 |")
    print("|---|---:|---:|---:|")
    for label, *_ in rows:
        fps = [f"{results[(label, s)]['fps']:.1f}" if (label, s) in results else "-" for s in sizes]
        peak = [
            f"{results[(label, s)]['peak_mb']:.0f}" if (label, s) in results else "-" for s in sizes
        ]
        print(f"| {label} | {fps[0]} | {fps[1]} | {' / '.join(peak)} |")
    print(
        "\n1920x1080, advect with defaults, raw .avi: "
        + ", ".join(
            f"{n} frames: {m['fps']:.1f} fps, peak {m['peak_mb']:.0f} MB "
            f"(base {m['base_mb']:.0f} MB)"
            for n, m in mem.items()
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
