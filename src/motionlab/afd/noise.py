"""Motion-consistent noise: initialisation, nearest-neighbour warping, occlusion refill,
i.i.d. noise, and noise advected by optical flow with every frame i.i.d.

Noise values are drawn per channel from a uniform distribution over ``[low, high]``
(integers 0..255 by default; thesis eq. 5.3 uses ``[mean - std, mean + std]`` of a video or a
dataset, see :meth:`NoiseRange.from_mean_std`). All randomness comes from a
``numpy.random.Generator`` built from an explicit seed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from motionlab.afd import _kernels
from motionlab.errors import MotionlabError
from motionlab.flow.io import check_flow


@dataclass(frozen=True)
class NoiseRange:
    """Per-channel range of uniform noise values, in 0..255 (inclusive).

    Attributes
    ----------
    low, high : (3,) tuple of float
        Lower and upper bound per RGB channel.
    grayscale : bool
        One noise channel repeated over R, G, B (range of the first channel).
    """

    low: tuple[float, float, float] = (0.0, 0.0, 0.0)
    high: tuple[float, float, float] = (255.0, 255.0, 255.0)
    grayscale: bool = False

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.low, float), np.asarray(self.high, float)
        if lo.shape != (3,) or hi.shape != (3,):
            raise MotionlabError("noise low/high need three values (R, G, B)")
        if (lo < 0).any() or (hi > 255).any() or (hi < lo).any():
            raise MotionlabError(
                f"noise range must satisfy 0 <= low <= high <= 255, got {lo}..{hi}"
            )

    @classmethod
    def from_mean_std(
        cls, mean: tuple[float, ...], std: tuple[float, ...], *, grayscale: bool = False
    ) -> NoiseRange:
        """Uniform over ``[mean - std, mean + std]`` per channel (thesis eq. 5.3), clipped to
        0..255. ``mean``/``std`` are in 0..255 units (e.g. from :func:`video_mean_std`)."""
        m = np.broadcast_to(np.asarray(mean, float), (3,))
        s = np.broadcast_to(np.asarray(std, float), (3,))
        lo = np.clip(m - s, 0, 255)
        hi = np.clip(m + s, 0, 255)
        return cls(tuple(lo.tolist()), tuple(hi.tolist()), grayscale)  # type: ignore[arg-type]

    @property
    def channels(self) -> int:
        """Independent noise channels: 1 for grayscale, else 3."""
        return 1 if self.grayscale else 3

    def quantize(self, u: np.ndarray) -> np.ndarray:
        """Map uniform samples ``u`` in [0, 1) of shape ``(H, W, C)`` to uint8 RGB values.

        Value = floor(low + u * (high + 1 - low)), clipped to [low, high]: every integer of
        the range is equally likely (for the default range: floor(256 u)).
        """
        c = u.shape[-1]
        lo = np.asarray(self.low[:c], np.float32)
        hi = np.asarray(self.high[:c], np.float32)
        v = np.floor(lo + u * (hi + 1 - lo))
        v = np.clip(v, np.floor(lo), np.floor(hi)).astype(np.uint8)
        if c == 1:
            v = np.repeat(v, 3, axis=-1)
        return v


def video_mean_std_stream(
    frames: Iterable[np.ndarray],
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation (0..255 units) of a stream of RGB frames,
    in one pass and constant memory (per-frame sums in float64)."""
    n = 0
    s1 = np.zeros(3)
    s2 = np.zeros(3)
    for frame in frames:
        x = frame.reshape(-1, 3).astype(np.float64)
        n += x.shape[0]
        s1 += x.sum(0)
        s2 += (x * x).sum(0)
    if n == 0:
        raise MotionlabError("no frames to compute mean and std from")
    mean = s1 / n
    std = np.sqrt(np.maximum(s2 / n - mean**2, 0.0))
    return tuple(mean.tolist()), tuple(std.tolist())


def uniform_noise(
    height: int, width: int, *, noise: NoiseRange = NoiseRange(), rng: np.random.Generator
) -> np.ndarray:
    """One frame of i.i.d. uniform noise: ``(height, width, 3)`` uint8."""
    u = rng.random((height, width, noise.channels), dtype=np.float32)
    return noise.quantize(u)


def sample_nearest(image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Backward warping with nearest-neighbour sampling: ``out[p] = image[round(p + flow[p])]``.

    Parameters
    ----------
    image : (H, W, C) ndarray
    flow : (H, W, 2) float ndarray
        Sampling offsets in pixels (u, v), defined on the *output* grid: to move the content
        of frame t-1 onto frame t, pass the backward flow of pair (t-1, t).

    Returns
    -------
    warped : (H, W, C) ndarray
        Out-of-frame samples are taken from the nearest border pixel.
    inside : (H, W) bool ndarray
        True where ``p + flow[p]`` falls inside the image.
    """
    flow = check_flow(flow)
    h, w = flow.shape[:2]
    if image.shape[:2] != (h, w):
        raise MotionlabError(f"image {image.shape[:2]} and flow {(h, w)} differ in size")
    ys, xs = np.mgrid[0:h, 0:w]
    sx = np.rint(xs + flow[..., 0])
    sy = np.rint(ys + flow[..., 1])
    inside = (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
    sx = np.clip(sx, 0, w - 1).astype(np.intp)
    sy = np.clip(sy, 0, h - 1).astype(np.intp)
    return image[sy, sx], inside


def occlusion_mask(
    flow_ab: np.ndarray, flow_ba: np.ndarray, *, alpha: float = 0.01, beta: float = 0.5
) -> np.ndarray:
    """Pixels of frame a whose flow to b is not confirmed by the flow back (occluded in b).

    Forward-backward consistency check of Sundaram, Brox & Keutzer (ECCV 2010):
    with q = p + F_ab(p), p is occluded when
    ``|F_ab(p) + F_ba(q)|^2 > alpha (|F_ab(p)|^2 + |F_ba(q)|^2) + beta``.

    Parameters
    ----------
    flow_ab : (H, W, 2) float ndarray
        Flow defined on frame a, pointing into frame b.
    flow_ba : (H, W, 2) float ndarray
        Flow defined on frame b, pointing into frame a.

    Returns
    -------
    (H, W) bool ndarray
        True where p is occluded in b or maps outside b.
    """
    from motionlab.flow.metrics import fb_inconsistent

    back, inside = sample_nearest(check_flow(flow_ba), flow_ab)
    return fb_inconsistent(check_flow(flow_ab), back, alpha=alpha, beta=beta) | ~inside


class AdvectedNoise:
    """Noise carried by particles that move with the optical flow; every frame i.i.d.

    Each pixel holds about ``density**2`` particles (at least one), each with its own
    standard-normal value per channel. A pixel's value is the sum of the values of the
    particles inside it divided by the square root of their number: exactly standard
    normal, whatever their number, and independent of every other pixel (no particle is in
    two pixels). The normal CDF maps it
    to a uniform sample, quantised to the noise range. So every single frame is i.i.d.
    uniform noise, while from frame to frame the particles, and with them the texture,
    move with the flow, sub-pixel motion included (a pixel whose particles move 0.3 px keeps
    ~70% of them). This is the discrete form of the "integral noise" of Chang et al., "How I
    Warped Your Noise" (ICLR 2024), with particles (Lagrangian advection) instead of their
    polygon rasterisation, and a CDF transform to obtain uniform rather than Gaussian noise.

    Particles leaving the frame are dropped. Pixels left with fewer than half their share
    (disocclusions, expansions, the entering border) are topped up with fresh particles on
    the pixel's sub-lattice; pixels with more than twice their share (occlusions,
    contractions) drop particles at random until they hold about their share again. Neither
    step changes the distribution of a frame.

    Parameters
    ----------
    height, width : int
        Frame size.
    density : int
        Particles per pixel along each axis (``density**2`` per pixel); 1 is the default,
        2 follows sub-pixel motion a little better at about twice the cost (the trade-off
        is measured in docs/benchmarks.md).
    noise : NoiseRange
        Value range and grayscale option.
    rng : numpy.random.Generator
    """

    def __init__(
        self,
        height: int,
        width: int,
        *,
        density: int = 1,
        noise: NoiseRange = NoiseRange(),
        rng: np.random.Generator,
    ) -> None:
        if density < 1:
            raise MotionlabError(f"density must be >= 1, got {density}")
        self.h, self.w, self.k = int(height), int(width), int(density)
        self.share = self.k * self.k
        self.noise, self.rng = noise, rng
        # particles sorted by pixel: pixel c holds particles start[c]:start[c + 1]
        offsets = (np.arange(self.k, dtype=np.float32) + 0.5) / self.k - 0.5
        oy, ox = np.meshgrid(offsets, offsets, indexing="ij")  # the pixel's sub-lattice
        cy, cx = np.mgrid[0 : self.h, 0 : self.w].astype(np.float32)
        hw = self.h * self.w
        n = hw * self.share
        tables = [
            _kernels.quantize_tables(noise.low[c], noise.high[c]) for c in range(noise.channels)
        ]
        self._base = np.stack([t[0] for t in tables])
        self._step = np.stack([t[1] for t in tables])
        # Two sets of particle buffers (x, y, values, offsets), swapped every frame.
        capacity = n + n // 4
        self._buffers = [self._allocate(capacity), self._allocate(capacity)]
        self._active, self._n = 0, n
        x, y, v, start = self._buffers[0]
        x[:n] = (cx.ravel()[:, None] + ox.ravel()[None, :]).ravel()
        y[:n] = (cy.ravel()[:, None] + oy.ravel()[None, :]).ravel()
        v[:n] = rng.standard_normal((n, noise.channels), dtype=np.float32)
        start[:] = np.arange(hw + 1, dtype=np.int32) * self.share
        self._new_cell = np.empty(capacity, np.int32)
        self._cursor = np.empty(hw, np.int32)
        self._frame = np.empty((hw, noise.channels), np.uint8)
        self._pool = (1024, 1024)  # sizes of the random pools of the next step
        _kernels.render(v[:n], start, self._base, self._step, self._frame)

    @property
    def num_particles(self) -> int:
        """Particles alive now."""
        return self._n

    @property
    def positions(self) -> np.ndarray:
        """``(N, 2)`` float32 particle positions (x, y) in pixels (a copy)."""
        x, y, _, _ = self._buffers[self._active]
        return np.stack([x[: self._n], y[: self._n]], axis=1)

    def render(self) -> np.ndarray:
        """The current noise frame: ``(H, W, 3)`` uint8, i.i.d. uniform over the range."""
        out = self._frame.reshape(self.h, self.w, -1).copy()
        return np.repeat(out, 3, axis=-1) if out.shape[-1] == 1 else out

    def advect(self, flow: np.ndarray) -> None:
        """Move the particles by ``flow``: the forward flow from the current frame to the next,
        ``(H, W, 2)`` float, sampled at each particle's nearest pixel."""
        flow = check_flow(flow)
        if flow.shape[:2] != (self.h, self.w):
            raise MotionlabError(f"flow {flow.shape[:2]} does not match noise {(self.h, self.w)}")
        n, a = self._n, self._active
        x, y, v, start = self._buffers[a]
        # Random pools for this step, sized from the last step's use (deterministic).
        normals = self.rng.standard_normal(self._pool[0], dtype=np.float32)
        uniforms = self.rng.random(self._pool[1], dtype=np.float32)
        while True:
            out = self._buffers[1 - a]
            status, written, n_normals, n_uniforms = _kernels.advect(
                x[:n], y[:n], v[:n], start, flow, self.share, normals, uniforms,
                *out, self._new_cell, self._cursor,
            )  # fmt: skip
            if status == _kernels.OK:
                break
            # a buffer or pool was too small: enlarge it and run the same step again
            if status == _kernels.OUT_OF_CAPACITY:
                self._buffers[1 - a] = self._allocate(written + written // 4)
            elif status == _kernels.OUT_OF_NORMALS:
                extra = self.rng.standard_normal(n_normals + 1024, dtype=np.float32)
                normals = np.concatenate([normals, extra])
            else:
                extra = self.rng.random(uniforms.size + 1024, dtype=np.float32)
                uniforms = np.concatenate([uniforms, extra])
        _kernels.render(out[2][:written], out[3], self._base, self._step, self._frame)
        self._pool = (max(1024, 2 * n_normals), max(1024, 2 * n_uniforms))
        self._active, self._n = 1 - a, written
        if self._new_cell.size < written:
            self._new_cell = np.empty(written + written // 4, np.int32)

    def _allocate(self, capacity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.empty(capacity, np.float32),
            np.empty(capacity, np.float32),
            np.empty((capacity, self.noise.channels), np.float32),
            np.empty(self.h * self.w + 1, np.int32),
        )
