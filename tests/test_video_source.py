"""What a writer keeps of its source (``VideoWriter(..., source=reader)``): audio,
timestamps of variable-frame-rate video, rotation; and the commands that use it."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from motionlab.cli import main
from motionlab.errors import MotionlabError
from motionlab.video import VideoReader, VideoWriter, _rotation_of
from test_privacy_obfuscate import BoxMatcher

VFR_PTS = [0, 100, 250, 300, 700, 720, 1000]  # ms: a variable frame rate
RATE = 8000  # audio samples per second


def _frames(n: int, size: tuple[int, int] = (48, 32)) -> list[np.ndarray]:
    w, h = size
    rng = np.random.default_rng(5)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def make_video(
    path: Path,
    *,
    pts: list[int] | None = None,
    time_base: Fraction = Fraction(1, 10),
    audio: str | None = None,
    audio_rate: int = RATE,
    rotation: int = 0,
) -> np.ndarray | None:
    """A lossless video (FFV1 in mkv, libx264rgb in mp4) with frames at ``pts`` (in
    ``time_base``; default 10 frames at 10 fps), optionally rotated and with one mono audio
    stream (a chirp over the video's duration). Returns the audio samples."""
    pts = list(range(10)) if pts is None else pts
    mp4 = path.suffix == ".mp4"
    samples = None
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264rgb" if mp4 else "ffv1", rate=round(1 / time_base))
        v.width, v.height = 48, 32
        v.pix_fmt = "rgb24" if mp4 else "bgr0"
        v.time_base = v.codec_context.time_base = time_base
        if mp4:
            v.options = {"qp": "0"}
        if rotation:
            v.set_display_rotation(rotation)
        a = None
        if audio is not None:
            a = c.add_stream(audio, rate=audio_rate, layout="mono")
        for k, (frame, t) in enumerate(zip(_frames(len(pts)), pts, strict=True)):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = t, time_base
            c.mux(v.encode(vf))
            if a is not None and k == len(pts) - 1:  # the audio, in 50 ms chunks
                total = round(float((pts[-1] + 1) * time_base) * audio_rate)
                t_s = np.arange(total) / audio_rate  # a chirp: no shift looks like another
                samples = (np.sin(2 * np.pi * (200 + 300 * t_s) * t_s) * 8000).astype(np.int16)
                chunk = audio_rate // 20
                for i in range(0, total, chunk):
                    af = av.AudioFrame.from_ndarray(
                        samples[None, i : i + chunk], format="s16", layout="mono"
                    )
                    af.sample_rate, af.pts, af.time_base = audio_rate, i, Fraction(1, audio_rate)
                    c.mux(a.encode(af))
        c.mux(v.encode(None))
        if a is not None:
            c.mux(a.encode(None))
    return samples


def audio_of(path: Path) -> np.ndarray | None:
    """The decoded samples of the first audio stream from time 0 on, as int16 (None
    without audio). Samples before 0 (AAC priming kept by a container without edit lists,
    e.g. mkv) are dropped, as a player drops them."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        to_s16 = av.AudioResampler(format="s16", layout="mono")
        decoded = list(c.decode(audio=0))
        frames = [g for f in decoded for g in to_s16.resample(f)] + to_s16.resample(None)
        first = float(decoded[0].time or 0.0)
        skip = round(-first * decoded[0].sample_rate) if first < 0 else 0
    return np.concatenate([f.to_ndarray()[0] for f in frames])[skip:]


def video_times(path: Path) -> tuple[list[float], int]:
    """Presentation times (s) of the decoded frames, and the first frame's rotation
    (counter-clockwise degrees in (-180, 180])."""
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
    rotation = round(frames[0].rotation) % 360
    return [float(f.time) for f in frames], rotation - 360 if rotation > 180 else rotation


def copy(src: Path, out: Path, **kw: object) -> VideoWriter:
    with (
        VideoReader(src) as reader,
        VideoWriter(
            out,
            fps=reader.rate,
            source=reader,
            **kw,  # type: ignore[arg-type]
        ) as writer,
    ):
        for frame in reader:
            writer.write(frame)
    return writer


# ---------------------------------------------------------------------------------------
# the writer


def test_audio_is_copied_sample_exact(tmp_path: Path) -> None:
    src = tmp_path / "a.mkv"
    samples = make_video(src, audio="pcm_s16le")
    out = tmp_path / "o.mkv"
    copy(src, out, keep_audio=True)
    got = audio_of(out)
    assert samples is not None and got is not None
    assert np.array_equal(got, samples)
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == "pcm_s16le"  # copied, not re-encoded


def test_audio_dropped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "a.mkv"
    make_video(src, audio="pcm_s16le")
    out = tmp_path / "o.mkv"
    with caplog.at_level(logging.WARNING):
        copy(src, out)
    assert "has 1 audio stream(s)" in caplog.text and "will have no audio" in caplog.text
    assert audio_of(out) is None
    with pytest.raises(MotionlabError, match="keep_audio needs the source"):
        VideoWriter(tmp_path / "x.mkv", fps=10, keep_audio=True)


def test_audio_the_container_cannot_hold_is_transcoded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "opus.mkv"
    samples = make_video(src, audio="libopus", audio_rate=48000)
    out = tmp_path / "o.avi"  # AVI holds no Opus
    with caplog.at_level(logging.WARNING):
        copy(src, out, keep_audio=True)
    assert "cannot hold opus audio" in caplog.text and "transcoded to pcm_s16le" in caplog.text
    got = audio_of(out)
    assert samples is not None and got is not None
    assert abs(len(got) - len(samples)) < 48000 / 10  # within one video frame


def test_audio_is_trimmed_with_the_frames(tmp_path: Path) -> None:
    src = tmp_path / "a.mkv"
    samples = make_video(src, audio="pcm_s16le")
    out = tmp_path / "o.mkv"
    with (
        VideoReader(src, start=2, stop=7) as reader,
        VideoWriter(out, fps=reader.rate, source=reader, keep_audio=True) as writer,
    ):
        for frame in reader:
            writer.write(frame)
    times, _ = video_times(out)
    assert times == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    got = audio_of(out)
    assert samples is not None and got is not None
    # frames 2..6 are 0.2 s .. 0.7 s of the source: samples 1600..5600 (50 ms packets)
    assert np.array_equal(got, samples[1600:5600])


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_variable_frame_rate_timestamps_are_kept(tmp_path: Path, suffix: str) -> None:
    src = tmp_path / "vfr.mkv"
    make_video(src, pts=VFR_PTS, time_base=Fraction(1, 1000))
    out = tmp_path / f"o{suffix}"
    copy(src, out, codec="x264rgb" if suffix == ".mp4" else None)
    src_times, _ = video_times(src)
    assert src_times == pytest.approx([t / 1000 for t in VFR_PTS])
    times, _ = video_times(out)
    assert times == pytest.approx(src_times)
    if suffix == ".mkv":
        with av.open(str(out)) as c:
            assert [f.pts for f in c.decode(video=0)] == VFR_PTS  # same time base: same pts


def test_avi_rounds_timestamps_to_its_frame_grid(tmp_path: Path) -> None:
    src = tmp_path / "vfr.mkv"
    make_video(src, pts=VFR_PTS, time_base=Fraction(1, 1000))
    out = tmp_path / "o.avi"
    with VideoReader(src) as reader, VideoWriter(out, fps=10, source=reader) as writer:
        for frame in reader:
            writer.write(frame)
    times, _ = video_times(out)  # 0, 0.1, 0.25 -> 0.2 (round half even), 0.3, 0.7, 0.72 -> 0.8
    assert times == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.7, 0.8, 1.0])


@pytest.mark.parametrize(("suffix", "rotation"), [(".mp4", 90), (".mkv", -90), (".mp4", 180)])
def test_rotation_is_kept(tmp_path: Path, suffix: str, rotation: int) -> None:
    src = tmp_path / f"r{suffix}"
    make_video(src, rotation=rotation)
    with VideoReader(src) as reader:
        assert reader.rotation == rotation
    for out_suffix in (".mkv", ".mp4"):
        out = tmp_path / f"o{out_suffix}"
        copy(src, out)
        assert video_times(out)[1] == rotation
        out.unlink()


def test_avi_and_folders_say_they_drop_rotation_and_audio(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "r.mkv"
    make_video(src, rotation=90, audio="pcm_s16le")
    with caplog.at_level(logging.WARNING):
        copy(src, tmp_path / "o.avi", keep_audio=True)
    assert "AVI records no rotation" in caplog.text
    assert audio_of(tmp_path / "o.avi") is not None
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        copy(src, f"{tmp_path}/frames/", keep_audio=True)  # type: ignore[arg-type]
    assert "a PNG folder records no rotation" in caplog.text
    assert "a folder of PNG frames holds no audio" in caplog.text


def test_rotation_from_the_display_matrix_else_the_rotate_tag() -> None:
    frame = SimpleNamespace(rotation=-90)
    assert _rotation_of(frame, SimpleNamespace(metadata={"rotate": "45"})) == -90  # type: ignore[arg-type]
    frame = SimpleNamespace(rotation=0)
    # the rotate tag is clockwise, the display matrix counter-clockwise
    assert _rotation_of(frame, SimpleNamespace(metadata={"rotate": "90"})) == -90  # type: ignore[arg-type]
    assert _rotation_of(frame, SimpleNamespace(metadata={"rotate": "270"})) == 90  # type: ignore[arg-type]
    assert _rotation_of(frame, SimpleNamespace(metadata={})) == 0  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# the commands


@pytest.fixture
def box_matcher(monkeypatch: pytest.MonkeyPatch) -> None:
    import motionlab.cli.privacy as pcli

    monkeypatch.setattr(pcli, "_build_matcher", lambda args: BoxMatcher((10, 8, 30, 24)))


@pytest.mark.parametrize("replace", ["noise", "blur"])
def test_obfuscate_keeps_audio_timestamps_and_rotation(
    tmp_path: Path, box_matcher: None, caplog: pytest.LogCaptureFixture, replace: str
) -> None:
    src = tmp_path / "in.mp4"
    samples = make_video(
        src, pts=VFR_PTS, time_base=Fraction(1, 1000), audio="aac", audio_rate=16000,
        rotation=90,
    )  # fmt: skip
    out = tmp_path / "out.mkv"
    args = ["obfuscate", str(src), "-o", str(out), "--templates", "box", "--replace", replace]
    with caplog.at_level(logging.WARNING):
        assert main([*args, "--keep-audio"]) == 0
    times, rotation = video_times(out)
    assert times == pytest.approx(video_times(src)[0]) and rotation == 90
    got, expected = audio_of(out), audio_of(src)
    assert got is not None and expected is not None and samples is not None
    assert np.array_equal(got, expected)  # AAC packets copied: the same decoded samples
    assert abs(len(got) - len(samples)) < 16000 * 0.1
    assert "audio" not in caplog.text
    out.unlink()
    with caplog.at_level(logging.WARNING):
        assert main(args) == 0
    assert "has 1 audio stream(s)" in caplog.text and "will have no audio" in caplog.text
    assert audio_of(out) is None


def test_baseline_and_afd_keep_audio(tmp_path: Path) -> None:
    src = tmp_path / "in.mkv"
    samples = make_video(src, audio="pcm_s16le")
    out = tmp_path / "pix.mkv"
    assert main(["-q", "baseline", str(src), "-o", str(out), "--method", "pixelate16",
                 "--keep-audio"]) == 0  # fmt: skip
    assert np.array_equal(audio_of(out), samples)  # type: ignore[arg-type]
    out = tmp_path / "afd.avi"
    assert main(["-q", "afd", str(src), "-o", str(out), "--keep-audio"]) == 0
    assert np.array_equal(audio_of(out), samples)  # type: ignore[arg-type]
