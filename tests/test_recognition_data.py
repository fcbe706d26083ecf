"""Clip sampling, augmentation schedule, dataset parsers and items, metrics, diagnostics."""

from __future__ import annotations

import numpy as np
import pytest

from motionlab.afd.dataset import quantize_flow
from motionlab.errors import MotionlabError
from motionlab.recognition.data import (
    SCHEDULE,
    ClipDataset,
    FlowSource,
    augment_strength,
    clip_indices,
    colour_jitter,
    csv_samples,
    flow_cache_path,
    flow_to_tensor_layout,
    random_box,
    rgb_to_tensor_layout,
    ucf101_samples,
)
from motionlab.recognition.diagnose import (
    inter_class_entropy,
    most_confused,
    ordering_cost,
    reliance_row,
    reorder_confusion,
    select_by_entropy,
)
from motionlab.recognition.metrics import confusion_matrix, per_class_accuracy, topk_accuracy
from motionlab.recognition.synth_actions import ACTIONS, SynthConfig, make_synth_actions
from motionlab.recognition.zoo import StreamSpec
from motionlab.video import write_video


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("synth")
    config = SynthConfig(
        videos_per_class=3, actors=3, test_actors=1, num_frames=20, size=(40, 32), davis=False
    )
    make_synth_actions(root, config)
    return root


# -- sampling ------------------------------------------------------------------------------


def test_clip_indices_centred_and_positioned() -> None:
    np.testing.assert_array_equal(clip_indices(100, 4, 5), [42, 47, 52, 57])  # room 84 -> 42
    np.testing.assert_array_equal(clip_indices(100, 4, 5, position=0.0), [0, 5, 10, 15])
    np.testing.assert_array_equal(clip_indices(100, 4, 5, position=1.0), [84, 89, 94, 99])
    # flow pairs: the last usable t is 98
    np.testing.assert_array_equal(
        clip_indices(100, 4, 5, position=1.0, pairs=True), [83, 88, 93, 98]
    )


def test_clip_indices_short_video_repeats_last_frame() -> None:
    np.testing.assert_array_equal(clip_indices(7, 4, 3), [0, 3, 6, 6])
    with pytest.raises(MotionlabError, match="too short"):
        clip_indices(1, 4, 3, pairs=True)


def test_clip_indices_jitter_sorted_in_range() -> None:
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        idx = clip_indices(30, 5, 6, position=rng.uniform(), jitter=2, rng=rng)
        assert np.all(np.diff(idx) >= 0) and idx.min() >= 0 and idx.max() <= 29
        seen.add(tuple(idx))
    assert len(seen) > 50


def test_augment_schedule_steps_every_20_epochs() -> None:
    assert augment_strength(0) is SCHEDULE[0] and augment_strength(19) is SCHEDULE[0]
    assert augment_strength(20) is SCHEDULE[1] and augment_strength(40) is SCHEDULE[2]
    assert augment_strength(500) is SCHEDULE[2]
    assert augment_strength(5, step=5) is SCHEDULE[1]
    assert SCHEDULE[0].min_scale < SCHEDULE[1].min_scale < SCHEDULE[2].min_scale
    assert SCHEDULE[0].brightness > SCHEDULE[2].brightness


def test_random_box_inside_and_area() -> None:
    rng = np.random.default_rng(1)
    for _ in range(100):
        x, y, w, h = random_box(60, 80, 0.5, rng)
        assert x >= 0 and x + w <= 80 and y >= 0 and y + h <= 60
        assert w * h >= 0.5 * 60 * 80 * 0.9


def test_colour_jitter_one_draw_per_clip() -> None:
    clip = np.full((3, 4, 4, 3), 100, np.uint8)
    clip[1] = 50
    out = colour_jitter(clip, SCHEDULE[0], np.random.default_rng(2))
    # frames that were equal stay equal: the same transform for the whole clip
    np.testing.assert_array_equal(out[0], out[2])
    assert out.dtype == np.uint8 and out.shape == clip.shape


def test_tensor_layouts() -> None:
    clip = np.zeros((2, 5, 5, 3), np.uint8)
    clip[..., 0] = 255
    x = rgb_to_tensor_layout(clip)
    assert x.shape == (3, 2, 5, 5)
    np.testing.assert_allclose(x[0], (1 - 0.45) / 0.225)
    np.testing.assert_allclose(x[1], -0.45 / 0.225)
    flow = np.zeros((3, 40, 80, 2), np.float32)
    flow[..., 0] = 4.0  # 4 px at a 40 px square -> 2 px at 20 px -> 2 / 20
    flow[..., 1] = -100.0  # -50 px after scaling: clipped to -20 px -> -1
    f = flow_to_tensor_layout(flow, 20)
    assert f.shape == (2, 3, 20, 20)
    np.testing.assert_allclose(f[0], 0.1, atol=1e-6)
    np.testing.assert_allclose(f[1], -1.0)


# -- parsers and items ---------------------------------------------------------------------


def test_ucf101_and_csv_parsers(synth) -> None:
    train, classes = ucf101_samples(synth, subset="train")
    test, _ = ucf101_samples(synth, subset="test")
    assert classes == list(ACTIONS)
    assert len(train) == 10 and len(test) == 5
    assert {s.label for s in test} == set(range(5))
    assert all(classes[s.label] == s.path.parent.name for s in train + test)
    people, names = csv_samples(synth / "metadata.csv", label_column="person")
    assert names == ["0", "1", "2"] and len(people) == 15
    with pytest.raises(MotionlabError, match="split must be"):
        ucf101_samples(synth, split=4)
    with pytest.raises(MotionlabError, match="no split file"):
        ucf101_samples(synth, split=2)
    with pytest.raises(MotionlabError, match="expected columns"):
        csv_samples(synth / "metadata.csv", label_column="nope")


def test_dataset_items_rgb_and_flow(synth) -> None:
    samples, _ = ucf101_samples(synth, subset="test")
    streams = (StreamSpec("rgb", 4, 3, 24), StreamSpec("flow", 3, 2, 16))
    ds = ClipDataset(samples, streams, train=True, seed=5)
    (rgb, flow), label = ds[2]
    assert tuple(rgb.shape) == (3, 4, 24, 24) and tuple(flow.shape) == (2, 3, 16, 16)
    assert label == samples[2].label
    assert float(flow.abs().max()) > 0  # the figure moves or the camera pans
    (rgb2, _), _ = ds[2]
    assert np.array_equal(rgb.numpy(), rgb2.numpy())  # same seed, epoch, index
    ds.set_epoch(1)
    (rgb3, _), _ = ds[2]
    assert not np.array_equal(rgb.numpy(), rgb3.numpy())
    ev = ClipDataset(samples, streams, train=False)
    (e1, _), _ = ev[0]
    ev.set_epoch(3)
    (e2, _), _ = ev[0]
    assert np.array_equal(e1.numpy(), e2.numpy())  # evaluation is deterministic


def test_flow_cache_is_read(synth, tmp_path) -> None:
    samples, _ = ucf101_samples(synth, subset="test")
    sample = samples[0]
    cached = flow_cache_path(tmp_path, synth, sample.path)
    assert cached.name == sample.path.name.split(".")[0] + ".flow.mkv"
    flow = np.zeros((19, 32, 40, 2), np.float32)
    flow[..., 0] = np.arange(19)[:, None, None] * 0.5  # u = t / 2 px identifies frame t
    write_video(cached, (quantize_flow(f) for f in flow), fps=25)
    ds = ClipDataset(
        [sample], (StreamSpec("flow", 3, 4, 32),), train=False,
        flow=FlowSource(cache=tmp_path, root=synth),
    )  # fmt: skip
    (f,), _ = ds[0]
    t = clip_indices(20, 3, 4, pairs=True)
    np.testing.assert_allclose(f[0, :, 5, 5].numpy(), t * 0.5 / 20, atol=0.01)
    missing = ClipDataset(
        [samples[1]], (StreamSpec("flow", 3, 4, 32),), train=False,
        flow=FlowSource(cache=tmp_path, root=synth),
    )  # fmt: skip
    with pytest.raises(MotionlabError, match="no cached flow"):
        missing[0]


# -- metrics and diagnostics -----------------------------------------------------------------


def test_topk_and_confusion() -> None:
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.4, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    labels = np.array([1, 1, 0, 2])
    assert topk_accuracy(scores, labels, 1) == 0.25
    assert topk_accuracy(scores, labels, 2) == 0.5
    assert topk_accuracy(scores, labels, 5) == 1.0
    cm = confusion_matrix(labels, scores.argmax(1), 3)
    np.testing.assert_array_equal(cm, [[0, 0, 1], [1, 1, 0], [1, 0, 0]])
    np.testing.assert_allclose(per_class_accuracy(cm), [0, 0.5, 0])
    assert np.isnan(per_class_accuracy(np.zeros((2, 2)))).all()
    with pytest.raises(MotionlabError):
        confusion_matrix(np.array([3]), np.array([0]), 3)


def test_reordering_groups_confused_blocks() -> None:
    """Two blocks {0, 2, 4} and {1, 3, 5} confused within themselves: a good order keeps each
    block contiguous, and its cost is lower than the identity's."""
    cm = np.eye(6) * 10
    for block in ([0, 2, 4], [1, 3, 5]):
        for i in block:
            for j in block:
                if i != j:
                    cm[i, j] = 3
    order = reorder_confusion(cm, iterations=3000, seed=0)
    assert sorted(order) == list(range(6))
    first = set(order[:3].tolist())
    assert first in ({0, 2, 4}, {1, 3, 5})
    assert ordering_cost(cm, order) < ordering_cost(cm, range(6))


def test_most_confused_excludes_weak_classes() -> None:
    cm = np.array(
        [
            [6, 3, 1, 0, 0],
            [3, 6, 1, 0, 0],
            [1, 1, 8, 0, 0],
            [0, 4, 0, 2, 4],  # 20 % accuracy: confused with everything, excluded
            [0, 0, 0, 2, 8],
        ]
    )  # fmt: skip
    assert most_confused(cm, 2) == [0, 1]
    assert most_confused(cm, 3) == [0, 1, 2]
    assert most_confused(cm, 2, group=[2, 3, 4]) == [2, 4]
    assert most_confused(cm, 3, max_exhaustive=1) == [0, 1, 2]  # greedy path
    with pytest.raises(MotionlabError, match="cannot pick 5"):
        most_confused(cm, 5)


# Hand-computed: row-normalised rows p_i and H_i = -sum p log2 p (bits).
ENTROPY_CM = np.array(
    [
        [8, 2, 0, 0, 0, 0],  # acc .8, H(.8, .2) = 0.7219
        [1, 6, 1, 1, 1, 0],  # acc .6, H(.1, .6, .1, .1, .1) = 1.7710
        [0, 0, 10, 0, 0, 0],  # acc 1, H = 0
        [0, 2, 2, 5, 1, 0],  # acc .5 (kept: >= 50 %), H(.2, .2, .5, .1) = 1.7610
        [2, 2, 2, 2, 1, 1],  # acc .1 (left out), H(.2, .2, .2, .2, .1, .1) = 2.5219
        [0, 0, 0, 0, 3, 7],  # acc .7, H(.3, .7) = 0.8813
    ]
)  # fmt: skip


def test_inter_class_entropy_hand_computed() -> None:
    h = inter_class_entropy(ENTROPY_CM)
    np.testing.assert_allclose(h, [0.7219, 1.7710, 0.0, 1.7610, 2.5219, 0.8813], atol=1e-4)
    assert np.isnan(inter_class_entropy(np.array([[0, 0], [1, 1]]))[0])
    with pytest.raises(MotionlabError, match="square"):
        inter_class_entropy(np.zeros((2, 3)))


def test_afd5_selection_by_entropy() -> None:
    """§4.2: the k classes of highest inter-class entropy among those with >= 50 %
    accuracy. Class 4 has the highest entropy but 10 % accuracy; class 3 sits at exactly
    50 %. The pairwise proxy (most_confused) picks another set here."""
    assert select_by_entropy(ENTROPY_CM, 3) == [1, 3, 5]
    assert select_by_entropy(ENTROPY_CM, 2) == [1, 3]
    assert select_by_entropy(ENTROPY_CM, 5) == [0, 1, 2, 3, 5]
    assert most_confused(ENTROPY_CM, 3) != [1, 3, 5]
    # the selection does not depend on the order of the classes (the reordering step)
    perm = np.array([5, 2, 0, 4, 1, 3])
    picked = select_by_entropy(ENTROPY_CM[np.ix_(perm, perm)], 3)
    assert sorted(perm[picked].tolist()) == [1, 3, 5]
    # within a group, entropies are over the group's classes only: rows 0, 1, 3 restricted
    # to {0, 1, 3} are (8, 2, 0), (1, 6, 1), (0, 2, 5) -> H = 0.72, 1.06, 0.86 bit
    assert select_by_entropy(ENTROPY_CM, 2, group=[0, 1, 3]) == [1, 3]
    # over all six classes 1 beats 3 (1.771 vs 1.761 bit); within {1, 3} the rows are
    # (6, 1) and (2, 5) over columns (1, 3): H = 0.592 vs 0.863 bit, so 3 wins
    assert select_by_entropy(ENTROPY_CM, 1) == [1]
    assert select_by_entropy(ENTROPY_CM, 1, group=[1, 3]) == [3]
    with pytest.raises(MotionlabError, match="cannot pick 6"):
        select_by_entropy(ENTROPY_CM, 6)
    with pytest.raises(MotionlabError, match="distinct class indices"):
        select_by_entropy(ENTROPY_CM, 2, group=[0, 0, 9])


def test_reliance_row() -> None:
    row = reliance_row("x3d_xs", 0.9, 0.25)
    assert row.delta == pytest.approx(-0.65)
    with pytest.raises(MotionlabError):
        reliance_row("m", 90.0, 0.2)


def test_video_cache_gives_the_same_items(synth) -> None:
    samples, _ = ucf101_samples(synth, subset="test")
    streams = (StreamSpec("rgb", 3, 2, 16), StreamSpec("flow", 3, 2, 16))
    plain = ClipDataset(samples[:2], streams, train=False)
    cached = ClipDataset(samples[:2], streams, train=False, cache_videos=True)
    for i in range(2):
        (a_rgb, a_flow), _ = plain[i]
        (b_rgb, b_flow), _ = cached[i]
        np.testing.assert_array_equal(a_rgb.numpy(), b_rgb.numpy())
        # a reused OpenCV DIS object gives slightly different flow with the order of the
        # pairs (hundredths of a pixel); bound the mean and the worst difference (in px)
        diff = np.abs(a_flow.numpy() - b_flow.numpy()) * 20
        assert diff.mean() < 0.02 and diff.max() < 0.2
    assert len(cached._cache) == 2 and len(cached._flow_cache) == 2


def test_preload_fills_the_caches_and_keeps_items(synth) -> None:
    samples, _ = ucf101_samples(synth, subset="test")
    streams = (StreamSpec("rgb", 3, 2, 16), StreamSpec("flow", 3, 2, 16))
    lazy = ClipDataset(samples[:3], streams, train=False, cache_videos=True)
    eager = ClipDataset(samples[:3], streams, train=False, cache_videos=True)
    assert eager.preload() >= 0
    assert set(eager._cache) == set(eager._flow_cache) == {s.path for s in samples[:3]}
    # every pair of a video has its flow: (frames - 1, H, W, 2)
    for path, flows in eager._flow_cache.items():
        assert flows.shape[0] == len(eager._cache[path]) - 1 and flows.shape[-1] == 2
    for i in range(3):
        (a_rgb, a_flow), _ = lazy[i]
        (b_rgb, b_flow), _ = eager[i]
        np.testing.assert_array_equal(a_rgb.numpy(), b_rgb.numpy())
        np.testing.assert_array_equal(a_flow.numpy(), b_flow.numpy())
    rgb_only = ClipDataset(samples[:2], streams[:1], train=False, cache_videos=True)
    rgb_only.preload()
    assert len(rgb_only._cache) == 2 and not rgb_only._flow_cache
    with pytest.raises(MotionlabError, match="cache_videos"):
        ClipDataset(samples[:1], streams, train=False).preload()
