"""A participant's plan: the phases of the study with their stimuli, in order.

The plan is a pure function of the study config, the stimulus catalogue and the
participant's seed: :func:`make_plan` shuffles each (source, class) pool once with
``random.Random(seed)``, hands each stimulus phase its ``per_class`` stimuli from the front
of the pools (removing them when the phase is ``disjoint``), and shuffles each phase's
trials. The seed and the resulting plan are stored with the participant, so a reload
resumes the very same sequence and the randomisation can be reproduced and audited.
"""

from __future__ import annotations

import random
import secrets
from typing import Any

from motionlab.study.config import StudyConfig
from motionlab.study.stimuli import Catalogue


def new_seed() -> int:
    """A fresh participant seed (63 random bits, so it fits a signed 64-bit column)."""
    return secrets.randbits(63)


def make_plan(config: StudyConfig, catalogue: Catalogue, seed: int) -> dict[str, Any]:
    """The participant's plan (JSON-serialisable).

    Returns
    -------
    dict
        ``{"seed": seed, "phases": [{"name", "kind", "source", "feedback", "loop", "seconds",
        "items": [{"stimulus": key, "name": "source/rel/path", "truth": class}, ...]}]}``;
        ``items`` is empty for phases without stimuli. Familiarisation items are ordered
        by class; training and test items are shuffled.
    """
    rng = random.Random(seed)
    pools: dict[tuple[str, str], list] = {}
    for source in sorted(catalogue.by_source):
        for label in config.classes:
            pool = list(catalogue.by_source[source][label])
            rng.shuffle(pool)
            pools[(source, label)] = pool
    phases = []
    for phase in config.phases:
        items: list[dict[str, str]] = []
        if phase.has_stimuli:
            for label in config.classes:
                pool = pools[(phase.source, label)]
                n = len(pool) if phase.per_class is None else phase.per_class
                chosen = pool[:n]
                if phase.disjoint:
                    del pool[:n]
                items.extend({"stimulus": s.key, "name": s.name, "truth": label} for s in chosen)
            if phase.has_trials:
                rng.shuffle(items)
        phases.append(
            {
                "name": phase.name,
                "kind": phase.kind,
                "source": phase.source,
                "feedback": phase.feedback,
                "loop": phase.loop,
                "seconds": phase.seconds,
                "items": items,
            }
        )
    return {"seed": seed, "phases": phases}
