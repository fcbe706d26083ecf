"""Appearance-free video quality on real DAVIS sequences: motion kept, appearance leaked.

For every AFD mode (and the source frames as a reference), per sequence and on average:

* motion EPE: DIS-medium flow between consecutive AFD frames vs DIS-medium flow between the
  corresponding source frames, over all pixels and inside the object mask (px);
* leakage AUC: 5x5 patches of single AFD frames, equal numbers inside the (eroded) object
  mask and outside the (dilated) mask; features = the 75 raw values, the fractions of equal
  horizontally and vertically adjacent pixels, the patch std; a gradient-boosted classifier
  (scikit-learn's HistGradientBoostingClassifier) trained on even frames, ROC AUC on odd
  frames. 0.5 = nothing leaks.

Frames are read from ``../shared/data/davis2016`` at half resolution (427x240).

Usage::

    python benchmarks/afd_quality.py [--sequences dog,cows] [--frames 40] [--modes advect,...]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from motionlab.afd import AFDConfig, afd_steps
from motionlab.flow import endpoint_error, get_estimator
from motionlab.video import list_frame_files, read_image

DAVIS = Path(__file__).resolve().parents[2] / "shared" / "data" / "davis2016"
PATCH = 5
PATCHES_PER_FRAME = 150


def load_sequence(name: str, max_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Half-resolution frames (T, 240, 427, 3) uint8 and masks (T, 240, 427) bool."""
    images = list_frame_files(DAVIS / "JPEGImages" / "480p" / name)[:max_frames]
    masks = list_frame_files(DAVIS / "Annotations" / "480p" / name)[:max_frames]
    size = (427, 240)
    frames = np.stack(
        [cv2.resize(read_image(p), size, interpolation=cv2.INTER_AREA) for p in images]
    )
    m = np.stack(
        [
            cv2.resize(
                cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), size, interpolation=cv2.INTER_NEAREST
            )
            for p in masks
        ]
    )
    return frames, m > 127


def patch_features(frame: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Features of the 5x5 patches whose top-left corners are (ys, xs)."""
    feats = []
    for y, x in zip(ys, xs, strict=True):
        p = frame[y : y + PATCH, x : x + PATCH].astype(np.float32)
        eq_h = (p[:, 1:] == p[:, :-1]).all(-1).mean()
        eq_v = (p[1:] == p[:-1]).all(-1).mean()
        feats.append(np.concatenate([p.ravel() / 255.0, [eq_h, eq_v, p.std() / 255.0]]))
    return np.asarray(feats, np.float32)


def sample_patches(
    mask: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Top-left corners of equal numbers of patches fully inside / fully outside the mask."""
    k = np.ones((PATCH, PATCH), np.uint8)
    m = mask.astype(np.uint8)
    inside = cv2.erode(m, k)  # pixel whose whole neighbourhood is inside
    outside = cv2.erode(1 - cv2.dilate(m, k, iterations=2), k)
    half = PATCH // 2
    h, w = mask.shape
    valid = np.zeros_like(m, bool)
    valid[half : h - half, half : w - half] = True
    pos_in = np.argwhere(inside.astype(bool) & valid)
    pos_out = np.argwhere(outside.astype(bool) & valid)
    n = min(PATCHES_PER_FRAME, len(pos_in), len(pos_out))
    if n < 5:
        return None
    a = pos_in[rng.choice(len(pos_in), n, replace=False)]
    b = pos_out[rng.choice(len(pos_out), n, replace=False)]
    centres = np.concatenate([a, b])
    labels = np.concatenate([np.ones(n), np.zeros(n)])
    return centres[:, 0] - half, centres[:, 1] - half, labels


def leakage_auc(frames: np.ndarray, masks: np.ndarray, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    data: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {0: ([], []), 1: ([], [])}
    for t, (frame, mask) in enumerate(zip(frames, masks, strict=True)):
        sample = sample_patches(mask, rng)
        if sample is None:
            continue
        ys, xs, labels = sample
        data[t % 2][0].append(patch_features(frame, ys, xs))
        data[t % 2][1].append(labels)
    if not data[0][0] or not data[1][0]:
        return float("nan")
    xtr, ytr = np.concatenate(data[0][0]), np.concatenate(data[0][1])
    xte, yte = np.concatenate(data[1][0]), np.concatenate(data[1][1])
    clf = HistGradientBoostingClassifier(max_iter=200, random_state=seed).fit(xtr, ytr)
    return float(roc_auc_score(yte, clf.predict_proba(xte)[:, 1]))


REACH_PX = 30.0
"""Largest per-frame motion DIS-medium recovers from white noise at 427x240 (control below)."""


def motion_epe(
    afd: np.ndarray, source_flows: list[np.ndarray], masks: np.ndarray, est
) -> tuple[float, float, float]:
    """EPE over all pixels, inside the mask, and over pixels whose source motion is within
    REACH_PX (what any noise video can show to DIS)."""
    all_px, in_mask, reach = [], [], []
    for t in range(len(afd) - 1):
        f = est(afd[t], afd[t + 1])
        src = source_flows[t]
        all_px.append(endpoint_error(f, src))
        if masks[t].any():
            in_mask.append(endpoint_error(f, src, valid=masks[t]))
        near = np.linalg.norm(src, axis=2) <= REACH_PX
        if near.any():
            reach.append(endpoint_error(f, src, valid=near))
    return (
        float(np.mean(all_px)),
        float(np.mean(in_mask)) if in_mask else float("nan"),
        float(np.mean(reach)) if reach else float("nan"),
    )


def white_noise_limit(est, shifts=(10, 20, 30, 35, 40, 50)) -> list[tuple[int, float]]:
    """Control: i.i.d. noise moved rigidly by s px (exactly, by the advected noise): the EPE of
    DIS-medium on the pair. Large motions are lost by the estimator itself, since white noise
    has no coarse structure for its coarse-to-fine search, whatever the AFD method."""
    from motionlab.afd.noise import AdvectedNoise

    h, w = 240, 427
    out = []
    for s in shifts:
        flow = np.zeros((h, w, 2), np.float32)
        flow[..., 0] = s + 0.3
        noise = AdvectedNoise(h, w, rng=np.random.default_rng(0))
        a = noise.render()
        noise.advect(flow)
        e = est(a, noise.render())
        inner = (slice(30, -30), slice(s + 30, -30))
        out.append((s, endpoint_error(e[inner], flow[inner])))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", help="comma-separated DAVIS names (default: all)")
    parser.add_argument("--frames", type=int, default=1000, help="frames per sequence at most")
    parser.add_argument("--modes", default="source,first-frame,advect,iid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--control-only", action="store_true", help="only the white-noise control")
    parser.add_argument(
        "--density", type=int, default=None, help="advect: particles per pixel side"
    )
    parser.add_argument(
        "--preset", default=None, help="DIS preset that makes the AFD (default: motionlab's)"
    )
    args = parser.parse_args(argv)
    if not DAVIS.exists():
        print(f"needs {DAVIS} (the project's shared DAVIS data)", file=sys.stderr)
        return 1
    names = (
        args.sequences.split(",")
        if args.sequences
        else sorted(p.name for p in (DAVIS / "JPEGImages" / "480p").iterdir())
    )
    modes = args.modes.split(",")
    dis = get_estimator("dis", preset="medium")
    if args.control_only:
        names = []
    results: dict[str, dict[str, tuple[float, float, float]]] = {m: {} for m in modes}
    for name in names:
        frames, masks = load_sequence(name, args.frames)
        source_flows = [dis(frames[t], frames[t + 1]) for t in range(len(frames) - 1)]
        for mode in modes:
            t0 = time.perf_counter()
            if mode == "source":
                video = frames
            else:
                config = AFDConfig(mode=mode, seed=args.seed)
                if args.density is not None:
                    config = replace(config, density=args.density)
                if args.preset is not None:
                    config = replace(config, flow_options={"preset": args.preset})
                video = np.stack([s.afd for s in afd_steps(frames, config=config)])
            epe_all, epe_obj, epe_reach = motion_epe(video, source_flows, masks, dis)
            auc = leakage_auc(video, masks, seed=args.seed)
            results[mode][name] = (epe_all, epe_obj, epe_reach, auc)
            print(
                f"{name:20s} {mode:12s} EPE {epe_all:6.2f} EPE-obj {epe_obj:6.2f} "
                f"EPE-reach {epe_reach:6.2f} AUC {auc:.3f} ({time.perf_counter() - t0:.0f}s)",
                file=sys.stderr,
            )

    control = white_noise_limit(dis)
    print("Control: i.i.d. noise translated rigidly (427x240), DIS-medium EPE\n")
    print("| shift (px) | " + " | ".join(str(s) for s, _ in control) + " |")
    print("|---|" + "---:|" * len(control))
    print("| EPE (px) | " + " | ".join(f"{e:.2f}" for _, e in control) + " |\n")
    if not names:
        return 0
    print(f"AFD quality on DAVIS 2016 ({len(names)} sequences, 427x240, DIS-medium flow)\n")
    print(
        f"EPE: all pixels / inside the object mask / pixels whose source motion is at most "
        f"{REACH_PX:.0f} px; AUC: leakage (0.5 = none)\n"
    )
    print("| sequence | " + " | ".join(f"{m}: EPE / obj / reach / AUC" for m in modes) + " |")
    print("|---|" + "---:|" * len(modes))
    for name in names:
        cells = ["{:.2f} / {:.2f} / {:.2f} / {:.3f}".format(*results[m][name]) for m in modes]
        print(f"| {name} | " + " | ".join(cells) + " |")
    means = [np.nanmean(np.array(list(results[m].values())), axis=0) for m in modes]
    cells = ["**{:.2f} / {:.2f} / {:.2f} / {:.3f}**".format(*v) for v in means]
    print("| **mean** | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
