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

from motionlab.study.config import TRIAL_KINDS, StudyConfig
from motionlab.study.stimuli import Catalogue


def new_seed() -> int:
    """A fresh participant seed (63 random bits, so it fits a signed 64-bit column)."""
    return secrets.randbits(63)


#: A pilot run's rest length cap, seconds.
PILOT_REST_SECONDS = 5


def trial_blocks(kinds_sources: list[tuple[str, str | None]]) -> list[list[int]]:
    """Blocks of a protocol: maximal runs of consecutive trial phases (training, test) of one
    source, as lists of phase indices (e.g. ``[[3, 4], [6, 7]]`` for RGB and AFD)."""
    blocks: list[list[int]] = []
    prev: tuple[str, str | None] | None = None
    for i, (kind, source) in enumerate(kinds_sources):
        if kind in TRIAL_KINDS:
            if prev is not None and prev[0] in TRIAL_KINDS and prev[1] == source:
                blocks[-1].append(i)
            else:
                blocks.append([i])
        prev = (kind, source)
    return blocks


def counterbalance(order: int, n_blocks: int, n_keys: int, *, keys: bool) -> tuple[int, int]:
    """The block rotation and key shift of the participant who starts ``order``-th (0-based).

    A balanced scheme: block orders cycle fastest (participants 0, 1 of a two-block study get
    RGB first, AFD first), each full cycle of block orders then shifts the class-to-key
    mapping by one (a cyclic Latin square of the keys), so every (block order, key mapping)
    pair is used equally often over ``n_blocks * n_keys`` participants.
    """
    rotation = order % n_blocks if n_blocks > 1 else 0
    shift = (order // max(n_blocks, 1)) % n_keys if keys and n_keys > 1 else 0
    return rotation, shift


def make_plan(
    config: StudyConfig, catalogue: Catalogue, seed: int, *, order: int = 0, pilot: bool = False
) -> dict[str, Any]:
    """The participant's plan (JSON-serialisable).

    Parameters
    ----------
    order : int
        How many participants started before this one: with ``config.counterbalance`` it
        picks the block order and the key mapping (:func:`counterbalance`).
    pilot : bool
        A pilot run: one clip per class in every clip phase and rests of at most
        :data:`PILOT_REST_SECONDS` seconds (the data are marked as pilot by the caller).

    Returns
    -------
    dict
        ``{"seed": seed, "pilot": bool, "counterbalance": {"order", "blocks", "key_shift"},
        "answer_keys": [one key per class], "phases": [{"name", "kind", "source",
        "feedback", "loop", "seconds", "items": [{"stimulus": key, "name":
        "source/rel/path", "truth": class}, ...]}]}``; ``items`` is empty for phases without
        stimuli. Familiarisation items are ordered by class; training and test items are
        shuffled. The phases are in the participant's order (blocks may be rotated).
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
                if pilot:
                    chosen = chosen[:1]
                items.extend({"stimulus": s.key, "name": s.name, "truth": label} for s in chosen)
            if phase.has_trials:
                rng.shuffle(items)
        seconds = min(phase.seconds, PILOT_REST_SECONDS) if pilot else phase.seconds
        phases.append(
            {
                "name": phase.name,
                "kind": phase.kind,
                "source": phase.source,
                "feedback": phase.feedback,
                "loop": phase.loop,
                "seconds": seconds,
                "items": items,
            }
        )
    if config.attention is not None:
        _add_attention_checks(phases, config, catalogue, rng)
    blocks = trial_blocks([(p["kind"], p["source"]) for p in phases])
    rotation, shift = (
        counterbalance(order, len(blocks), len(config.keys), keys=config.counterbalance)
        if config.counterbalance
        else (0, 0)
    )
    # each block's source in the participant's order (read before the phases move)
    block_sources = [phases[b[0]]["source"] for b in blocks]
    block_sources = block_sources[rotation:] + block_sources[:rotation]
    if rotation:
        phases = _rotate_blocks(phases, blocks, rotation)
    keys = list(config.keys)
    if shift:
        keys = keys[-shift:] + keys[:-shift]  # class i gets the key of class i - shift
    return {
        "seed": seed,
        "pilot": pilot,
        "counterbalance": {
            "order": order,
            "blocks": block_sources,
            "key_shift": shift,
        },
        "answer_keys": keys,
        "phases": phases,
    }


def _add_attention_checks(
    phases: list[dict], config: StudyConfig, catalogue: Catalogue, rng: random.Random
) -> None:
    """Insert ``per_test_phase`` catch clips (``"attention_check": True``) at random
    positions of every test phase; no clip twice for one participant."""
    checks = config.attention
    pool = [
        (label, s) for label in config.classes for s in catalogue.by_source[checks.source][label]
    ]
    rng.shuffle(pool)
    for phase in phases:
        if phase["kind"] != "test":
            continue
        for _ in range(checks.per_test_phase):
            label, stim = pool.pop()
            item = {
                "stimulus": stim.key,
                "name": stim.name,
                "truth": label,
                "attention_check": True,
            }
            phase["items"].insert(rng.randint(0, len(phase["items"])), item)


def _rotate_blocks(phases: list[dict], blocks: list[list[int]], rotation: int) -> list[dict]:
    """The phases with the trial blocks rotated by ``rotation`` slots; other phases (consent,
    familiarisation, rest, ...) stay where they are."""
    moved = blocks[rotation:] + blocks[:rotation]
    slot_of = {b[0]: k for k, b in enumerate(blocks)}
    in_block = {i for b in blocks for i in b}
    out = []
    for i, phase in enumerate(phases):
        if i in slot_of:
            out.extend(phases[j] for j in moved[slot_of[i]])
        elif i not in in_block:
            out.append(phase)
    return out
