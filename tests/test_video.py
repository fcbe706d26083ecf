"""Video and frame-folder I/O: lossless round trips, ranges, resizing, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from motionlab import MotionlabError
from motionlab.video import (
    VideoReader,
    VideoWriter,
    codec_for,
    iter_frames,
    probe,
    read_video,
    write_video,
)

from conftest import DATA, need


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("a.mkv", None),
        ("a.avi", None),
        ("b.mkv", "x264rgb"),
        ("b.mp4", "x264rgb"),
        ("r.avi", "raw"),
        ("f/", None),
    ],
)
def test_lossless_round_trip_is_bit_exact(tmp_path, noise_frames, name, codec):
    out = f"{tmp_path}/{name}"
    n = write_video(out, noise_frames, fps=12, codec=codec)
    assert n == len(noise_frames)
    back = read_video(out)
    assert back.dtype == np.uint8
    assert back.shape == noise_frames.shape
    np.testing.assert_array_equal(back, noise_frames)


def test_png_folder_names_and_probe(tmp_path, noise_frames):
    write_video(f"{tmp_path}/frames/", noise_frames, fps=12)
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == [f"{i:05d}.png" for i in range(5)]
    info = probe(tmp_path / "frames", fps=7.5)
    assert (info.width, info.height, info.num_frames, info.fps) == (47, 33, 5, 7.5)
    assert info.is_frame_folder


def test_h264_is_lossy_but_close_and_even_sized(tmp_path, rng):
    smooth = np.repeat(np.linspace(0, 255, 47, dtype=np.uint8)[None, :, None], 33, 0)
    frames = np.stack([np.repeat(smooth, 3, 2)] * 4)
    write_video(tmp_path / "v.mp4", frames, fps=25, crf=10)
    back = read_video(tmp_path / "v.mp4")
    assert back.shape == (4, 34, 48, 3)  # padded to even size for yuv420p
    err = np.abs(back[:, :33, :47].astype(int) - frames).mean()
    assert err < 3.0


def test_fps_and_frame_count_survive(tmp_path, noise_frames):
    write_video(tmp_path / "v.mkv", noise_frames, fps=29.97)
    info = probe(tmp_path / "v.mkv")
    assert info.num_frames == 5
    assert info.fps == pytest.approx(29.97, abs=1e-3)


def test_range_and_resize(tmp_path, noise_frames):
    write_video(tmp_path / "v.mkv", noise_frames, fps=10)
    part = read_video(tmp_path / "v.mkv", start=1, stop=3)
    np.testing.assert_array_equal(part, noise_frames[1:3])
    with VideoReader(tmp_path / "v.mkv", start=3, size=(20, 10)) as reader:
        assert reader.info.num_frames == 2
        frames = list(reader)
    assert [f.shape for f in frames] == [(10, 20, 3)] * 2
    # a folder range too
    write_video(f"{tmp_path}/d/", noise_frames, fps=10)
    np.testing.assert_array_equal(read_video(tmp_path / "d", start=2, stop=4), noise_frames[2:4])


def test_reader_streams_one_frame_at_a_time(tmp_path, noise_frames):
    write_video(tmp_path / "v.mkv", noise_frames, fps=10)
    it = iter_frames(tmp_path / "v.mkv")
    first = next(it)
    assert first.shape == (33, 47, 3)
    it.close()


def test_real_videos_decode(tmp_path):
    for name, size, count in [
        ("carphone.mp4", (176, 144), 120),
        ("pedestrians_vtest.avi", (768, 576), 795),
    ]:
        path = need(DATA / "videos" / name)
        info = probe(path)
        assert (info.width, info.height) == size
        assert info.num_frames == count
    frames = read_video(DATA / "videos" / "carphone.mp4", stop=3)
    assert frames.shape == (3, 144, 176, 3) and frames.std() > 10


def test_real_frame_folder(tmp_path):
    folder = need(DATA / "ipn_face_gesture" / "frames")
    info = probe(folder)
    assert (info.width, info.height, info.num_frames) == (320, 240, 101)


# --- bad input -----------------------------------------------------------------------


def test_missing_path(tmp_path):
    with pytest.raises(MotionlabError, match="no such file"):
        VideoReader(tmp_path / "nope.mp4")


def test_not_a_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("this is not a video\n")
    with pytest.raises(MotionlabError, match="not a readable video"):
        VideoReader(bad)


def test_truncated_video(tmp_path, noise_frames):
    write_video(tmp_path / "v.mp4", np.repeat(noise_frames, 4, 0), fps=10)
    data = (tmp_path / "v.mp4").read_bytes()
    (tmp_path / "t.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(MotionlabError, match=r"t\.mp4"):
        read_video(tmp_path / "t.mp4")


def test_zero_frames(tmp_path):
    import av

    path = tmp_path / "empty.mkv"
    with av.open(str(path), "w") as container:  # a valid header, no frame
        stream = container.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "bgr0"
        container.start_encoding()
    assert path.stat().st_size > 0
    with pytest.raises(MotionlabError, match="holds no frames"):
        VideoReader(path)


def test_audio_only_file(tmp_path):
    import av

    path = tmp_path / "sound.mka"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        silence = np.zeros((1, 800), np.int16)
        frame = av.AudioFrame.from_ndarray(silence, format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
    with pytest.raises(MotionlabError, match="no video stream"):
        VideoReader(path)


def test_empty_folder(tmp_path):
    (tmp_path / "e").mkdir()
    with pytest.raises(MotionlabError, match="no image files"):
        VideoReader(tmp_path / "e")


def test_mixed_sizes_in_folder(tmp_path, noise_frames):
    import cv2

    d = tmp_path / "m"
    d.mkdir()
    cv2.imwrite(str(d / "00000.png"), noise_frames[0])
    cv2.imwrite(str(d / "00001.png"), noise_frames[1, :20])
    with pytest.raises(MotionlabError, match="must have one size"):
        VideoReader(d)


def test_corrupt_image_in_folder(tmp_path, noise_frames):
    write_video(f"{tmp_path}/c/", noise_frames, fps=10)
    (tmp_path / "c" / "00002.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(MotionlabError, match=r"00002\.png"):
        read_video(tmp_path / "c")


def test_range_past_end(tmp_path, noise_frames):
    write_video(tmp_path / "v.mkv", noise_frames, fps=10)
    with pytest.raises(MotionlabError, match="no decodable frames at or after frame 9"):
        VideoReader(tmp_path / "v.mkv", start=9)
    with pytest.raises(MotionlabError, match="stop must be > start"):
        VideoReader(tmp_path / "v.mkv", start=2, stop=2)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (np.zeros((8, 8, 3), np.float32), "must be uint8"),
        (np.zeros((8, 8), np.uint8), r"shape \(H, W, 3\)"),
        ([[0]], "numpy array"),
    ],
)
def test_writer_rejects_bad_frames_and_leaves_nothing(tmp_path, frame, match):
    with pytest.raises(MotionlabError, match=match), VideoWriter(tmp_path / "o.mkv", fps=5) as w:
        w.write(frame)
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_size_change_and_leaves_nothing(tmp_path, noise_frames):
    with pytest.raises(MotionlabError, match="one size"):
        write_video(tmp_path / "o.mkv", [noise_frames[0], noise_frames[1, :10]], fps=5)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_keeps_old_output(tmp_path, noise_frames):
    out = tmp_path / "o.mkv"
    write_video(out, noise_frames, fps=5)
    before = out.read_bytes()

    def frames():
        yield noise_frames[0]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_video(out, frames(), fps=5)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mkv"]


def test_no_frames_writes_nothing(tmp_path):
    with pytest.raises(MotionlabError, match="no frames"):
        write_video(tmp_path / "o.mkv", [], fps=5)
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_keeps_other_files(tmp_path, noise_frames):
    d = tmp_path / "out"
    d.mkdir()
    (d / "notes.txt").write_text("keep me")
    write_video(d, noise_frames[:2], fps=5)
    assert sorted(p.name for p in d.iterdir()) == ["00000.png", "00001.png", "notes.txt"]


@pytest.mark.parametrize(
    ("path", "codec", "match"),
    [
        ("o.xyz", None, "unknown output type"),
        ("o.mp4", "ffv1", "cannot be stored"),
        ("o.mkv", "png", "writes a folder"),
        ("o.mkv", "h265", "unknown codec"),
    ],
)
def test_codec_choice_errors(tmp_path, path, codec, match):
    with pytest.raises(MotionlabError, match=match):
        codec_for(tmp_path / path, codec)


def test_codec_defaults(tmp_path):
    from motionlab.video import afd_codec_for

    assert afd_codec_for(tmp_path / "a.avi") == "raw"  # noise: lossless by default
    assert afd_codec_for(tmp_path / "a.mp4") == "x264rgb"
    assert afd_codec_for(tmp_path / "a.mkv") == "ffv1"
    assert afd_codec_for(tmp_path / "a.mp4", "h264") == "h264"
    assert codec_for(tmp_path / "a.mp4") == "h264"
    assert codec_for(tmp_path / "a.mkv") == "ffv1"
    assert codec_for(f"{tmp_path}/new/") == "png"
    assert codec_for(tmp_path) == "png"  # an existing folder
