"""Simulated participants that walk a study through its HTTP API.

For the sample report, the load test and tests. A simulated participant answers correctly
with a probability per modality (default: the thesis's human accuracies, 98.9 % on RGB and
89.8 % on AFD, §4.3), otherwise picks another class at random, and reports log-normal
response times (slower when wrong, slower in training). It uses any client with
``get(path, headers=...)`` and ``post(path, json=..., headers=...)``: FastAPI's
``TestClient`` in-process, or an ``httpx.Client(base_url=...)`` against a real server.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from motionlab.errors import MotionlabError

THESIS_ACCURACY = {"rgb": 0.989, "afd": 0.898}
THESIS_MEDIAN_RT_S = {"rgb": 1.6, "afd": 2.6}


@dataclass
class SimulationResult:
    participant: str
    answers: int
    latencies_ms: list[float] = field(default_factory=list)
    bytes_fetched: int = 0


def _ok(res, what: str) -> Any:
    if res.status_code != 200:
        raise MotionlabError(f"{what}: HTTP {res.status_code}: {res.text[:200]}")
    return res.json()


def simulate_participant(
    client,
    *,
    seed: int,
    accuracy: dict[str, float] | None = None,
    median_rt_s: dict[str, float] | None = None,
    questionnaire: bool = True,
    duplicate_every: int = 0,
    think_scale: float = 0.0,
    fetch_stimuli: bool = False,
) -> SimulationResult:
    """Take part in the study once, from consent to thank-you.

    Parameters
    ----------
    client
        ``TestClient`` or ``httpx.Client`` with the server as base URL.
    seed : int
        Seed of this participant's answers and response times.
    accuracy, median_rt_s : dict, optional
        Per modality (source name); unknown modalities get 0.9 and 2 s.
    duplicate_every : int
        Send every n-th answer twice (as a retry after a lost response would).
    think_scale : float
        Wait ``think_scale`` x the simulated response time before each answer (0: answer
        at once; 1: in real time).
    fetch_stimuli : bool
        Download each trial's frame sheet (info and PNG) as the browser does.
    """
    rng = np.random.default_rng(seed)
    accuracy = {**THESIS_ACCURACY, **(accuracy or {})}
    median_rt_s = {**THESIS_MEDIAN_RT_S, **(median_rt_s or {})}
    start = _ok(client.post("/api/session", json={"external_id": f"sim-{seed}"}), "session")
    headers = {"Authorization": f"Bearer {start['token']}"}
    state = _ok(client.get("/api/state", headers=headers), "state")
    result = SimulationResult(start["participant"], 0)
    classes = state["study"]["classes"]
    fps = state["study"]["fps"]["default"]
    answered = 0
    while state["phase"]["kind"] != "thanks":
        i, phase = state["phase_index"], state["phase"]
        kind = phase["kind"]
        if kind == "consent":
            state = _ok(
                client.post(
                    "/api/consent", json={"phase_index": i, "agree": True}, headers=headers
                ),
                "consent",
            )
            continue
        if kind in ("training", "test"):
            modality = phase["modality"]
            for t in range(phase["answered"], len(phase["items"])):
                key = phase["items"][t]["stimulus"]
                if fetch_stimuli:
                    _ok(client.get(f"/api/stimuli/{key}.json", headers=headers), "stimulus")
                    png = client.get(f"/api/stimuli/{key}.png", headers=headers)
                    if png.status_code != 200 or not png.content.startswith(b"\x89PNG"):
                        raise MotionlabError(f"stimulus {key}: HTTP {png.status_code}")
                    result.bytes_fetched += len(png.content)
                correct = rng.random() < accuracy.get(modality, 0.9)
                rt = float(rng.lognormal(np.log(median_rt_s.get(modality, 2.0)), 0.35) * 1000)
                if not correct:
                    rt *= 1.35
                if kind == "training":
                    rt *= 1.25
                body = {
                    "phase_index": i,
                    "trial_index": t,
                    "stimulus": key,
                    "choice": _choice(client, key, classes, correct, rng),
                    "rt_ms": round(rt, 3),
                    "loops": int(rt / 1000 * fps // 16),
                    "frames_shown": int(rt / 1000 * fps) + 1,
                    "fps": fps,
                    "client_ms": int(time.time() * 1000),
                    "submission_id": uuid.uuid4().hex,
                }
                if think_scale > 0:
                    time.sleep(rt / 1000 * think_scale)
                t0 = time.perf_counter()
                _ok(client.post("/api/trials", json=body, headers=headers), "trial")
                result.latencies_ms.append((time.perf_counter() - t0) * 1000)
                answered += 1
                if duplicate_every and answered % duplicate_every == 0:
                    again = _ok(client.post("/api/trials", json=body, headers=headers), "retry")
                    if not again["duplicate"]:
                        raise MotionlabError("a resent answer was stored twice")
            result.answers += len(phase["items"]) - phase["answered"]
        if kind == "questionnaire" and questionnaire:
            q = {
                "colour_vision_deficiency": str(rng.choice(["no", "no", "no", "unsure", "yes"])),
                "short_sighted": str(rng.choice(["yes", "no"])),
                "owns_glasses": str(rng.choice(["yes", "no"])),
                "wearing_glasses": str(rng.choice(["yes", "no"])),
                "sees_monitor_sharply": "yes",
                "familiarity_computer_vision": int(rng.integers(1, 6)),
                "familiarity_action_recognition": int(rng.integers(1, 6)),
                "difficulty": {c: int(rng.integers(1, 4)) for c in classes},
                "remarks": "",
            }
            state = _ok(client.post("/api/questionnaire", json=q, headers=headers), "questionnaire")
            continue
        state = _ok(
            client.post("/api/advance", json={"phase_index": i}, headers=headers),
            f"advance from {phase['name']}",
        )
    return result


def _choice(client, key, classes, correct, rng) -> str:
    """The class the simulated participant picks.

    It needs the stimulus's true class to be right with the wanted probability. The API
    never tells a participant the truth before an answer, so the simulation reads it from
    the study's server-side catalogue when it runs in-process (``client.app``), and
    otherwise from a per-client mapping filled by :func:`attach_truth`.
    """
    truth = _truth_of(client, key)
    if correct:
        return truth
    others = [c for c in classes if c != truth]
    return str(rng.choice(others)) if others else truth


_TRUTH: dict[int, dict[str, str]] = {}


def attach_truth(client, mapping: dict[str, str]) -> None:
    """Tell simulated participants on ``client`` the true class of each stimulus key."""
    _TRUTH[id(client)] = mapping


def _truth_of(client, key: str) -> str:
    mapping = _TRUTH.get(id(client))
    if mapping is None:
        app = getattr(client, "app", None)
        study = getattr(getattr(app, "state", None), "study", None)
        if study is None:
            raise MotionlabError("call attach_truth(client, truth_map(catalogue)) first")
        mapping = truth_map(study.catalogue)
        _TRUTH[id(client)] = mapping
    return mapping[key]


def truth_map(catalogue) -> dict[str, str]:
    """Stimulus key -> class, from a :class:`~motionlab.study.stimuli.Catalogue`."""
    return {k: s.label for k, s in catalogue.by_key.items()}


def simulate_study(client, n: int, *, seed: int = 0, **kwargs: Any) -> list[SimulationResult]:
    """``n`` simulated participants, one after the other."""
    return [simulate_participant(client, seed=seed + k, **kwargs) for k in range(n)]
