"""Synthetic motion-only actions: articulated figures whose action shows only in motion.

A benchmark that runs where no action dataset can be downloaded (issue 7, last section).
Each clip shows one actor, a 2-D articulated figure (head, torso, two-segment arms and
legs) over a background that the camera pans across. The actor's *identity* is its
appearance: body proportions, limb thickness, skin tone, shirt and trouser colours and a
striped or plain shirt. The *action* is which parts of the body move:

=============  ==========================================================
class          moving pose components (others hold a random static pose)
=============  ==========================================================
JumpingJack    arms + legs
Lunges         legs + squat (hip lowers, knees bend)
PullUps        arms + squat
PushUps        squat
Swing          arms
=============  ==========================================================

Every pose component follows the same waveform ``w(φ) = (1 - cos φ) / 2`` of a phase
``φ = φ0 + 2π t / period``; a static component has ``period = ∞``. The initial phases φ0
are uniform and independent, so any single frame's pose has one distribution for every
class: **single frames carry the identity but not the action**. Given the same random
draws, two classes render the same first frame exactly (tested). Speed (period), size,
position, camera pan and background are random too and independent of the class.

Deliberate difference from the AFD5 classes whose names we borrow: the figures are
upright and stylised; a class is defined by a motion pattern, not by a realistic pose
sequence (a realistic push-up is recognisable from one frame, which is what this
benchmark must rule out).

Output: ``OUT/<Class>/<Class>_a<actor>_v<index>.avi`` (lossless FFV1), a KTH-style
``metadata.csv`` (``path,action,person,...``), and UCF101-style split files
``trainlist01.txt`` / ``testlist01.txt`` (actors split, so identities do not leak).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from motionlab import datasets
from motionlab.atomic import atomic_file
from motionlab.errors import MotionlabError
from motionlab.synthetic import smooth_texture
from motionlab.video import VideoReader, write_video

log = logging.getLogger(__name__)

ACTIONS: dict[str, tuple[bool, bool, bool]] = {
    # class: (arms move, legs move, squat moves)
    "JumpingJack": (True, True, False),
    "Lunges": (False, True, True),
    "PullUps": (True, False, True),
    "PushUps": (False, False, True),
    "Swing": (True, False, False),
}
"""The five classes (named after AFD5) and which pose components move in each."""

METADATA = "metadata.csv"
DAVIS_PEOPLE = ("dance-twirl", "parkour", "breakdance", "kite-surf", "libby")


@dataclass(frozen=True)
class Actor:
    """An identity: appearance only (proportions in body heights, colours RGB 0..255)."""

    person: int
    torso: float
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    head: float
    thickness: float
    skin: tuple[int, int, int]
    shirt: tuple[int, int, int]
    shirt2: tuple[int, int, int]
    trousers: tuple[int, int, int]
    stripes: int
    """Stripe period of the shirt in pixels at 100 px body height; 0 = plain."""


def make_actor(person: int, *, seed: int) -> Actor:
    """The actor ``person`` of a dataset with ``seed`` (deterministic)."""
    rng = np.random.default_rng([seed, 1, person])

    def colour() -> tuple[int, int, int]:
        hsv = np.uint8([[[rng.integers(0, 180), rng.integers(80, 256), rng.integers(60, 256)]]])
        return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])  # type: ignore[return-value]

    tone = rng.uniform(0.35, 1.0)
    skin = (int(255 * tone), int(200 * tone), int(160 * tone))
    return Actor(
        person=person,
        torso=rng.uniform(0.28, 0.36),
        upper_arm=rng.uniform(0.15, 0.2),
        forearm=rng.uniform(0.14, 0.19),
        thigh=rng.uniform(0.22, 0.27),
        shin=rng.uniform(0.21, 0.26),
        head=rng.uniform(0.06, 0.085),
        thickness=rng.uniform(0.045, 0.075),
        skin=skin,
        shirt=colour(),
        shirt2=colour(),
        trousers=colour(),
        stripes=int(rng.choice([0, 0, 8, 12, 16])),
    )


@dataclass(frozen=True)
class ClipParams:
    """The random, class-independent nuisance of one clip (pixels, frames, radians)."""

    height: float
    """Body height in pixels."""
    x: float
    y: float
    """Hip position (pixels) in the first frame."""
    period: float
    """Frames per motion cycle (speed)."""
    phases: tuple[float, float, float]
    """Initial phases of arms, legs, squat."""
    pan: tuple[float, float]
    """Camera pan in pixels per frame (the scene moves by minus this)."""
    background: int
    """Seed (or index) of the background."""


def sample_clip_params(
    rng: np.random.Generator, size: tuple[int, int], *, max_pan: float = 1.0
) -> ClipParams:
    """Draw the nuisance of one clip for frames of ``size = (width, height)``; the camera
    pans up to ``max_pan`` px per frame along each axis."""
    w, h = size
    height = rng.uniform(0.55, 0.8) * h
    return ClipParams(
        height=height,
        x=rng.uniform(0.35, 0.65) * w,
        y=rng.uniform(0.45, 0.55) * h,
        period=rng.uniform(10.0, 20.0),
        phases=tuple(rng.uniform(0, 2 * math.pi, 3)),  # type: ignore[arg-type]
        pan=tuple(rng.uniform(-max_pan, max_pan, 2)),  # type: ignore[arg-type]
        background=int(rng.integers(0, 2**31)),
    )


def pose_components(action: str, params: ClipParams, num_frames: int) -> np.ndarray:
    """``(num_frames, 3)`` float array of arms, legs, squat in 0..1 for ``action``."""
    if action not in ACTIONS:
        raise MotionlabError(f"unknown action {action!r}; choose one of {', '.join(ACTIONS)}")
    t = np.arange(num_frames, dtype=np.float64)
    out = np.empty((num_frames, 3))
    for k, moving in enumerate(ACTIONS[action]):
        phase = params.phases[k] + (2 * math.pi * t / params.period if moving else 0.0)
        out[:, k] = 0.5 * (1.0 - np.cos(phase))
    return out


def _knee(hip: np.ndarray, foot: np.ndarray, thigh: float, shin: float, side: float) -> np.ndarray:
    """Knee position of a two-segment leg (inverse kinematics), bending towards ``side``."""
    d = foot - hip
    dist = float(np.hypot(*d))
    dist = min(max(dist, abs(thigh - shin) + 1e-6), thigh + shin - 1e-6)
    a = (thigh**2 - shin**2 + dist**2) / (2 * dist)
    h = math.sqrt(max(thigh**2 - a**2, 0.0))
    unit = d / max(float(np.hypot(*d)), 1e-9)
    normal = np.array([-unit[1], unit[0]]) * side
    return hip + unit * a + normal * h


def skeleton(
    actor: Actor, pose: np.ndarray, hip: np.ndarray, scale: float
) -> dict[str, np.ndarray]:
    """Joint positions ``(x, y)`` in pixels for a pose ``(arms, legs, squat)`` in 0..1.

    arms: abduction from 15° (down) to 165° (up); legs: spread 3°..38° each side;
    squat: the hip drops by up to 28 % of the leg length with the feet on the ground.
    """
    arms, legs, squat = (float(v) for v in pose)
    leg = (actor.thigh + actor.shin) * scale
    spread = math.radians(3 + 35 * legs)
    ground = hip[1] + leg * math.cos(spread)
    drop = 0.28 * leg * squat
    hip_now = hip + np.array([0.0, drop])
    neck = hip_now - np.array([0.0, actor.torso * scale])
    head = neck - np.array([0.0, actor.head * scale * 1.3])
    joints = {"hip": hip_now, "neck": neck, "head": head}
    for side, name in ((-1.0, "l"), (1.0, "r")):
        angle = math.radians(15 + 150 * arms)
        direction = np.array([side * math.sin(angle), math.cos(angle)])
        shoulder = neck + np.array([side * 0.02 * scale, 0.02 * scale])
        elbow = shoulder + direction * actor.upper_arm * scale
        hand = elbow + direction * actor.forearm * scale
        foot = np.array([hip[0] + side * leg * math.sin(spread), ground])
        knee = _knee(hip_now, foot, actor.thigh * scale, actor.shin * scale, -side)
        joints |= {
            f"shoulder_{name}": shoulder,
            f"elbow_{name}": elbow,
            f"hand_{name}": hand,
            f"knee_{name}": knee,
            f"foot_{name}": foot,
        }
    return joints


# part label -> limbs (joint pairs) drawn with it
_PARTS = {
    1: [("hip", "neck")],  # shirt
    2: [("hip", "knee_l"), ("knee_l", "foot_l"), ("hip", "knee_r"), ("knee_r", "foot_r")],
    3: [("shoulder_l", "elbow_l"), ("shoulder_r", "elbow_r")],  # sleeves (shirt)
    4: [("elbow_l", "hand_l"), ("elbow_r", "hand_r")],  # forearms (skin)
}


def render_figure(
    background: np.ndarray, actor: Actor, joints: dict[str, np.ndarray], scale: float
) -> np.ndarray:
    """Draw the figure over a copy of ``background`` ``(H, W, 3)`` uint8; returns RGB uint8."""
    h, w = background.shape[:2]
    ss = 4  # sub-pixel precision of cv2 drawing (shift bits)
    labels = np.zeros((h, w), np.uint8)

    def pt(p: np.ndarray) -> tuple[int, int]:
        return round(p[0] * (1 << ss)), round(p[1] * (1 << ss))

    thick = max(1, round(actor.thickness * scale))
    for label in (2, 1, 3, 4):
        width = thick * 2 if label == 1 else thick
        for a, b in _PARTS[label]:
            cv2.line(labels, pt(joints[a]), pt(joints[b]), label, width, cv2.LINE_8, ss)
    radius = round(actor.head * scale * (1 << ss))
    cv2.circle(labels, pt(joints["head"]), radius, 5, -1, cv2.LINE_8, ss)
    out = background.copy()
    shirt = np.empty((h, w, 3), np.uint8)
    shirt[:] = actor.shirt
    if actor.stripes:
        period = max(2, round(actor.stripes * scale / 100))
        rows = ((np.arange(h) - int(joints["neck"][1])) // (period // 2 or 1)) % 2 == 1
        shirt[rows] = actor.shirt2
    out[(labels == 1) | (labels == 3)] = shirt[(labels == 1) | (labels == 3)]
    out[labels == 2] = actor.trousers
    out[(labels == 4) | (labels == 5)] = actor.skin
    return out


def background_source(
    size: tuple[int, int],
    num_frames: int,
    pan: tuple[float, float],
    seed: int,
    davis: Sequence[Path] = (),
) -> Iterator[np.ndarray]:
    """Yield ``num_frames`` background frames ``(H, W, 3)`` uint8 seen by a panning camera.

    A still image larger than the frame (a DAVIS frame when ``davis`` lists images, a
    smooth random texture otherwise) is cropped by a window moving ``pan`` px per frame.
    """
    w, h = size
    rng = np.random.default_rng(seed)
    margin = math.ceil(max(abs(pan[0]), abs(pan[1])) * num_frames) + 2
    bw, bh = w + 2 * margin, h + 2 * margin
    if davis:
        path = davis[int(rng.integers(0, len(davis)))]
        with VideoReader(path) as reader:
            image = next(iter(reader))
        ih, iw = image.shape[:2]
        side = min(iw, ih) * rng.uniform(0.5, 1.0)
        x0 = rng.uniform(0, iw - side)
        y0 = rng.uniform(0, ih - side)
        crop = image[int(y0) : int(y0 + side), int(x0) : int(x0 + side)]
        big = cv2.resize(crop, (bw, bh), interpolation=cv2.INTER_AREA).astype(np.float32)
    else:
        big = smooth_texture(bh, bw, sigma=rng.uniform(3, 8) * w / 64, rng=rng)
    for t in range(num_frames):
        m = np.float32([[1, 0, -margin - pan[0] * t], [0, 1, -margin - pan[1] * t]])
        frame = cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_LINEAR)
        yield np.clip(frame + 0.5, 0, 255).astype(np.uint8)


def render_clip(
    action: str,
    actor: Actor,
    params: ClipParams,
    *,
    num_frames: int = 48,
    size: tuple[int, int] = (112, 112),
    davis: Sequence[Path] = (),
) -> np.ndarray:
    """Render one clip; returns ``(num_frames, H, W, 3)`` uint8 RGB."""
    if num_frames < 1:
        raise MotionlabError(f"num_frames must be >= 1, got {num_frames}")
    poses = pose_components(action, params, num_frames)
    scale = params.height
    # The figure stands in the world: the camera pan moves it with the background.
    frames = []
    backgrounds = background_source(size, num_frames, params.pan, params.background, davis)
    for t, bg in enumerate(backgrounds):
        hip = np.array([params.x - params.pan[0] * t, params.y - params.pan[1] * t])
        joints = skeleton(actor, poses[t], hip, scale)
        frames.append(render_figure(bg, actor, joints, scale))
    return np.stack(frames)


@dataclass(frozen=True)
class SynthConfig:
    """Settings of a synthetic dataset (recorded in ``synth_actions.json``)."""

    videos_per_class: int = 20
    actors: int = 10
    num_frames: int = 48
    size: tuple[int, int] = (112, 112)
    fps: float = 25.0
    seed: int = 0
    test_actors: int = 3
    """The last ``test_actors`` actors form the test split."""
    davis: bool = True
    """Use DAVIS frames as backgrounds when the folder exists."""
    max_pan: float = 1.0
    """Largest camera pan, pixels per frame along each axis."""


def davis_backgrounds(root: Path | None) -> list[Path]:
    """First frames of DAVIS sequences under ``root/JPEGImages/480p`` (empty if absent).

    Sequences centred on people are left out so that no real person is in the background.
    """
    if root is None:
        return []
    base = root / "JPEGImages" / "480p"
    if not base.is_dir():
        return []
    seqs = sorted(p for p in base.iterdir() if p.is_dir() and p.name not in DAVIS_PEOPLE)
    return [sorted(s.glob("*.jpg"))[0] for s in seqs if any(s.glob("*.jpg"))]


def make_synth_actions(
    out: str | os.PathLike[str],
    config: SynthConfig = SynthConfig(),
    *,
    davis_root: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the dataset to ``out``; resumable (finished videos are kept).

    Video ``i`` of class ``c`` uses actor ``i % actors`` and nuisance drawn from
    ``default_rng([seed, 2, i])`` — the same draws for every class, so classes differ
    only in motion. Returns the path of ``metadata.csv``.
    """
    out = Path(out)
    if config.videos_per_class < 1 or config.actors < 2:
        raise MotionlabError("need videos_per_class >= 1 and actors >= 2")
    if not 1 <= config.test_actors < config.actors:
        raise MotionlabError(
            f"test_actors must be in 1..{config.actors - 1}, got {config.test_actors}"
        )
    davis = davis_backgrounds(davis_root) if config.davis else []
    actors = [make_actor(p, seed=config.seed) for p in range(config.actors)]
    rows: list[dict[str, object]] = []
    train: list[tuple[str, int | None]] = []  # UCF101 style: train lines carry the label,
    test: list[tuple[str, int | None]] = []  # test lines do not
    total = len(ACTIONS) * config.videos_per_class
    done = 0
    for label, action in enumerate(ACTIONS, start=1):
        for i in range(config.videos_per_class):
            actor = actors[i % config.actors]
            rng = np.random.default_rng([config.seed, 2, i])
            params = sample_clip_params(rng, config.size, max_pan=config.max_pan)
            rel = f"{action}/{action}_a{actor.person:02d}_v{i:03d}.avi"
            path = out / rel
            if not path.exists():
                clip = render_clip(
                    action,
                    actor,
                    params,
                    num_frames=config.num_frames,
                    size=config.size,
                    davis=davis,
                )
                write_video(path, clip, fps=config.fps)
            rows.append(
                {"path": rel, "action": action, "person": actor.person,
                 "period": round(params.period, 3),
                 "pan_x": round(params.pan[0], 3), "pan_y": round(params.pan[1], 3)}
            )  # fmt: skip
            is_test = actor.person >= config.actors - config.test_actors
            (test if is_test else train).append((rel, None) if is_test else (rel, label))
            done += 1
            if progress:
                progress(done, total)
    with atomic_file(out / METADATA) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with atomic_file(out / datasets.CLASS_INDEX) as tmp:
        tmp.write_text(datasets.format_class_index(list(ACTIONS)))
    with atomic_file(out / datasets.split_file_name("train", 1)) as tmp:
        tmp.write_text(datasets.format_split_file(train))
    with atomic_file(out / datasets.split_file_name("test", 1)) as tmp:
        tmp.write_text(datasets.format_split_file(test))
    record = asdict(config) | {"davis_backgrounds": [str(p) for p in davis]}
    with atomic_file(out / "synth_actions.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return out / METADATA
