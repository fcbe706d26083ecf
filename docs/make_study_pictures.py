"""Make the study's pictures: screenshots of every page and a sample report.

Run: ``.venv/bin/python docs/make_study_pictures.py`` (needs the study extra, Playwright and
Debian's chromium for the screenshots). Writes

* ``docs/images/study/study_NN_<page>.png``: the browser test
  (``tests/test_study_browser.py``) walking a short study, one screenshot per page;
* ``docs/study/sample_report/``: ``motionlab study report`` on a simulated study: the demo
  study (4 synthetic classes, the thesis's protocol), 10 simulated participants answering
  with the thesis's human accuracies (98.9 % RGB, 89.8 % AFD), and a made-up "model" whose
  predictions on the AFD test clips are drawn with 80 % accuracy.
"""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "images" / "study"
REPORT = ROOT / "docs" / "study" / "sample_report"


def screenshots() -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
    env = {**os.environ, "MOTIONLAB_STUDY_SCREENSHOTS": str(SHOTS)}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "tests/test_study_browser.py",
        "-p",
        "no:cacheprovider",
    ]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def sample_report() -> None:
    from fastapi.testclient import TestClient

    from motionlab.study.analysis import ModelPredictions, load_from_db, write_report
    from motionlab.study.config import load_config, with_rest
    from motionlab.study.demo import make_demo_study
    from motionlab.study.server import create_app
    from motionlab.study.simulate import simulate_study
    from motionlab.study.stimuli import Catalogue
    from motionlab.study.storage import Store

    with tempfile.TemporaryDirectory() as tmp:
        config_path = make_demo_study(Path(tmp) / "demo", per_class=12)
        config = with_rest(load_config(config_path), 0)
        url = f"sqlite:///{Path(tmp) / 'study.db'}"
        catalogue = Catalogue(config, cache_dir=Path(tmp) / "cache")
        app = create_app(
            config, Store(url), catalogue, admin_token=secrets.token_urlsafe(24), limits=None
        )
        with TestClient(app) as client:
            simulate_study(client, 10, seed=0)
        trials, questionnaires = load_from_db(url)
        rng = np.random.default_rng(0)
        test_afd = sorted({(t.stimulus, t.truth) for t in trials if t.phase == "test-afd"})
        classes = list(config.classes)
        prediction = [
            truth if rng.random() < 0.8 else str(rng.choice([c for c in classes if c != truth]))
            for _, truth in test_afd
        ]
        preds = ModelPredictions([t for _, t in test_afd], prediction, ["afd"] * len(test_afd))
        shutil.rmtree(REPORT, ignore_errors=True)
        write_report(
            trials,
            REPORT,
            questionnaires=questionnaires,
            predictions=preds,
            classes=classes,
            title="Sample report: a simulated study (10 participants, demo stimuli)",
        )
        with (REPORT / "model_predictions.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["stimulus", "truth", "prediction", "modality"])
            for (stim, truth), pred in zip(test_afd, prediction, strict=True):
                w.writerow([stim, truth, pred, "afd"])


if __name__ == "__main__":
    sample_report()
    if "--no-screenshots" not in sys.argv:
        screenshots()
