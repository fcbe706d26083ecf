"""A small synthetic study that needs no data: tests, demos, screenshots, the load test.

The "actions" are the directions a textured disc moves in (``right``, ``left``, ``up``,
``down``) over a slowly panning background (:mod:`motionlab.synthetic`); the AFD versions
are made with :func:`motionlab.afd.make_afd`, so in them the direction is visible only in
the motion of the noise. All clips are written losslessly (FFV1 ``.mkv``).
"""

from __future__ import annotations

import os
from pathlib import Path

from motionlab.errors import MotionlabError
from motionlab.synthetic import SceneSpec, moving_disc_scene
from motionlab.video import write_video

DIRECTIONS: dict[str, tuple[float, float]] = {
    "right": (2.5, 0.0),
    "left": (-2.5, 0.0),
    "up": (0.0, -2.5),
    "down": (0.0, 2.5),
}


def make_demo_stimuli(
    folder: str | os.PathLike[str],
    *,
    classes: tuple[str, ...] = tuple(DIRECTIONS),
    per_class: int = 8,
    frames: int = 16,
    size: tuple[int, int] = (96, 72),
    afd: bool = True,
    seed: int = 0,
) -> Path:
    """Write ``folder/rgb/<class>/clipNN.mkv`` (and ``folder/afd/...``) and return ``folder``.

    Parameters
    ----------
    classes : tuple of str
        A subset of ``right, left, up, down``.
    per_class : int
        Clips per class and modality.
    frames, size : int, (width, height)
        Length and frame size of each clip.
    afd : bool
        Also write the appearance-free versions (``afd/``).
    seed : int
        Seed of textures and noise; clip ``k`` of class ``c`` uses its own derived seed.
    """
    from motionlab.afd import make_afd

    folder = Path(folder)
    unknown = [c for c in classes if c not in DIRECTIONS]
    if unknown:
        raise MotionlabError(f"demo classes are {', '.join(DIRECTIONS)}; got {unknown}")
    for ci, label in enumerate(classes):
        for k in range(per_class):
            clip_seed = seed * 10007 + ci * 1009 + k
            spec = SceneSpec(background_velocity=(0.3, 0.2), disc_velocity=DIRECTIONS[label])
            rgb = [f for f, _ in moving_disc_scene(frames, size=size, seed=clip_seed, spec=spec)]
            write_video(folder / "rgb" / label / f"clip{k:02d}.mkv", rgb, fps=25)
            if afd:
                noise = make_afd(rgb, seed=clip_seed)
                write_video(folder / "afd" / label / f"clip{k:02d}.mkv", noise, fps=25)
    return folder


def demo_config_text(
    classes: tuple[str, ...] = tuple(DIRECTIONS),
    *,
    rest_seconds: int = 20,
    training_per_class: int = 2,
    title: str = "Which way does it move? (demo)",
) -> str:
    """A study TOML over :func:`make_demo_stimuli`'s folders, with the thesis's protocol."""
    names = ", ".join(f'"{c}"' for c in classes)
    return f"""# A demo study over synthetic clips (motionlab study demo).
[study]
title = "{title}"
classes = [{names}]
rest_seconds = {rest_seconds}
training_per_class = {training_per_class}
fps = {{ default = 25, min = 10, max = 40 }}

[stimuli.rgb]
root = "rgb"
pattern = "{{class}}/*.mkv"

[stimuli.afd]
root = "afd"
pattern = "{{class}}/*.mkv"

# No [[phases]]: the thesis's protocol (consent, instructions, familiarisation, training
# and test on rgb, rest, training and test on afd, questionnaire, thanks).
"""


def make_demo_study(folder: str | os.PathLike[str], **kwargs) -> Path:
    """Demo stimuli plus ``folder/study.toml``; returns the config's path."""
    classes = kwargs.get("classes", tuple(DIRECTIONS))
    rest = kwargs.pop("rest_seconds", 20)
    training = kwargs.pop("training_per_class", 2)
    folder = make_demo_stimuli(folder, **kwargs)
    path = folder / "study.toml"
    path.write_text(demo_config_text(classes, rest_seconds=rest, training_per_class=training))
    return path
