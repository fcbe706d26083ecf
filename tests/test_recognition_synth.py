"""Synthetic motion-only actions: deterministic, identity in every frame, action only in motion."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from motionlab.errors import MotionlabError
from motionlab.recognition.synth_actions import (
    ACTIONS,
    SynthConfig,
    make_actor,
    make_synth_actions,
    pose_components,
    render_clip,
    sample_clip_params,
)
from motionlab.video import read_video

SIZE = (64, 64)


def _clip(action: str, person: int = 0, draw: int = 0, frames: int = 12) -> np.ndarray:
    params = sample_clip_params(np.random.default_rng([7, draw]), SIZE)
    return render_clip(action, make_actor(person, seed=7), params, num_frames=frames, size=SIZE)


def test_deterministic_for_a_seed() -> None:
    a = _clip("Lunges")
    assert a.shape == (12, 64, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, _clip("Lunges"))
    assert not np.array_equal(a, _clip("Lunges", draw=1))


def test_first_frame_is_the_same_for_every_action() -> None:
    """With the same nuisance draws, a single frame carries no action: every class renders
    the same first frame, and the clips differ only once things move."""
    clips = {a: _clip(a) for a in ACTIONS}
    first = clips["Swing"][0]
    for clip in clips.values():
        np.testing.assert_array_equal(clip[0], first)
    later = [clip[5] for clip in clips.values()]
    for i in range(len(later)):
        for j in range(i + 1, len(later)):
            assert not np.array_equal(later[i], later[j])


def test_single_frame_pose_distribution_is_class_independent() -> None:
    """Over random initial phases, frame t's pose components have one distribution per
    class (compare moments over many draws)."""
    rng = np.random.default_rng(0)
    stats = {}
    for action in ACTIONS:
        poses = np.array(
            [pose_components(action, sample_clip_params(rng, SIZE), 9)[8] for _ in range(4000)]
        )
        stats[action] = (poses.mean(0), poses.std(0))
    for mean, std in stats.values():
        np.testing.assert_allclose(mean, 0.5, atol=0.03)
        np.testing.assert_allclose(std, np.sqrt(1 / 8), atol=0.03)  # std of (1-cos U)/2


def test_static_components_do_not_move() -> None:
    params = sample_clip_params(np.random.default_rng(3), SIZE)
    for action, moving in ACTIONS.items():
        poses = pose_components(action, params, 30)
        for k, moves in enumerate(moving):
            assert (np.ptp(poses[:, k]) > 0.5) == moves, (action, k)


def test_identity_shows_in_a_single_frame() -> None:
    """Actors differ in appearance: the figure's colours of two actors differ; one actor's
    colours are the same in every class."""
    a0, a1 = make_actor(0, seed=7), make_actor(1, seed=7)
    assert (a0.shirt, a0.trousers) != (a1.shirt, a1.trousers)
    frame0 = _clip("Swing", person=0)[0].reshape(-1, 3)
    frame1 = _clip("Swing", person=1)[0].reshape(-1, 3)
    n_trousers0 = np.all(frame0 == a0.trousers, axis=1).sum()
    assert n_trousers0 > 20
    assert np.all(frame1 == a0.trousers, axis=1).sum() < n_trousers0 // 4


def test_unknown_action() -> None:
    with pytest.raises(MotionlabError, match="unknown action"):
        pose_components("Dance", sample_clip_params(np.random.default_rng(0), SIZE), 4)


def test_dataset_tree_metadata_and_splits(tmp_path) -> None:
    config = SynthConfig(
        videos_per_class=3, actors=3, test_actors=1, num_frames=6, size=(32, 32), davis=False
    )
    meta = make_synth_actions(tmp_path, config)
    with meta.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15
    assert {r["action"] for r in rows} == set(ACTIONS)
    assert {r["person"] for r in rows} == {"0", "1", "2"}
    video = tmp_path / rows[0]["path"]
    frames = read_video(video)
    assert frames.shape == (6, 32, 32, 3)
    test = (tmp_path / "testlist01.txt").read_text().split()
    train = (tmp_path / "trainlist01.txt").read_text().splitlines()
    assert len(test) == 5 and all("_a02_" in p for p in test)  # actor 2 only
    assert len(train) == 10 and train[0].endswith(" 1")
    # resumable: a second run keeps finished videos
    mtime = video.stat().st_mtime_ns
    make_synth_actions(tmp_path, config)
    assert video.stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(read_video(video), frames)


def test_bad_config(tmp_path) -> None:
    with pytest.raises(MotionlabError, match="test_actors"):
        make_synth_actions(tmp_path, SynthConfig(actors=3, test_actors=3))


def test_pan_bound() -> None:
    rng = np.random.default_rng(0)
    pans = np.array([sample_clip_params(rng, SIZE, max_pan=0.25).pan for _ in range(200)])
    assert np.abs(pans).max() <= 0.25 and np.abs(pans).max() > 0.2
