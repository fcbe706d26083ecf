"""STVI on DAVIS 2016: the comparison of thesis Table 6.1, runtime and peak memory.

For every sequence in ``DAVIS/JPEGImages/480p`` (full 854x480 resolution) it runs

* STVI (and ``stvi-literal``: k = 15 SLIC clusters over the sub-volume, the thesis's
  step 6 read literally) with anchors from the annotations every 20 frames (the thesis's
  "⇓" rows) and with an anchor in the first frame only, flow (DIS ``medium-full``, forward
  and backward as ``motionlab stvi`` computes it; ``--dis-preset medium`` and
  ``--forward-flow-only`` for the ablations) included in the time;
* the baselines with the same tube selection: SLICO per frame and 3D SLIC supervoxels
  over the whole video, again with anchors every 20 frames and in the first frame only.
  The baselines segment frames scaled by ``--baseline-scale`` (default 0.5: scikit-image's
  3D SLIC takes minutes per full-resolution sequence on 2 cores); their labels are scaled
  back (nearest neighbour) and selected and scored at full resolution;
* ``carried-masks``: no segmentation at all, the anchor masks carried along the flow
  corrected by the anchors' colours (``motionlab.stvi.tubes.object_masks``: what STVI's
  default judges with and feeds to SLIC as a feature) thresholded at 0.5, one tube: the
  mask-propagation baseline any part-based result should be compared with.

Each run happens in a fresh process so its peak resident memory can be reported.
Prints Markdown tables (mean per method next to the thesis's row, then STVI per sequence).
The tables carry the columns of Table 6.1 (ACC, UE, TEX, J, F) and of Table 6.3 (J_p, F_p,
C_p, M = tubes per video), then seconds per sequence and peak memory. J_p, F_p and C_p take
the whole object as the one ground-truth part (the shared data has no DAVIS Parts
annotations): C_p then says how much the object's split into tubes changes over time.
``--save-labels DIR`` keeps every label volume (``DIR/METHOD__ANCHORS__SEQ.npz``) for
rescoring.

    .venv/bin/python benchmarks/stvi_davis.py [--davis ../shared/data/davis2016] \
        [--methods stvi] [--anchors every20] [--save-labels DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing as mp
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DAVIS = ROOT.parent / "shared" / "data" / "davis2016"
# Table 6.1 "Ours ⇓" and M of Table 6.3 (its J_p, F_p, C_p are on DAVIS Parts, not comparable)
THESIS = {"ACC": 0.78, "UE": 0.03, "TEX": 0.93, "J": 0.66, "F": 0.68, "M": 3.7}
METHODS = ("stvi", "stvi-literal", "slico", "slic3d", "carried-masks")
SETTINGS = {"every20": "⇓ every 20", "first": "first frame"}


def _load(davis: Path, seq: str):
    from motionlab.stvi.anchors import FolderMasks
    from motionlab.stvi.evaluate import read_masks
    from motionlab.video import read_video

    frames = read_video(davis / "JPEGImages" / "480p" / seq)
    t_n, h, w = frames.shape[:3]
    gt = read_masks(davis / "Annotations" / "480p" / seq, t_n, (h, w))
    return frames, gt, FolderMasks(davis / "Annotations" / "480p" / seq)


def run_one(
    davis: Path,
    seq: str,
    method: str,
    scale: float,
    settings: tuple[str, ...] = tuple(SETTINGS),
    save: Path | None = None,
    backward: bool = True,
    preset: str | None = None,
    colour: bool = True,
    match_anchor: bool = True,
) -> list[dict]:
    """The anchor ``settings`` of one method on one sequence (in a child process)."""
    import cv2

    from motionlab.flow import get_estimator
    from motionlab.stvi.anchors import anchor_indices, load_anchors
    from motionlab.stvi.evaluate import evaluate_labels
    from motionlab.stvi.tracking import track_boxes
    from motionlab.stvi.tubes import (
        STVI_DIS_PRESET,
        STVIParams,
        compute_flows,
        object_masks,
        stvi,
    )

    frames, gt, source = _load(davis, seq)
    t_n, h, w = frames.shape[:3]
    every = {"every20": anchor_indices(t_n, 20), "first": [0]}
    chosen = {SETTINGS[key]: every[key] for key in settings}
    rows = []
    started = time.perf_counter()
    estimator = get_estimator("dis", preset=preset or STVI_DIS_PRESET)
    flows = compute_flows(frames, estimator=estimator)
    # both directions, as `motionlab stvi` computes them (--forward-flow-only: the stand-in
    # of motionlab.stvi.tracking, STVI before issue 16's fourth stop)
    back = compute_flows(frames, estimator=estimator, direction="backward") if backward else None
    flow_s = time.perf_counter() - started
    segments = None
    for name, indices in chosen.items():
        anchors = load_anchors(source, indices, (w, h))
        t0 = time.perf_counter()
        if method.startswith("stvi"):
            # stvi-literal: k SLIC clusters over the sub-volume, the thesis's step 6 read
            # literally (the default spreads about k over the object; docs/stvi.md)
            params = STVIParams(clusters=15) if method == "stvi-literal" else STVIParams()
            params = dataclasses.replace(params, colour=colour, match_anchor=match_anchor)
            result = stvi(frames, anchors, flows=flows, backward_flows=back, params=params)
            labels = result.labels
            scales = {"sigma": result.scales.sigma, "tau": result.scales.tau}
        elif method == "carried-masks":
            carried = object_masks(
                frames, anchors, flows, back, colour=colour, match_anchor=match_anchor
            )
            labels = (carried > 0.5).astype(np.int32)
            scales = {"sigma": float("nan"), "tau": float("nan")}
        else:
            from motionlab.stvi import baselines

            boxes = track_boxes(flows, anchors, t_n, back)
            if segments is None:  # the segmentation does not depend on the anchors
                small = np.stack(
                    [
                        cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                        for f in frames
                    ]
                )
                fn = baselines.slico_per_frame if method == "slico" else baselines.slic_supervoxels
                seg_small = fn(small, boxes * scale)
                segments = np.stack(
                    [cv2.resize(s, (w, h), interpolation=cv2.INTER_NEAREST) for s in seg_small]
                )
            labels = baselines.select_segments(
                segments, anchors, boxes, 0.7, per_frame=method == "slico"
            )
            scales = {"sigma": float("nan"), "tau": float("nan")}
        seconds = time.perf_counter() - t0 + flow_s
        row = {"method": method, "anchors": name, "sequence": seq, "seconds": seconds}
        # the object as the one ground-truth part: C_p of Sec. 6.4 (no DAVIS Parts here)
        row.update(evaluate_labels(labels, gt, gt.astype(np.int32)))
        row.update(scales)
        if save is not None:
            key = next(k for k, v in SETTINGS.items() if v == name)
            np.savez_compressed(save / f"{method}__{key}__{seq}.npz", labels=labels)
        rows.append(row)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for row in rows:
        row["peak_mb"] = peak
    return rows


def main() -> int:
    from motionlab.flow.estimators import DIS_PRESETS
    from motionlab.stvi.evaluate import TABLE_6_1, TABLE_6_3
    from motionlab.stvi.tubes import STVI_DIS_PRESET

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--davis", type=Path, default=DEFAULT_DAVIS)
    ap.add_argument("--sequences", nargs="+")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument(
        "--anchors",
        nargs="+",
        default=list(SETTINGS),
        choices=list(SETTINGS),
        help="anchor settings: every20 (the thesis's ⇓ rows), first (first frame only)",
    )
    ap.add_argument("--baseline-scale", type=float, default=0.5)
    ap.add_argument("--save-labels", type=Path, help="write each label volume here (.npz)")
    ap.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    ap.add_argument(
        "--forward-flow-only",
        action="store_true",
        help="no backward flow: the forward flow stands in for it (the ablation)",
    )
    ap.add_argument(
        "--dis-preset",
        default=STVI_DIS_PRESET,
        choices=DIS_PRESETS,
        help=f"DIS preset of the flows (default {STVI_DIS_PRESET}, as motionlab stvi)",
    )
    ap.add_argument(
        "--no-colour-model",
        action="store_true",
        help="the carried masks as the flow carries them (the ablation of the colour model)",
    )
    ap.add_argument(
        "--no-anchor-match",
        action="store_true",
        help="the carried masks along the composed flow alone, no frame matched to its "
        "anchor frame (the ablation of issue 16's eighth stop)",
    )
    args = ap.parse_args()
    if not (args.davis / "JPEGImages" / "480p").is_dir():
        print(f"skipped: no DAVIS 2016 at {args.davis}", file=sys.stderr)
        return 0
    seqs = args.sequences or sorted(p.name for p in (args.davis / "JPEGImages" / "480p").iterdir())
    if args.save_labels is not None:
        args.save_labels.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    ctx = mp.get_context("spawn")
    for method in args.methods:
        for seq in seqs:
            with ProcessPoolExecutor(1, mp_context=ctx) as pool:
                got = pool.submit(
                    run_one,
                    args.davis,
                    seq,
                    method,
                    args.baseline_scale,
                    tuple(args.anchors),
                    args.save_labels,
                    not args.forward_flow_only,
                    args.dis_preset,
                    not args.no_colour_model,
                    not args.no_anchor_match,
                ).result()
            rows += got
            r = got[0]
            print(
                f"{method:12s} {seq:20s} J {r['J']:.3f} F {r['F']:.3f} TEX {r['TEX']:.3f} "
                f"C_p {r['C_p']:.3f} tau {r['tau']:.2f} {r['seconds']:.1f} s "
                f"{r['peak_mb']:.0f} MB",
                file=sys.stderr,
                flush=True,
            )
    # the Table 6.1 columns, then Table 6.3's (J_p, F_p, C_p with the whole object as the
    # one part; M = tubes per video), then time and memory
    keys = [*TABLE_6_1, *TABLE_6_3, "seconds", "peak_mb"]
    lines = [
        f"Mean over {len(seqs)} DAVIS 2016 sequences at 480p "
        f"(`benchmarks/stvi_davis.py`; time includes DIS {args.dis_preset} flow, "
        + ("forward only" if args.forward_flow_only else "forward and backward")
        + ("; no colour model" if args.no_colour_model else "")
        + ("; no anchor matching" if args.no_anchor_match else "")
        + "; J_p, F_p, C_p with "
        "the whole object as the one part):",
        "",
        "| method | anchors | " + " | ".join(keys) + " |",
        "|---|---|" + "---|" * len(keys),
        "| thesis STVI (Table 6.1) | ⇓ every 20 | "
        + " | ".join(f"{THESIS[k]:.2f}" if k in THESIS else "" for k in keys)
        + " |",
    ]
    for method in args.methods:
        for setting in (SETTINGS[key] for key in args.anchors):
            sel = [r for r in rows if r["method"] == method and r["anchors"] == setting]
            cells = [f"{np.mean([r[k] for r in sel]):.{0 if k == 'peak_mb' else 2}f}" for k in keys]
            lines.append(f"| {method} | {setting} | " + " | ".join(cells) + " |")
    if "stvi" in args.methods and "every20" in args.anchors:
        lines += ["", "STVI, anchors every 20 frames, per sequence:", ""]
        seq_keys = [*keys, "sigma", "tau"]
        lines += [
            "| sequence | frames | " + " | ".join(seq_keys) + " |",
            "|---|---|" + "---|" * len(seq_keys),
        ]
        for r in rows:
            if r["method"] == "stvi" and r["anchors"] == "⇓ every 20":
                cells = [f"{r[k]:.{0 if k == 'peak_mb' else 2}f}" for k in seq_keys]
                lines.append(f"| {r['sequence']} | {r['frames']} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
