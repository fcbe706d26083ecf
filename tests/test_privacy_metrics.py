"""f_lambda (eq. 5.6), the Table 5.2 summary and the template-similarity matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motionlab.errors import MotionlabError
from motionlab.privacy.metrics import (
    MapAverager,
    compare_templates,
    f_lambda,
    format_table,
    plot_lambda_sweep,
    read_predictions,
    score_methods,
    template_cosine,
    template_distances,
)

CSV = """method,video,action_true,action_pred,privacy_true,privacy_pred
ours,a,run,run,f,m
ours,b,jump,jump,m,m
ours,c,run,jump,f,m
ours,d,jump,jump,m,f
blur,a,run,run,f,f
blur,b,jump,run,m,m
"""


def test_f_lambda_hand_computed() -> None:
    assert f_lambda(0.8, 0.3, 0.5) == pytest.approx(0.75)
    assert f_lambda(0.8, 0.3, 0.0) == pytest.approx(0.8)  # utility only
    assert f_lambda(0.8, 0.3, 1.0) == pytest.approx(0.7)  # privacy only
    assert np.allclose(f_lambda(1.0, 1.0, np.array([0, 0.5, 1])), [1.0, 0.5, 0.0])
    with pytest.raises(MotionlabError, match="lambda"):
        f_lambda(0.5, 0.5, 1.5)


def test_scores_and_table(tmp_path: Path) -> None:
    path = tmp_path / "pred.csv"
    path.write_text(CSV)
    scores = score_methods(read_predictions(path))
    assert [s.method for s in scores] == ["ours", "blur"]
    ours, blur = scores
    assert (ours.videos, ours.action_top1, ours.privacy_top1) == (4, 0.75, 0.25)
    assert (blur.videos, blur.action_top1, blur.privacy_top1) == (2, 0.5, 1.0)
    assert ours.f(0.5) == pytest.approx(0.75)
    table = format_table(scores)
    assert "| ours | 4 | 75.0 | 25.0 | 0.750 |" in table
    assert "| blur | 2 | 50.0 | 100.0 | 0.250 |" in table
    plot_lambda_sweep(scores, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_prediction_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("method,video\nours,a\n")
    with pytest.raises(MotionlabError, match="missing column"):
        read_predictions(path)
    path.write_text(CSV + "ours,a,run,run,f,f\n")
    with pytest.raises(MotionlabError, match="twice"):
        score_methods(read_predictions(path))
    with pytest.raises(MotionlabError, match="no such"):
        read_predictions(tmp_path / "none.csv")


def test_map_average_eq_a1_hand_computed() -> None:
    avg = MapAverager(["a", "b"])  # native size
    avg.add(np.array([[[0.0, 1.0]], [[1.0, 1.0]]]))  # (K=2, H=1, W=2)
    avg.add(np.array([[[0.5, 0.0]], [[0.0, 1.0]]]))
    avg.add(np.array([[[1.0, 0.5]], [[0.5, 1.0]]]))
    assert avg.count == 3
    assert np.allclose(avg.mean, [[[0.5, 0.5]], [[0.5, 1.0]]])
    with pytest.raises(MotionlabError, match="--size"):
        avg.add(np.zeros((2, 2, 2)))
    with pytest.raises(MotionlabError, match="expected 2 maps"):
        avg.add(np.zeros((3, 1, 2)))
    with pytest.raises(MotionlabError, match="no maps"):
        _ = MapAverager(["a"]).mean
    resized = MapAverager(["a"], size=(2, 1))  # (width, height)
    resized.add(np.array([[[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]]]))
    assert np.allclose(resized.mean, [[[1.0, 0.0]]])


def test_template_distances_eq_a2_hand_computed() -> None:
    """v_ij = sum_p |S̄_i(p) - S̄_j(p)| on 2x2 maps worked out by hand."""
    maps = np.array(
        [
            [[1.0, 1.0], [0.0, 0.0]],  # a: top row
            [[0.5, 0.5], [0.0, 0.0]],  # b: top row, half as strong
            [[0.0, 0.0], [1.0, 1.0]],  # c: bottom row
        ]
    )
    v = template_distances(maps)
    # a-b: 0.5 + 0.5 = 1; a-c: 4 * 1 = 4; b-c: 0.5 + 0.5 + 1 + 1 = 3
    assert np.allclose(v, [[0, 1, 4], [1, 0, 3], [4, 3, 0]])
    assert np.allclose(template_distances(maps, per_pixel=True), v / 4)  # 2x2 pixels
    assert np.array_equal(compare_templates(maps), v)  # l1 (as written) is the default
    assert np.allclose(compare_templates(maps, measure="mae"), v / 4)
    # cosine stays a named alternative: a and b have the same direction (similarity 1)
    # though A.2 sets them 1 apart
    cos = compare_templates(maps, measure="cosine")
    assert np.allclose(cos, template_cosine(maps))
    assert cos[0, 1] == pytest.approx(1.0) and cos[0, 2] == pytest.approx(0.0)
    with pytest.raises(MotionlabError, match="measure"):
        compare_templates(maps, measure="cos")
