"""Small synthetic videos with known motion, for demos, tests and a first run without data.

The scene: a smooth random texture panning slowly (camera motion) and a textured disc
moving over it at its own velocity. Both motions are exact sub-pixel translations, so the
forward flow is known everywhere except where the disc uncovers background.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from motionlab.errors import MotionlabError


def smooth_texture(
    height: int, width: int, *, sigma: float = 2.0, rng: np.random.Generator
) -> np.ndarray:
    """A random RGB texture: Gaussian-blurred uniform noise stretched to 0..255.

    Returns
    -------
    (height, width, 3) float32 ndarray in 0..255.
    """
    noise = rng.random((height, width, 3), dtype=np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), sigma)
    lo, hi = blurred.min(), blurred.max()
    return (blurred - lo) / max(hi - lo, 1e-6) * 255.0


def shift_image(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Translate ``image`` by (dx, dy) pixels (content moves right/down), bicubic, edges
    replicated. ``out[y, x] = image[y - dy, x - dx]``."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    h, w = image.shape[:2]
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


@dataclass(frozen=True)
class SceneSpec:
    """Motion of the synthetic scene, in pixels per frame (u right, v down)."""

    background_velocity: tuple[float, float] = (0.75, 0.25)
    disc_velocity: tuple[float, float] = (3.0, -1.0)
    disc_radius_fraction: float = 0.18


def moving_disc_scene(
    num_frames: int = 48,
    *,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    spec: SceneSpec = SceneSpec(),
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(frame, forward_flow)`` for each frame of the synthetic scene.

    Parameters
    ----------
    num_frames : int
        Number of frames (>= 2).
    size : (width, height)
        Frame size in pixels.
    seed : int
        Seed of the textures.

    Yields
    ------
    frame : (H, W, 3) uint8 ndarray
        RGB frame t.
    flow : (H, W, 2) float32 ndarray
        True forward flow of pair (t, t+1) (the last frame repeats the velocities).
    """
    if num_frames < 2:
        raise MotionlabError(f"num_frames must be >= 2, got {num_frames}")
    w, h = size
    if w < 16 or h < 16:
        raise MotionlabError(f"size must be at least 16x16, got {w}x{h}")
    rng = np.random.default_rng(seed)
    bvx, bvy = spec.background_velocity
    dvx, dvy = spec.disc_velocity
    margin = int(np.ceil(max(abs(bvx), abs(bvy)) * num_frames)) + 8
    background = smooth_texture(h + 2 * margin, w + 2 * margin, sigma=5.0, rng=rng)
    radius = spec.disc_radius_fraction * min(w, h)
    r_int = int(np.ceil(radius)) + 4
    disc_tex = smooth_texture(2 * r_int + 1, 2 * r_int + 1, sigma=2.5, rng=rng)
    disc_tex = 255.0 - disc_tex  # inverted contrast, so the disc stands out
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Start so that the disc crosses the frame's centre halfway through the clip.
    cx0 = w / 2 - dvx * (num_frames - 1) / 2
    cy0 = h / 2 - dvy * (num_frames - 1) / 2
    for t in range(num_frames):
        bg = shift_image(background, bvx * t, bvy * t)[margin : margin + h, margin : margin + w]
        cx, cy = cx0 + dvx * t, cy0 + dvy * t
        # Disc texture sampled in the disc's own coordinates (moves rigidly with it).
        map_x = (xx - cx + r_int).astype(np.float32)
        map_y = (yy - cy + r_int).astype(np.float32)
        tex = cv2.remap(disc_tex, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        alpha = np.clip(radius + 0.5 - np.hypot(xx - cx, yy - cy), 0.0, 1.0)[..., None]
        frame = alpha * tex + (1 - alpha) * bg
        flow = np.empty((h, w, 2), np.float32)
        inside = alpha[..., 0] >= 0.5
        flow[..., 0] = np.where(inside, dvx, bvx)
        flow[..., 1] = np.where(inside, dvy, bvy)
        yield np.clip(frame + 0.5, 0, 255).astype(np.uint8), flow


def sample_video_frames(
    num_frames: int = 48, *, size: tuple[int, int] = (320, 240), seed: int = 0
) -> Iterator[np.ndarray]:
    """Just the frames of :func:`moving_disc_scene`."""
    for frame, _ in moving_disc_scene(num_frames, size=size, seed=seed):
        yield frame


def two_part_scene(
    num_frames: int = 40, *, size: tuple[int, int] = (160, 120), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A two-part object over a panning background, with ground-truth part labels.

    A reddish textured "body" (a rectangle) moves right at 1.5 px/frame; a bluish "limb"
    (a narrower rectangle standing on the body) moves with it and also swings up and down
    relative to it (amplitude 0.08 x height, period 16 frames); the greenish background
    pans left at 0.5 px/frame. Used to check that STVI splits an object into its parts.

    Returns
    -------
    frames : (T, H, W, 3) uint8 ndarray
    parts : (T, H, W) uint8 ndarray
        0 = background, 1 = body, 2 = limb.
    """
    w, h = size
    rng = np.random.default_rng(seed)

    def tinted(hh: int, ww: int, tint: tuple[float, float, float]) -> np.ndarray:
        tex = smooth_texture(hh, ww, sigma=1.5, rng=rng).astype(np.float32)
        return np.clip(0.35 * tex + np.array(tint, np.float32) * 0.65, 0, 255).astype(np.uint8)

    bg = tinted(h, w + num_frames, (60, 150, 70))
    bw, bh = int(0.3 * w), int(0.25 * h)
    lw, lh = int(0.12 * w), int(0.3 * h)
    body = tinted(bh, bw, (210, 70, 50))
    limb = tinted(lh, lw, (50, 80, 210))
    frames = np.empty((num_frames, h, w, 3), np.uint8)
    parts = np.zeros((num_frames, h, w), np.uint8)
    for t in range(num_frames):
        frame = shift_image(bg, -0.5 * t, 0)[:, :w].copy()
        bx = round(0.15 * w + 1.5 * t)
        by = int(0.55 * h)
        swing = round(0.08 * h * np.sin(2 * np.pi * t / 16))
        lx, ly = bx + (bw - lw) // 2, by - lh + 4 + swing
        frame[by : by + bh, bx : bx + bw] = body[:, : max(0, min(bw, w - bx))]
        parts[t, by : by + bh, bx : bx + bw] = 1
        frame[ly : ly + lh, lx : lx + lw] = limb
        parts[t, ly : ly + lh, lx : lx + lw] = 2
        frames[t] = frame
    return frames, parts
