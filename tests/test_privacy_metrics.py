"""f_lambda (eq. 5.6), the Table 5.2 summary and the template-similarity matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motionlab.errors import MotionlabError
from motionlab.privacy.metrics import (
    MapAverager,
    f_lambda,
    format_table,
    plot_lambda_sweep,
    read_predictions,
    score_methods,
    template_similarity,
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


def test_template_similarity() -> None:
    avg = MapAverager(["a", "b", "c"], size=(4, 2))
    left = np.zeros((3, 6, 8), np.float32)
    left[0, :, :4] = 1  # a: left half
    left[1, :, :4] = 0.5  # b: left half, weaker: same direction
    left[2, :, 4:] = 1  # c: right half
    avg.add(left)
    avg.add(left)
    assert avg.mean.shape == (3, 2, 4) and avg.count == 2
    sim = template_similarity(avg.mean)
    assert np.allclose(np.diag(sim), 1)
    assert sim[0, 1] == pytest.approx(1.0) and sim[0, 2] == pytest.approx(0.0)
    assert np.allclose(sim, sim.T)
