"""Export of the study database as CSV: one row per trial (long format), questionnaires,
participants and phase times.

``trials.csv`` columns: participant, external_id, seed, phase_index, phase, kind, modality,
trial_index, stimulus, truth, choice, correct (0/1), rt_ms, loops, frames_shown, fps,
client_time, server_time (ISO 8601, UTC, milliseconds), response (``click`` or ``key``),
pilot (0/1: a pilot run's answer), attention_check (0/1: a catch trial).
Response times are measured in the browser from the first displayed frame
(``requestAnimationFrame`` timestamp) to the click or key press (the event's ``timeStamp``;
both on the ``performance.now`` time base).

Every table is written by the :mod:`csv` module in RFC 4180 form (rows end in CRLF; a cell
holding a comma, a quote, a CR or an LF is quoted), so free text such as a participant's
remarks reads back unchanged with any CSV reader. Python 3.11's writer quotes only the
characters of its line terminator: with ``"\n"`` a lone CR in a remark went out unquoted and
broke the file, hence CRLF. As a defence against spreadsheet formula injection, a text
cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a CR gets a leading ``'`` (so
``=cmd`` is exported as ``'=cmd``; strip it when you need the raw text).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from motionlab.atomic import atomic_file

TRIAL_COLUMNS = (
    "participant",
    "external_id",
    "seed",
    "phase_index",
    "phase",
    "kind",
    "modality",
    "trial_index",
    "stimulus",
    "truth",
    "choice",
    "correct",
    "rt_ms",
    "loops",
    "frames_shown",
    "fps",
    "client_time",
    "server_time",
    "response",
    "pilot",
    "attention_check",
)
QUESTIONNAIRE_COLUMNS = (
    "participant",
    "external_id",
    "colour_vision_deficiency",
    "short_sighted",
    "owns_glasses",
    "wearing_glasses",
    "sees_monitor_sharply",
    "familiarity_computer_vision",
    "familiarity_action_recognition",
    "difficulty",  # JSON {class: 1 easy .. 3 hard}
    "remarks",
    "server_time",
)


def iso(ms: int | None) -> str:
    """Epoch milliseconds as ISO 8601 UTC ('' for None)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


#: The tables of an export, written as ``<name>.csv``.
TABLES = ("trials", "questionnaires", "participants", "phases", "events")
#: First characters that make a spreadsheet evaluate a cell (OWASP's CSV injection list).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text of ``rows`` (dicts keyed by ``columns``): RFC 4180 quoting, CRLF rows, text
    cells starting with a formula character prefixed with ``'`` (see the module notes)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])
    return buf.getvalue()


def _cell(value: Any) -> Any:
    # Cells a spreadsheet would run as a formula are quoted with a leading apostrophe
    # (free-text remarks and ids are participant input).
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    if isinstance(value, bool):
        return int(value)
    return value


def _trial_rows(store, participants: dict) -> list[dict[str, object]]:
    """One row per answer (``TRIAL_COLUMNS``)."""
    trials = []
    for t in store.all_trials():
        p = participants[t.participant_id]
        trials.append(
            {
                "participant": p.public_id,
                "external_id": p.external_id or "",
                "seed": p.seed,
                "phase_index": t.phase_index,
                "phase": t.phase_name,
                "kind": t.phase_kind,
                "modality": t.modality,
                "trial_index": t.trial_index,
                "stimulus": t.stimulus,
                "truth": t.truth,
                "choice": t.choice,
                "correct": bool(t.correct),
                "rt_ms": round(t.rt_ms, 3),
                "loops": t.loops,
                "frames_shown": t.frames_shown,
                "fps": t.fps,
                "client_time": iso(t.client_ms),
                "server_time": iso(t.server_ms),
                "response": t.response,
                "pilot": bool(p.pilot),
                "attention_check": bool(t.attention_check),
            }
        )
    return trials


def _questionnaire_rows(store, participants: dict) -> list[dict[str, object]]:
    """One row per questionnaire (``QUESTIONNAIRE_COLUMNS``)."""
    questionnaires = []
    for q in store.all_questionnaires():
        p = participants[q.participant_id]
        questionnaires.append(
            {
                "participant": p.public_id,
                "external_id": p.external_id or "",
                **{c: getattr(q, c) for c in QUESTIONNAIRE_COLUMNS[2:-3]},
                "difficulty": json.dumps(json.loads(q.difficulty), sort_keys=True),
                "remarks": q.remarks,
                "server_time": iso(q.server_ms),
            }
        )
    return questionnaires


def _participant_table(participants: dict, events: list) -> str:
    """One row per participant: ids, seed, times, browser, link parameters, exits."""
    exits = Counter(e.participant_id for e in events if e.kind == "fullscreen_exit")
    pcols = (
        "participant",
        "external_id",
        "seed",
        "phase_index",
        "created",
        "consent",
        "completed",
        "user_agent",
        "url_params",
        "pilot",
        "client_info",
        "fullscreen_exits",
    )
    prow = [
        {
            "participant": p.public_id,
            "external_id": p.external_id or "",
            "seed": p.seed,
            "phase_index": p.phase_index,
            "created": iso(p.created_ms),
            "consent": iso(p.consent_ms),
            "completed": iso(p.completed_ms),
            "user_agent": p.user_agent,
            "url_params": p.url_params,  # JSON: the link's STUDY_ID, SESSION_ID, ...
            "pilot": bool(p.pilot),
            "client_info": p.client_info,  # JSON: window size, refresh rate, WebGL
            "fullscreen_exits": exits.get(p.id, 0),
        }
        for p in participants.values()
    ]
    return to_csv(pcols, prow)


def _phase_table(store, participants: dict) -> str:
    """One row per phase a participant started (start, end, duration)."""
    phcols = ("participant", "phase_index", "phase", "started", "finished", "duration_s")
    phrows = [
        {
            "participant": participants[ph.participant_id].public_id,
            "phase_index": ph.phase_index,
            "phase": ph.phase_name,
            "started": iso(ph.started_ms),
            "finished": iso(ph.finished_ms),
            "duration_s": ""
            if ph.finished_ms is None
            else round((ph.finished_ms - ph.started_ms) / 1000, 3),
        }
        for ph in store.all_phase_logs()
    ]
    return to_csv(phcols, phrows)


def _event_table(events: list, participants: dict) -> str:
    """Full-screen exits and returns (time, phase, trial)."""
    return to_csv(
        ("participant", "kind", "phase_index", "trial_index", "client_time", "server_time"),
        [
            {
                "participant": participants[e.participant_id].public_id,
                "kind": e.kind,
                "phase_index": e.phase_index,
                "trial_index": "" if e.trial_index is None else e.trial_index,
                "client_time": iso(e.client_ms),
                "server_time": iso(e.server_ms),
            }
            for e in events
        ],
    )


def export_tables(store) -> dict[str, str]:
    """All tables as CSV text: ``trials``, ``questionnaires``, ``participants``, ``phases``,
    ``events``."""
    participants = {p.id: p for p in store.all_participants()}
    events = store.all_events()
    return {
        "trials": to_csv(TRIAL_COLUMNS, _trial_rows(store, participants)),
        "questionnaires": to_csv(QUESTIONNAIRE_COLUMNS, _questionnaire_rows(store, participants)),
        "participants": _participant_table(participants, events),
        "phases": _phase_table(store, participants),
        "events": _event_table(events, participants),
    }


def export_study(db_url: str, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``trials.csv``, ``questionnaires.csv``, ``participants.csv``, ``phases.csv`` and
    ``events.csv`` (full-screen exits and returns)
    into ``out_dir`` (each atomically); return their paths.

    The database must exist and hold a study (it is never created here): a missing SQLite
    file raises :class:`~motionlab.errors.MotionlabError` before anything is written.
    """
    from motionlab.study.storage import Store

    store = Store(db_url, create=False)
    try:
        tables = export_tables(store)
    finally:
        store.close()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in tables.items():
        path = out / f"{name}.csv"
        with atomic_file(path) as tmp:
            tmp.write_bytes(text.encode("utf-8"))  # bytes: no newline translation
        paths[name] = path
    return paths
