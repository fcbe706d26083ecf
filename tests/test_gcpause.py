"""The garbage collector paused during start-up (motionlab.gcpause) and resumed once."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

from motionlab.gcpause import paused_gc
from motionlab.privacy import ObfuscationConfig
from motionlab.privacy.write import write_obfuscation
from motionlab.synthetic import sample_video_frames
from motionlab.video import read_video, write_video
from test_privacy_obfuscate import BoxMatcher


@pytest.fixture(autouse=True)
def restore_gc():
    was = gc.isenabled()
    yield
    gc.unfreeze()
    if was:
        gc.enable()


def test_paused_until_resume_then_frozen_and_back_as_before(monkeypatch: pytest.MonkeyPatch):
    # gc.freeze is counted by a spy, not by comparing freeze counts: the count of frozen
    # objects can fall between two reads (a frozen object freed by reference counting,
    # e.g. by a thread left over from an earlier test), so equal counts prove nothing
    freezes: list[int] = []
    real_freeze = gc.freeze

    def counting_freeze() -> None:
        freezes.append(1)
        real_freeze()

    monkeypatch.setattr(gc, "freeze", counting_freeze)
    gc.enable()
    gc.unfreeze()
    with paused_gc() as resume:
        assert not gc.isenabled()
        assert gc.get_freeze_count() == 0 and freezes == []
        resume()
        assert gc.isenabled()
        assert freezes == [1]
        assert gc.get_freeze_count() > 1000  # the objects alive at start-up's end
        resume()  # a second call changes nothing
        assert freezes == [1] and gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_failure_before_resume_reenables_and_freezes_nothing():
    gc.enable()
    gc.unfreeze()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("start-up failed")
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_disabled_collector_stays_disabled_and_others_frozen_stay_frozen():
    gc.disable()
    gc.freeze()
    theirs = gc.get_freeze_count()
    with paused_gc() as resume:
        resume()
        assert not gc.isenabled()  # it was off: resuming does not turn it on
    assert not gc.isenabled() and gc.get_freeze_count() >= theirs


def test_cycles_made_after_resume_are_collected():
    gc.enable()

    class Node:
        pass

    with paused_gc() as resume:
        resume()
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2


def test_write_obfuscation_calls_on_first_frame_once_after_the_first_frame(tmp_path: Path):
    clip = tmp_path / "clip.mkv"
    write_video(clip, list(sample_video_frames(4, size=(40, 32), seed=4)), fps=10)
    calls: list[int] = []
    written = tmp_path / "out.mkv"
    config = ObfuscationConfig(("box",), seed=3)

    def count_frames_so_far() -> None:
        calls.append(1)

    plain = tmp_path / "plain.mkv"
    box = BoxMatcher((8, 6, 30, 26))
    write_obfuscation(clip, plain, matcher=box, config=config, progress=False)
    write_obfuscation(
        clip, written, matcher=BoxMatcher((8, 6, 30, 26)), config=config, progress=False,
        on_first_frame=count_frames_so_far,
    )  # fmt: skip
    assert calls == [1]
    assert np.array_equal(read_video(written), read_video(plain))


def test_obfuscate_command_pauses_until_the_first_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("mediapipe")
    from motionlab.cli import main
    from motionlab.privacy import write

    clip = tmp_path / "clip.mkv"
    write_video(clip, list(sample_video_frames(3, size=(48, 32), seed=4)), fps=10)
    seen: list[tuple[str, bool, bool]] = []
    real = write.write_obfuscation

    def spy(*args, on_first_frame, **kwargs):
        seen.append(("start", gc.isenabled(), gc.get_freeze_count() > 0))

        def first() -> None:
            on_first_frame()
            seen.append(("first frame", gc.isenabled(), gc.get_freeze_count() > 0))

        return real(*args, on_first_frame=first, **kwargs)

    monkeypatch.setattr(write, "write_obfuscation", spy)
    gc.enable()
    gc.unfreeze()
    out = tmp_path / "o.mkv"
    assert main(["-q", "obfuscate", str(clip), "-o", str(out), "--templates", "face"]) == 0
    assert seen == [("start", False, False), ("first frame", True, True)]
    assert gc.isenabled() and gc.get_freeze_count() == 0


def _exit_run(code: str) -> str:
    """stdout of a child Python running ``code`` (imports from this checkout's src)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# garbage in a reference cycle, left for the collector: the shutdown's last collection
# finds it (and runs its __del__) unless the objects alive at exit were frozen
_CYCLE = """
import gc
gc.disable()
class Node:
    def __del__(self):
        print("collected at exit", flush=True)
a = Node(); a.me = a; del a
"""


def test_freeze_at_exit_keeps_the_shutdown_from_walking_the_objects_alive():
    assert _exit_run(_CYCLE) == "collected at exit\n"  # what Python does without it
    frozen = _exit_run("from motionlab.gcpause import freeze_at_exit\nfreeze_at_exit()\n" + _CYCLE)
    assert frozen == ""


def test_the_command_freezes_at_exit():
    """``motionlab`` (here a command that fails at once: a missing input) registers it."""
    code = "from motionlab.cli import main\nmain(['info', '/no/such/video.mkv'])\n" + _CYCLE
    assert _exit_run(code) == ""
