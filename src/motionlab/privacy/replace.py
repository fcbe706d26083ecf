"""What replaces the salient pixels: motion-consistent noise, or a baseline inside the mask.

Thesis eq. 5.5 blends a noise frame ``N_t`` into frame ``I_t`` with the saliency ``S_t``.
The same blend works for any replacement frame ``R_t``::

    O_t = I_t + S_t * (R_t - I_t)

so the naive baselines of Table 5.2 (:mod:`motionlab.privacy.baselines`), which the thesis
applies to the whole frame, can be applied *inside the saliency mask only*, as deface's
``--replacewith`` does inside face boxes: like is compared with like (the same region, the
same soft edge), only the replacement differs.

``R_t`` per replacement (all ``(H, W, 3)`` uint8, the size of the frame):

* ``noise`` (default): the appearance-free noise frame animated by the video's optical
  flow (:mod:`motionlab.afd`); not made here, see :func:`motionlab.privacy.obfuscate_steps`.
* ``blur``: the whole-frame blur baseline of ``I_t`` (Gaussian, kernel 21, sigma 10 at
  224x224 by default, Table 5.2's blur-strong).
* ``pixelate``: the whole-frame pixelation baseline of ``I_t`` (16x16 blocks at 224x224 by
  default, Table 5.2's pixelate16).
* ``mask``: one colour, the mean of ``I_t`` over the region weighted by the saliency,
  ``sum_p S(p) I(p) / sum_p S(p)`` per channel (for a binary mask: the region's mean
  colour, as the ``mask`` baseline fills a person).
* ``colour``: one fixed colour (black by default, as the ``mask-black`` baseline).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from motionlab.checks import check_frame
from motionlab.errors import MotionlabError
from motionlab.privacy.baselines import BLUR_SETTINGS, WORK_SIZE, blur, pixelate

REPLACEMENTS: tuple[str, ...] = ("noise", "blur", "pixelate", "mask", "colour")
"""Names of the replacements (``motionlab obfuscate --replace``)."""


@dataclass(frozen=True)
class Replacement:
    """The replacement ``R_t`` blended into the salient pixels, and its settings.

    Attributes
    ----------
    kind : {"noise", "blur", "pixelate", "mask", "colour"}
        See the module docs; ``noise`` is the thesis's method and the default.
    block : int
        ``pixelate``: side of the pooled blocks in pixels of the working size (16).
    kernel : int
        ``blur``: odd Gaussian kernel size in pixels of the working size (21).
    sigma : float
        ``blur``: Gaussian sigma in pixels of the working size (10).
    colour : (3,) tuple of int
        ``colour``: RGB fill, each 0..255 (black).
    work_size : (width, height) or None
        ``blur``/``pixelate`` work on the frame rescaled to this size and scale back, as
        the baselines do (224x224, the thesis's recogniser input); None: the frame's size.
    """

    kind: str = "noise"
    block: int = 16
    kernel: int = BLUR_SETTINGS["blur-strong"][0]
    sigma: float = BLUR_SETTINGS["blur-strong"][1]
    colour: tuple[int, int, int] = (0, 0, 0)
    work_size: tuple[int, int] | None = WORK_SIZE

    def __post_init__(self) -> None:
        if self.kind not in REPLACEMENTS:
            raise MotionlabError(
                f"unknown replacement {self.kind!r}; choose one of {', '.join(REPLACEMENTS)}"
            )
        if self.block < 1:
            raise MotionlabError(f"pixelation block must be >= 1 pixel, got {self.block}")
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise MotionlabError(f"blur kernel size must be odd and positive, got {self.kernel}")
        if not self.sigma > 0:
            raise MotionlabError(f"blur sigma must be positive, got {self.sigma}")
        if len(self.colour) != 3 or not all(0 <= c <= 255 for c in self.colour):
            raise MotionlabError(f"colour must be R,G,B with values 0..255, got {self.colour}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form with the settings that apply to this kind (provenance)."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind in ("blur", "pixelate"):
            out["work_size"] = None if self.work_size is None else list(self.work_size)
        if self.kind == "blur":
            out.update(kernel=self.kernel, sigma=self.sigma)
        elif self.kind == "pixelate":
            out["block"] = self.block
        elif self.kind == "colour":
            out["colour"] = list(self.colour)
        return out


def replacement_frame(
    frame: np.ndarray, saliency: np.ndarray, replacement: Replacement
) -> np.ndarray:
    """The replacement frame ``R_t`` of ``frame`` for every kind except ``noise``.

    Parameters
    ----------
    frame : (H, W, 3) uint8 ndarray
        Source frame I_t.
    saliency : (H, W) float ndarray
        S_t in [0, 1] (values outside are clipped); used by ``mask`` only.
    replacement : Replacement

    Returns
    -------
    (H, W, 3) uint8 ndarray
        R_t, to be blended with :func:`motionlab.privacy.blend`. For ``mask`` with an
        all-zero saliency (nothing to hide), the frame itself.

    Raises
    ------
    MotionlabError
        For ``noise`` (the noise depends on the whole video: use ``obfuscate_steps``) or a
        saliency map that is not ``(H, W)``.
    """
    frame = check_frame(frame)
    kind = replacement.kind
    if kind == "blur":
        return blur(
            frame, kernel=replacement.kernel, sigma=replacement.sigma,
            work_size=replacement.work_size,
        )  # fmt: skip
    if kind == "pixelate":
        return pixelate(frame, block=replacement.block, work_size=replacement.work_size)
    if kind == "colour":
        return np.broadcast_to(np.asarray(replacement.colour, np.uint8), frame.shape).copy()
    if kind == "mask":
        s = np.clip(np.asarray(saliency, np.float64), 0.0, 1.0)
        if s.shape != frame.shape[:2]:
            raise MotionlabError(f"saliency {s.shape} must have the frame's size {frame.shape[:2]}")
        total = s.sum()
        if total <= 0:
            return frame.copy()
        mean = np.tensordot(s, frame.astype(np.float64), axes=([0, 1], [0, 1])) / total
        colour = np.clip(np.rint(mean), 0, 255).astype(np.uint8)
        return np.broadcast_to(colour, frame.shape).copy()
    raise MotionlabError(
        "the noise replacement depends on the whole video's motion; use obfuscate_steps"
    )
