"""Read and write videos and numbered frame folders as streams of RGB ``uint8`` frames.

Frames are ``(H, W, 3)`` ``numpy.uint8`` arrays in RGB order. Readers and writers are
context managers; readers are iterators, so a long video never needs all frames in memory.

Decoding uses PyAV (FFmpeg): anything FFmpeg demuxes (mp4, avi, mkv, webm, mov, ...).
Frame folders hold numbered images (png, jpg, ppm, bmp, tif) sorted by the number in
their names. Writers produce

* ``h264``: H.264 in mp4, yuv420p, CRF quality (lossy, for viewing);
* ``ffv1``: FFV1 in mkv (or avi) with ``bgr0`` pixels (lossless, bit-exact RGB);
* ``x264rgb``: ``libx264rgb`` at qp 0 in mkv/mp4 (lossless, bit-exact RGB);
* ``raw``: uncompressed ``bgr24`` in avi (lossless; for i.i.d. noise, which no codec can
  compress, it is the smallest and by far the fastest: 0.5 ms per 320x240 frame against
  FFV1's 8 ms of CPU);
* ``png``: a folder of ``00000.png, 00001.png, ...`` (lossless).

Every output is written under a temporary name and renamed when complete
(:mod:`motionlab.atomic`).

A writer given the reader of its source (``VideoWriter(..., source=reader)``) keeps what
the frames alone lose: the source's timestamps (each output frame gets the presentation
time of the source frame it was made from, so variable frame rates survive), its rotation
(the display matrix), and, with ``keep_audio=True``, its audio streams (copied, or
transcoded where the output container cannot hold the codec). What an output type cannot
keep is said in a warning.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> frames = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
>>> out = pathlib.Path(tempfile.mkdtemp()) / "noise.mkv"
>>> write_video(out, frames, fps=25)          # FFV1: lossless; returns the frame count
3
>>> bool((read_video(out) == frames).all())
True
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np
from PIL import Image

from motionlab.atomic import commit_dir, commit_file, temp_sibling
from motionlab.checks import check_frame
from motionlab.errors import MotionlabError
from motionlab.provenance import TAG, sidecar_for, sidecar_path

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff")
"""File name endings read as frames of a frame folder (case-insensitive)."""

CODECS: tuple[str, ...] = ("h264", "ffv1", "x264rgb", "raw", "png")
LOSSLESS_CODECS: frozenset[str] = frozenset({"ffv1", "x264rgb", "raw", "png"})
DEFAULT_FOLDER_FPS = 25.0
METADATA_FILE = "metadata.json"
"""Name of the provenance file inside a PNG frame folder written by motionlab."""

_SUFFIX_CODEC = {".mp4": "h264", ".mov": "h264", ".m4v": "h264", ".mkv": "ffv1", ".avi": "ffv1"}
_CODEC_SUFFIXES = {
    "h264": (".mp4", ".mov", ".m4v", ".mkv"),
    "ffv1": (".mkv", ".avi"),
    "x264rgb": (".mkv", ".mp4"),
    "raw": (".avi",),
}


@dataclass(frozen=True)
class VideoInfo:
    """What a reader delivers: frame size (after any resize), rate and count.

    Attributes
    ----------
    width, height : int
        Size in pixels of the frames the reader yields.
    fps : float
        Frames per second (``DEFAULT_FOLDER_FPS`` for frame folders unless given).
    num_frames : int
        Number of frames the reader yields (after ``start``/``stop``). For videos whose
        container does not record it, it is counted by demuxing (no decoding).
    source : Path
        The video file or frame folder.
    is_frame_folder : bool
        True for a folder of numbered images.
    """

    width: int
    height: int
    fps: float
    num_frames: int
    source: Path
    is_frame_folder: bool


def _natural_key(path: Path) -> tuple[object, ...]:
    parts = re.split(r"(\d+)", path.name)
    return tuple(int(p) if p.isdigit() else p.lower() for p in parts)


def list_frame_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files of a frame folder, in natural numeric order.

    Raises
    ------
    MotionlabError
        If ``folder`` holds no image file.
    """
    folder = Path(folder)
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise MotionlabError(
            f"{folder}: frame folder holds no image files "
            f"(expected numbered {', '.join(IMAGE_SUFFIXES)} files)"
        )
    return sorted(files, key=_natural_key)


def write_image(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write an image in the format of ``path``'s suffix (PNG, JPEG, ...) as OpenCV does
    (``(H, W, 3)`` arrays in BGR order, ``(H, W)`` grey, 8 or 16 bits for PNG).

    The image is encoded in memory and written from Python, so a failed write (a full
    disk, a read-only folder) raises :class:`OSError` naming the file, where
    ``cv2.imwrite`` returns ``False`` (or lets libpng print to stderr) and is easy to
    ignore. Write into an atomic temporary (:func:`motionlab.atomic.atomic_file`).

    Raises
    ------
    MotionlabError
        If the image cannot be encoded in that format.
    """
    path = Path(path)
    ok, data = cv2.imencode(path.suffix or ".png", np.ascontiguousarray(image))
    if not ok:
        raise MotionlabError(f"{path}: could not encode the image as {path.suffix or '.png'}")
    path.write_bytes(data.tobytes())


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one image file as an RGB ``(H, W, 3)`` ``uint8`` array.

    Grey images are repeated over three channels; 16-bit images are scaled to 8 bits.
    """
    path = Path(path)
    if not path.exists():
        raise MotionlabError(f"{path}: no such file")
    if path.is_dir():
        raise MotionlabError(f"{path}: is a folder, expected an image file")
    try:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error as exc:  # e.g. a header claiming more pixels than OpenCV allows
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "OpenCV error"
        raise MotionlabError(f"{path}: cannot decode as an image ({reason})") from None
    if img is None:
        raise MotionlabError(f"{path}: cannot decode as an image (corrupt or unsupported)")
    return np.ascontiguousarray(img[:, :, ::-1])


def _resize(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or (frame.shape[1], frame.shape[0]) == size:
        return frame
    shrinking = size[0] * size[1] < frame.shape[0] * frame.shape[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(frame, size, interpolation=interp)


def _check_range(start: int, stop: int | None) -> None:
    if start < 0:
        raise MotionlabError(f"start must be >= 0, got {start}")
    if stop is not None and stop <= start:
        raise MotionlabError(f"stop must be > start, got start={start}, stop={stop}")


def _check_size(size: tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    w, h = (int(s) for s in size)
    if w <= 0 or h <= 0:
        raise MotionlabError(f"resize size must be positive (width, height), got {size}")
    return (w, h)


class VideoReader:
    """Stream RGB frames from a video file or a numbered frame folder.

    Parameters
    ----------
    source : path
        A video file (anything FFmpeg decodes) or a folder of numbered images.
    start, stop : int
        Frame range ``[start, stop)`` (0-based); ``stop=None`` reads to the end.
        Frames before ``start`` are decoded and dropped: exact, not keyframe-seeking.
    size : (width, height), optional
        Resize every frame to this size (area interpolation when shrinking).
    fps : float, optional
        Frame rate of a frame folder (default 25); ignored for videos.

    Attributes
    ----------
    time_base : Fraction or None
        Time base of the video stream (seconds per pts tick); None for frame folders.
    rotation : int
        Counter-clockwise rotation in degrees, in (-180, 180], that a player applies to the
        frames (the display matrix, or the ``rotate`` tag of older files); the frames are
        yielded as stored, unrotated. 0 for frame folders.
    audio_streams : int
        Number of audio streams in the source (none are decoded by the reader).

    Yields
    ------
    frame : (H, W, 3) uint8 ndarray
        RGB frames.

    Raises
    ------
    MotionlabError
        Missing path, a file FFmpeg cannot read, no video stream, no decodable frame,
        a corrupt frame, an empty folder or frames of different sizes.

    Examples
    --------
    >>> with VideoReader("clip.mp4", size=(320, 240)) as reader:  # doctest: +SKIP
    ...     for frame in reader:
    ...         ...
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        start: int = 0,
        stop: int | None = None,
        size: tuple[int, int] | None = None,
        fps: float | None = None,
    ) -> None:
        self.source = Path(source)
        _check_range(start, stop)
        self.start, self.stop = start, stop
        self.size = _check_size(size)
        self._fps_override = fps
        self._container: av.container.InputContainer | None = None
        self._files: list[Path] | None = None
        self._first: np.ndarray | None = None
        self._iter: Iterator[np.ndarray] | None = None
        self._info: VideoInfo | None = None
        self._pts: deque[int | None] = deque()
        self.time_base: Fraction | None = None
        self.rotation = 0
        self.audio_streams = 0
        self._open()

    # -- opening ---------------------------------------------------------------------
    def _open(self) -> None:
        if not self.source.exists():
            raise MotionlabError(f"{self.source}: no such file or folder")
        if self.source.is_dir():
            self._open_folder()
        else:
            self._open_video()

    def _open_folder(self) -> None:
        files = list_frame_files(self.source)
        first_size = None
        for f in files:  # header-only size check, before any work is done
            try:
                with Image.open(f) as im:
                    fsize = im.size
            except Exception as exc:  # PIL raises several types for broken files
                raise MotionlabError(f"{f}: cannot read image header ({exc})") from exc
            if first_size is None:
                first_size = fsize
            elif fsize != first_size:
                raise MotionlabError(
                    f"{f}: frame is {fsize[0]}x{fsize[1]} but {files[0].name} is "
                    f"{first_size[0]}x{first_size[1]}; all frames of a folder must have one "
                    "size (resize them first)"
                )
        stop = len(files) if self.stop is None else min(self.stop, len(files))
        self._files = files[self.start : stop]
        if not self._files:
            raise MotionlabError(
                f"{self.source}: frame range starts at {self.start} but the folder holds "
                f"{len(files)} frames"
            )
        self._iter = (_resize(read_image(f), self.size) for f in self._files)
        self._first = next(self._iter)
        h, w = self._first.shape[:2]
        fps = float(self._fps_override or DEFAULT_FOLDER_FPS)
        self._info = VideoInfo(w, h, fps, len(self._files), self.source, True)

    def _open_video(self) -> None:
        if self.source.is_file() and self.source.stat().st_size == 0:
            raise MotionlabError(f"{self.source}: empty file (0 bytes), not a video")
        try:
            self._container = av.open(str(self.source), mode="r")
        except av.error.EOFError as exc:
            raise MotionlabError(
                f"{self.source}: video holds no frames (empty or cut short)"
            ) from exc
        except av.FFmpegError as exc:
            raise MotionlabError(
                f"{self.source}: not a readable video ({_ffmpeg_reason(exc)})"
            ) from exc
        if not self._container.streams.video:
            self.close()
            raise MotionlabError(f"{self.source}: file has no video stream")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        self._stream = stream
        self.time_base = stream.time_base
        self.audio_streams = len(self._container.streams.audio)
        self._iter = self._decode(stream)
        try:
            self._first = next(self._iter)
        except StopIteration:
            self.close()
            raise MotionlabError(
                f"{self.source}: video has no decodable frames"
                + (f" at or after frame {self.start}" if self.start else "")
            ) from None
        h, w = self._first.shape[:2]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else DEFAULT_FOLDER_FPS
        self._rate = Fraction(rate) if rate else Fraction(DEFAULT_FOLDER_FPS)
        self._info = VideoInfo(w, h, fps, -1, self.source, False)

    def _decode(self, stream: av.video.stream.VideoStream) -> Iterator[np.ndarray]:
        assert self._container is not None
        index = 0
        try:
            for frame in self._container.decode(stream):
                if self.stop is not None and index >= self.stop:
                    return
                if index >= self.start:
                    if index == self.start:
                        self.rotation = _rotation_of(frame, stream)
                    self._pts.append(frame.pts)
                    yield _resize(frame.to_ndarray(format="rgb24"), self.size)
                index += 1
        except av.FFmpegError as exc:
            raise MotionlabError(
                f"{self.source}: corrupt video, decoding failed at frame {index} "
                f"({_ffmpeg_reason(exc)})"
            ) from exc

    # -- properties ------------------------------------------------------------------
    @property
    def info(self) -> VideoInfo:
        """Size, rate and frame count of what this reader yields (counts lazily)."""
        assert self._info is not None
        if self._info.num_frames < 0:
            total = _count_frames(self.source)
            stop = total if self.stop is None else min(self.stop, total)
            self._info = replace(self._info, num_frames=max(stop - self.start, 1))
        return self._info

    @property
    def fps(self) -> float:
        """Frames per second."""
        assert self._info is not None
        return self._info.fps

    @property
    def rate(self) -> Fraction:
        """Exact frame rate (a fraction, e.g. 30000/1001) for writing a copy."""
        if self._container is None:
            return Fraction(self.fps).limit_denominator(1001)
        return self._rate

    def pop_pts(self) -> int | None:
        """Presentation timestamp (in :attr:`time_base` ticks) of the oldest frame yielded
        and not yet popped; None for frame folders, frames without one, or none left.

        A writer that makes one output frame per source frame, in order, pops one per frame
        written (``VideoWriter(..., source=reader)``), even while the reader runs ahead.
        """
        return self._pts.popleft() if self._pts else None

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames yielded."""
        assert self._info is not None
        return (self._info.width, self._info.height)

    # -- iteration -------------------------------------------------------------------
    def __iter__(self) -> Iterator[np.ndarray]:
        if self._first is None:
            raise MotionlabError(f"{self.source}: a VideoReader can be iterated only once")
        first, self._first = self._first, None
        yield first
        assert self._iter is not None
        yield from self._iter

    def close(self) -> None:
        """Release the decoder (safe to call twice)."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _rotation_of(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> int:
    """Counter-clockwise display rotation in degrees, (-180, 180]: the frame's display
    matrix, else the stream's ``rotate`` tag (clockwise degrees, older files)."""
    degrees = 0.0
    with contextlib.suppress(Exception):  # no display matrix, or one PyAV cannot read
        degrees = float(frame.rotation or 0)
    if not degrees:
        tag = stream.metadata.get("rotate")
        with contextlib.suppress(TypeError, ValueError):
            degrees = -float(tag) if tag is not None else 0.0
    d = round(degrees) % 360
    return d - 360 if d > 180 else d


def _ffmpeg_reason(exc: av.FFmpegError) -> str:
    return getattr(exc, "strerror", None) or str(exc).splitlines()[0]


def _count_frames(path: Path) -> int:
    """Frame count from container metadata, else by demuxing packets (no decoding)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.frames:
            return int(stream.frames)
        return sum(1 for p in container.demux(stream) if p.size)


def probe(source: str | os.PathLike[str], *, fps: float | None = None) -> VideoInfo:
    """Size, frame rate and frame count of a video or frame folder (decodes one frame)."""
    with VideoReader(source, fps=fps) as reader:
        return reader.info


def iter_frames(source: str | os.PathLike[str], **kwargs: object) -> Iterator[np.ndarray]:
    """Yield RGB ``(H, W, 3)`` uint8 frames; keyword arguments as :class:`VideoReader`."""
    with VideoReader(source, **kwargs) as reader:  # type: ignore[arg-type]
        yield from reader


def read_video(source: str | os.PathLike[str], **kwargs: object) -> np.ndarray:
    """Read all frames into one ``(T, H, W, 3)`` uint8 array (short clips only)."""
    return np.stack(list(iter_frames(source, **kwargs)))


# ----------------------------------------------------------------------------------------
# writing


def is_folder_target(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` names a frame folder output: it ends with ``/`` or is a folder."""
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or Path(text).is_dir()


def codec_for(path: str | os.PathLike[str], codec: str | None = None) -> str:
    """The codec used for ``path``: ``codec`` if given (checked), else chosen by suffix.

    ``.mp4/.mov/.m4v`` -> ``h264``; ``.mkv/.avi`` -> ``ffv1`` (lossless); a folder
    target -> ``png``.
    """
    if is_folder_target(path):
        if codec not in (None, "png"):
            raise MotionlabError(
                f"{path}: a folder output holds PNG frames; codec {codec!r} needs a file "
                "name such as out.mkv"
            )
        return "png"
    suffix = Path(path).suffix.lower()
    if codec is None:
        if suffix not in _SUFFIX_CODEC:
            raise MotionlabError(
                f"{path}: unknown output type {suffix or '(no suffix)'!r}; use .mp4 (H.264), "
                ".mkv (lossless FFV1), or a folder name ending in '/' for PNG frames"
            )
        return _SUFFIX_CODEC[suffix]
    if codec not in CODECS:
        raise MotionlabError(f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}")
    if codec == "png":
        raise MotionlabError(f"{path}: codec 'png' writes a folder; end the name with '/'")
    if suffix not in _CODEC_SUFFIXES[codec]:
        raise MotionlabError(
            f"{path}: codec {codec!r} cannot be stored in {suffix or 'a file without suffix'};"
            f" use {' or '.join(_CODEC_SUFFIXES[codec])}"
        )
    return codec


_AFD_SUFFIX_CODEC = {
    ".mp4": "x264rgb",
    ".mov": "x264rgb",
    ".m4v": "x264rgb",
    ".mkv": "ffv1",
    ".avi": "raw",
}


def afd_codec_for(path: str | os.PathLike[str], codec: str | None = None) -> str:
    """Like :func:`codec_for`, but lossless by default for every suffix (for noise videos):
    ``.avi`` -> ``raw`` (uncompressed: i.i.d. noise does not compress, and this is the
    fastest), ``.mkv`` -> ``ffv1``, ``.mp4/.mov/.m4v`` -> ``x264rgb`` (libx264rgb qp 0)."""
    if codec is None and not is_folder_target(path):
        suffix = Path(path).suffix.lower()
        if suffix in _AFD_SUFFIX_CODEC:
            codec = _AFD_SUFFIX_CODEC[suffix]
    return codec_for(path, codec)


class VideoWriter:
    """Write RGB frames to a video file or PNG frame folder, atomically.

    Frames go to a hidden temporary file (or folder) beside ``path``; :meth:`close`
    renames it onto ``path`` (or streams it into a character device or FIFO; see
    :mod:`motionlab.atomic`). Leaving the ``with`` block by an exception removes the
    temporary output and leaves ``path`` untouched.

    Parameters
    ----------
    path : path
        Output file, or a folder (name ending in ``/`` or an existing folder) for PNGs.
    fps : float or Fraction
        Frame rate.
    codec : {"h264", "ffv1", "x264rgb", "png"}, optional
        Default by suffix (see :func:`codec_for`).
    crf : int
        H.264 constant rate factor (0-51, lower is better; 18 is visually lossless).
    preset : str
        x264 speed preset for ``h264`` (``x264rgb`` always uses ``ultrafast``: lossless
        output is identical, only the file size differs).
    metadata : dict of str, optional
        Provenance stored with the output: container tags of a video file, or
        ``metadata.json`` inside a PNG folder (read back with :func:`read_metadata`).
    source : VideoReader, optional
        The reader of the video the frames are made from, one output frame per source
        frame, in order. The output then keeps the source's timestamps (frame ``k`` gets
        the pts of the ``k``-th frame the reader yielded, in the source's time base, minus
        that of the first frame when the reader starts later than frame 0) and rotation
        (display matrix). AVI keeps one frame per ``1/fps`` tick: timestamps are rounded to
        that grid, and it records no rotation; a PNG folder keeps neither (a warning says
        so). Missing or non-increasing source timestamps continue at the nominal rate (a
        warning says so).
    keep_audio : bool
        Copy the audio streams of ``source`` (needs ``source``), packet by packet, trimmed
        to the frames read; a codec the output container cannot hold is transcoded (AAC in
        mp4/mov, FLAC in mkv, PCM in avi) and a warning says so. Without it, a source with
        audio gets a warning that the output has none.

    Notes
    -----
    H.264 in yuv420p needs even width and height: odd frames are padded by one
    replicated row/column (a warning is logged). Lossless codecs keep any size.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fps: float | Fraction,
        codec: str | None = None,
        crf: int = 18,
        preset: str = "medium",
        metadata: dict[str, str] | None = None,
        source: VideoReader | None = None,
        keep_audio: bool = False,
    ) -> None:
        self.path = Path(path)
        self.metadata = dict(metadata or {})
        self.codec = codec_for(path, codec)
        if not 0 <= crf <= 51:
            raise MotionlabError(f"crf must be in 0..51, got {crf}")
        if not float(fps) > 0:
            raise MotionlabError(f"fps must be positive, got {fps}")
        self.fps = fps
        self.crf, self.preset = crf, preset
        self.count = 0
        self._size: tuple[int, int] | None = None
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._pad = (0, 0)
        if keep_audio and source is None:
            raise MotionlabError("keep_audio needs the source's reader (source=reader)")
        self._source, self.keep_audio = source, keep_audio
        self._tb: Fraction | None = None  # time base of the pts copied from the source
        self._grid = False  # AVI: pts rounded to ticks of 1 / fps
        self._offset: int | None = None  # source pts subtracted (a reader that starts late)
        self._last_pts: int | None = None
        self._pts_warned = False
        self._end = 0.0  # output time (s) at which the last frame written ends
        self._audio: _AudioPass | None = None
        self._tmp = temp_sibling(self.path, directory=self.codec == "png")
        self._done = False
        if source is not None:
            self._announce(source)

    def _announce(self, source: VideoReader) -> None:
        """Warn about what this output cannot keep of ``source`` (before any work)."""
        avi = self.path.suffix.lower() == ".avi"
        if source.audio_streams and not self.keep_audio:
            log.warning(
                "%s has %d audio stream(s); %s will have no audio (keep_audio=True, "
                "--keep-audio, copies it)", source.source, source.audio_streams, self.path,
            )  # fmt: skip
        elif source.audio_streams and self.codec == "png":
            log.warning(
                "%s: a folder of PNG frames holds no audio; the %d audio stream(s) of %s are "
                "not kept (write a video file to keep them)",
                self.path, source.audio_streams, source.source,
            )  # fmt: skip
        if source.rotation and (avi or self.codec == "png"):
            log.warning(
                "%s: %s records no rotation; %s is shown turned by %d degrees, the output "
                "is stored unturned (write .mkv or .mp4 to keep it)",
                self.path, "AVI" if avi else "a PNG folder", source.source, source.rotation,
            )  # fmt: skip

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB ``(H, W, 3)`` uint8 frame; every frame must have one size."""
        if self._done:
            raise MotionlabError(f"{self.path}: writer is already closed")
        frame = check_frame(frame)
        h, w = frame.shape[:2]
        if self._size is None:
            self._size = (w, h)
            if self.codec != "png":
                self._open_stream(w, h)
        elif self._size != (w, h):
            raise MotionlabError(
                f"{self.path}: frame {self.count} is {w}x{h} but the first frame is "
                f"{self._size[0]}x{self._size[1]}; all frames must have one size"
            )
        if self.codec == "png":
            out = self._tmp / f"{self.count:05d}.png"
            # encode in memory, write from Python: a failed write (full disk) raises an
            # OSError naming the file instead of libpng printing to stderr
            ok, data = cv2.imencode(".png", frame[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 3])
            if not ok:
                raise MotionlabError(f"{self.path}: could not encode frame {self.count} as PNG")
            out.write_bytes(data.tobytes())
        else:
            if self._pad != (0, 0):
                frame = np.pad(frame, ((0, self._pad[1]), (0, self._pad[0]), (0, 0)), "edge")
            assert self._container is not None and self._stream is not None
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            if self._tb is not None:
                vf.pts, vf.time_base = self._next_pts(), self._tb
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
            if self._source is not None:
                start = self.count / float(self.fps) if vf.pts is None else float(vf.pts * self._tb)
                self._end = start + 1 / float(self.fps)
                if self._audio is not None:  # interleave: the audio up to this frame
                    self._audio.feed(until=start)
        self.count += 1

    def _next_pts(self) -> int:
        """Output pts of the next frame: the source's, shifted, checked to increase."""
        assert self._source is not None and self._tb is not None
        raw, src_tb = self._source.pop_pts(), self._source.time_base
        assert src_tb is not None
        if self._offset is None:
            self._offset = raw if raw is not None and self._source.start > 0 else 0
            if self._audio is not None:
                self._audio.offset = float(self._offset * src_tb)
        want = None
        if raw is not None:
            want = round((raw - self._offset) * src_tb / self._tb)
        if want is None or (self._last_pts is not None and want <= self._last_pts):
            step = max(1, round(1 / (Fraction(self.fps) * self._tb)))
            nxt = 0 if self._last_pts is None else self._last_pts + step
            if not self._pts_warned:  # once per output
                log.warning(
                    "%s: source frame %d has %s; it and any such later frame are given the "
                    "next time at the nominal rate%s", self.path, self.count,
                    "no timestamp" if raw is None else "a timestamp not after the previous one",
                    " (AVI holds one frame per 1/fps tick)" if self._grid else "",
                )  # fmt: skip
                self._pts_warned = True
            want = nxt
        self._last_pts = want
        return want

    def _open_stream(self, w: int, h: int) -> None:
        rate = self.fps if isinstance(self.fps, Fraction) else Fraction(self.fps)
        rate = rate.limit_denominator(1001000)
        options = {}
        if self.metadata and self.path.suffix.lower() in (".mp4", ".mov", ".m4v"):
            options["movflags"] = "+use_metadata_tags"  # keep custom tags in mp4/mov
        if self.keep_audio and self._source is not None and self._source.audio_streams:
            # audio packets before time 0 (AAC priming from mp4: pts -1024) must not shift
            # every stream, the video included, as mkv's default would (tested)
            options["avoid_negative_ts"] = "disabled"
        self._container = av.open(str(self._tmp), mode="w", options=options)
        self._container.metadata.update(self.metadata)
        if self.codec == "h264":
            self._pad = (w % 2, h % 2)
            if self._pad != (0, 0):
                log.warning("H.264 (yuv420p) needs even sizes: padding %dx%d by one pixel", w, h)
            stream = self._container.add_stream("libx264", rate=rate)
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(self.crf), "preset": self.preset}
        elif self.codec == "raw":
            stream = self._container.add_stream("rawvideo", rate=rate)
            stream.pix_fmt = "bgr24"
        elif self.codec == "x264rgb":
            stream = self._container.add_stream("libx264rgb", rate=rate)
            stream.pix_fmt = "rgb24"
            stream.options = {"qp": "0", "preset": "ultrafast"}
        else:  # ffv1
            stream = self._container.add_stream("ffv1", rate=rate)
            stream.pix_fmt = "bgr0"
            stream.options = {"level": "3", "slices": "4", "threads": "2"}
        stream.width, stream.height = w + self._pad[0], h + self._pad[1]
        self._stream = stream
        if self._source is not None:
            self._keep_from_source(stream, rate)

    def _keep_from_source(self, stream: av.video.stream.VideoStream, rate: Fraction) -> None:
        """Time base, rotation and audio streams of the source, set before the header."""
        src = self._source
        assert src is not None and self._container is not None
        avi = self.path.suffix.lower() == ".avi"
        if src.time_base is not None:
            if avi:  # AVI: one frame per tick of 1/rate
                self._grid, self._tb = True, 1 / rate
            else:
                self._tb = src.time_base
                stream.time_base = src.time_base
                stream.codec_context.time_base = src.time_base
        if src.rotation and not avi:
            stream.set_display_rotation(src.rotation)
        if self.keep_audio and src.audio_streams:
            self._audio = _AudioPass(src.source, self._container, label=str(self.path))

    def close(self) -> None:
        """Finish encoding and rename the output onto ``path``.

        Raises
        ------
        MotionlabError
            If no frame was written (an empty video is never produced).
        """
        if self._done:
            return
        self._done = True
        try:
            if self.count == 0:
                raise MotionlabError(f"{self.path}: no frames to write")
            if self._container is not None:
                assert self._stream is not None
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
                if self._audio is not None:  # the rest, up to the end of the frames read
                    trimmed = self._source is not None and self._source.stop is not None
                    self._audio.finish(end=self._end if trimmed else None)
                    self._audio = None
                self._container.close()
                self._container = None
        except BaseException:
            self._discard()
            raise
        if self.codec == "png":
            if self.metadata:
                text = json.dumps(self.metadata, indent=2) + "\n"
                (self._tmp / METADATA_FILE).write_text(text)
            commit_dir(self._tmp, self.path)
        else:
            commit_file(self._tmp, self.path)  # streams into a device or FIFO
            # .avi keeps no free-form tags: the record goes to <output>.motionlab.json
            sidecar_for(self.path, self.metadata)

    def abort(self) -> None:
        """Drop everything written so far; ``path`` is left untouched."""
        if not self._done:
            self._done = True
            self._discard()

    def _discard(self) -> None:
        if self._audio is not None:
            self._audio.close()
            self._audio = None
        if self._container is not None:
            with contextlib.suppress(av.FFmpegError):
                self._container.close()
            self._container = None
        if self._tmp.is_dir():
            shutil.rmtree(self._tmp, ignore_errors=True)
        else:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:  # an abandoned writer must not leave temporary files
        if not getattr(self, "_done", True):
            self.abort()


_AUDIO_FALLBACK = {".mp4": "aac", ".mov": "aac", ".m4v": "aac", ".mkv": "flac", ".avi": "pcm_s16le"}
"""Audio codec an output suffix gets when it cannot hold the source's codec."""


class _AudioPass:
    """The audio streams of a source file, muxed into an output beside its video in time
    order: copied packet by packet, or decoded and re-encoded where the output container
    cannot hold the codec (:data:`_AUDIO_FALLBACK`).

    ``offset`` (seconds) is subtracted from every timestamp; packets that then start before
    0 or at/after the ``end`` given to :meth:`finish` are dropped (trimmed outputs).
    """

    def __init__(self, source: Path, output: av.container.OutputContainer, *, label: str):
        self._in = av.open(str(source))
        self._output = output
        streams = list(self._in.streams.audio)
        supported = output.supported_codecs
        self._map: dict[int, tuple[av.stream.Stream, bool]] = {}
        suffix = Path(label).suffix.lower()
        for s in streams:
            name = s.codec_context.name
            if name in supported:
                self._map[s.index] = (output.add_stream_from_template(s), False)
                continue
            target = _AUDIO_FALLBACK.get(suffix, "aac")
            out = output.add_stream(target, rate=s.rate)
            out.layout = s.layout.name
            self._map[s.index] = (out, True)
            log.warning(
                "%s: the container cannot hold %s audio (stream %d of %s): transcoded to %s",
                label, name, s.index, source, target,
            )  # fmt: skip
        self._streams = streams
        self._packets = self._in.demux(*streams)
        self._held: av.Packet | None = None
        self.offset = 0.0

    def feed(self, until: float | None, end: float | None = None) -> None:
        """Mux the packets that start before ``until`` (output seconds; None: all)."""
        while True:
            pkt, self._held = self._held or next(self._packets, None), None
            if pkt is None:
                return
            if pkt.size == 0 or pkt.time_base is None:  # end-of-stream flush packet
                continue
            ts = pkt.pts if pkt.pts is not None else pkt.dts
            t = -self.offset if ts is None else float(ts * pkt.time_base) - self.offset
            if until is not None and t >= until:
                self._held = pkt
                return
            t_end = t + float((pkt.duration or 0) * pkt.time_base)
            if (self.offset > 0 and t_end <= 1e-6) or (end is not None and t >= end - 1e-6):
                continue  # ends before the first frame read, or starts after the last
            self._mux(pkt)

    def _mux(self, pkt: av.Packet) -> None:
        out, transcode = self._map[pkt.stream.index]
        shift = round(self.offset / pkt.time_base)
        if not transcode:
            if pkt.pts is not None:
                pkt.pts -= shift
            if pkt.dts is not None:
                pkt.dts -= shift
            pkt.stream = out
            self._output.mux(pkt)
            return
        for frame in pkt.stream.decode(pkt):
            if frame.pts is not None:
                frame.pts -= shift
            self._output.mux(out.encode(frame))

    def finish(self, *, end: float | None) -> None:
        """Mux the rest (up to ``end`` seconds if given), flush the encoders, close."""
        self.feed(None, end=end)
        for s in self._streams:
            out, transcode = self._map[s.index]
            if transcode:
                for frame in s.decode(None):
                    self._output.mux(out.encode(frame))
                self._output.mux(out.encode(None))
        self.close()

    def close(self) -> None:
        """Close the source (safe to call twice)."""
        self._in.close()


@contextlib.contextmanager
def optional_writer(
    path: str | os.PathLike[str] | None, **kwargs: object
) -> Iterator[VideoWriter | None]:
    """A :class:`VideoWriter` for ``path`` (``kwargs`` as for it) as a context, or ``None``
    when ``path`` is ``None``: for a second output beside the main one (flow, saliency)
    that is written whole on success and removed on any failure."""
    if path is None:
        yield None
        return
    with VideoWriter(path, **kwargs) as writer:
        yield writer


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    *,
    fps: float | Fraction,
    codec: str | None = None,
    crf: int = 18,
    metadata: dict[str, str] | None = None,
) -> int:
    """Write RGB frames (an iterable or a ``(T, H, W, 3)`` array) atomically.

    Returns the number of frames written. See :class:`VideoWriter` for the codecs.
    """
    with VideoWriter(path, fps=fps, codec=codec, crf=crf, metadata=metadata) as writer:
        for frame in frames:
            writer.write(frame)
    return writer.count


def read_metadata(source: str | os.PathLike[str]) -> dict[str, str]:
    """Provenance tags written with :class:`VideoWriter` ``metadata`` (empty if none).

    Container formats may add tags of their own (e.g. ``encoder``); keys are lower-cased
    by some containers.
    """
    source = Path(source)
    side = sidecar_path(source)
    if side.is_file():  # containers without free-form tags (.avi): see motionlab.provenance
        return {TAG: side.read_text()}
    if source.is_dir():
        meta = source / METADATA_FILE
        return json.loads(meta.read_text()) if meta.is_file() else {}
    try:
        with av.open(str(source)) as container:
            return {k.lower(): v for k, v in container.metadata.items()}
    except av.FFmpegError as exc:
        raise MotionlabError(f"{source}: not a readable video ({_ffmpeg_reason(exc)})") from exc


def write_gif(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    *,
    fps: float,
    max_frames: int = 100,
    max_width: int = 480,
) -> int:
    """Write an animated GIF for viewing (docs, READMEs), atomically.

    GIF has 256 colours per frame: it is a preview, not a lossless copy. At most
    ``max_frames`` frames are used, downscaled to ``max_width`` pixels wide (nearest
    neighbour, so noise stays crisp). Returns the number of frames written.
    """
    from motionlab.atomic import atomic_file

    images = []
    for i, frame in enumerate(frames):
        if i >= max_frames:
            break
        frame = check_frame(frame)
        h, w = frame.shape[:2]
        if w > max_width:
            frame = cv2.resize(
                frame, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_NEAREST
            )
        images.append(Image.fromarray(frame))
    if not images:
        raise MotionlabError(f"{path}: no frames to write")
    with atomic_file(path) as tmp:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=round(1000 / fps),
            loop=0,
        )
    return len(images)
