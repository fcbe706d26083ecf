"""Make the pictures in docs/images from data that ships with the project or its packages.

Run: ``.venv/bin/python docs/make_pictures.py [flow] [afd] [stvi]`` (default all; writes
docs/images/flow_example.jpg, afd_triptych.gif, stvi_tubes.png and stvi_trajectories.png).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import skimage.data

from motionlab.flow import estimate, flow_to_color
from motionlab.synthetic import moving_disc_scene, two_part_scene

OUT = Path(__file__).resolve().parent / "images"


def legend(size: int = 120) -> np.ndarray:
    """The Middlebury colour wheel as a picture: flow (u, v) at each pixel = offset from centre."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = size / 2
    flow = np.stack([xx - r, yy - r], axis=-1)
    img = flow_to_color(flow, max_flow=r)
    img[np.hypot(xx - r, yy - r) > r] = 255
    return img


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def afd_triptych(path: Path, *, frames: int = 32, size: tuple[int, int] = (160, 120)) -> None:
    """Source | colour-coded flow | AFD of the sample video, as a GIF (what --triptych does)."""
    from motionlab.afd import afd_steps
    from motionlab.synthetic import sample_video_frames
    from motionlab.video import write_gif

    pictures = []
    for step in afd_steps(sample_video_frames(frames, size=size)):
        flow = step.flow.forward if step.flow is not None else None
        colour = np.full_like(step.source, 255) if flow is None else flow_to_color(flow)
        pictures.append(np.concatenate([step.source, colour, step.afd], axis=1))
    write_gif(path, pictures, fps=12, max_frames=frames, max_width=3 * size[0])


def stvi_pictures(frames_n: int = 48, size: tuple[int, int] = (240, 180)) -> None:
    """Tubes of the synthetic two-part object over four frames, with the x-t and y-t
    slices of the label volume (Fig. 6.5), and the centroid trajectories (Fig. 6.6)."""
    from motionlab.stvi import pictures
    from motionlab.stvi.tubes import stvi

    frames, parts = two_part_scene(frames_n, size=size, seed=3)
    anchors = {t: parts[t] > 0 for t in range(0, frames_n, 20)}
    labels = stvi(frames, anchors).labels
    strip = label(pictures.overlay_strip(frames, labels), "tubes (anchors every 20 frames)")
    xt, yt = pictures.spacetime_slices(labels)
    scale = 3  # time runs down, 3 pixels per frame
    xt = label(np.repeat(xt, scale, axis=0), "x-t slice")
    yt = label(np.repeat(yt, scale, axis=0).transpose(1, 0, 2), "y-t slice (time ->)")
    rows = max(xt.shape[0], yt.shape[0])
    xt, yt = (
        np.pad(x, ((0, rows - x.shape[0]), (0, 0), (0, 0)), constant_values=255) for x in (xt, yt)
    )
    gap = np.full((rows, 6, 3), 255, np.uint8)
    bottom = np.concatenate([xt, gap, yt], axis=1)
    width = max(strip.shape[1], bottom.shape[1])

    def pad(x: np.ndarray) -> np.ndarray:
        return np.pad(x, ((0, 0), (0, width - x.shape[1]), (0, 0)), constant_values=255)

    picture = np.concatenate([pad(strip), np.full((6, width, 3), 255, np.uint8), pad(bottom)])
    cv2.imwrite(str(OUT / "stvi_tubes.png"), picture[:, :, ::-1])
    pictures.plot_trajectories(labels, OUT / "stvi_trajectories.png")


def main() -> None:
    import sys

    OUT.mkdir(parents=True, exist_ok=True)
    todo = set(sys.argv[1:]) or {"flow", "afd", "stvi"}
    if "stvi" in todo:
        stvi_pictures()
    if "afd" in todo:
        afd_triptych(OUT / "afd_triptych.gif")
    if "flow" in todo:
        flow_pictures()


def flow_pictures() -> None:
    h = 240
    scene = list(moving_disc_scene(2, size=(320, 240)))
    (f0, gt), (f1, _) = scene
    row1 = [
        label(f0, "sample-video frame"),
        label(flow_to_color(gt), "true flow"),
        label(flow_to_color(estimate(f0, f1)), "DIS medium"),
    ]
    left, right, disp = skimage.data.stereo_motorcycle()
    gtm = np.zeros((*disp.shape, 2), np.float32)
    gtm[..., 0] = -disp
    gtm[~np.isfinite(disp)] = np.nan
    est = estimate(left, right)
    vmax = float(np.nanmax(np.abs(gtm[..., 0][np.isfinite(gtm[..., 0])])))

    def fit(img: np.ndarray) -> np.ndarray:
        return cv2.resize(img, (round(img.shape[1] * h / img.shape[0]), h), cv2.INTER_AREA)

    row2 = [
        label(fit(left), "Motorcycle (left)"),
        label(fit(flow_to_color(gtm, max_flow=vmax)), "true flow (-disparity)"),
        label(fit(flow_to_color(est, max_flow=vmax)), "DIS medium"),
    ]
    wheel = np.full((h, 160, 3), 255, np.uint8)
    wheel[60:180, 20:140] = legend()
    wheel = label(wheel, "colour key")
    top = np.concatenate([*row1, np.full((h, 2, 3), 255, np.uint8), wheel], axis=1)
    bottom = np.concatenate(row2, axis=1)
    width = max(top.shape[1], bottom.shape[1])

    def pad(x: np.ndarray) -> np.ndarray:
        return np.pad(x, ((0, 0), (0, width - x.shape[1]), (0, 0)), constant_values=255)

    picture = np.concatenate([pad(top), np.full((4, width, 3), 255, np.uint8), pad(bottom)])
    cv2.imwrite(str(OUT / "flow_example.jpg"), picture[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88])


if __name__ == "__main__":
    main()
