"""Analysis of a study: accuracy, confusion matrices, response times, a report.

Works on the long-format export (``trials.csv``, one row per answer; see
:mod:`motionlab.study.export`), read from a file or straight from the database.
:func:`write_report` makes PNG figures and a Markdown and an HTML report with

* accuracy per class and modality in the test phases (mean over answers, and the mean and
  standard deviation of per-participant accuracies, as the thesis reports them, §4.3);
* confusion matrices per modality (rows: true class, normalised to 1);
* response-time distributions of correct and wrong answers per class (thesis Fig. 4.5, A.3);
* per-participant accuracy; time to choose in training vs test;
* the questionnaire's answers;
* given a model's predictions (CSV with ``truth`` and ``prediction`` columns, optionally
  ``modality`` and ``stimulus``), the model's confusion matrix next to the humans'.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from motionlab.atomic import atomic_file
from motionlab.errors import MotionlabError


@dataclass
class TrialRecord:
    participant: str
    phase: str
    kind: str
    modality: str
    stimulus: str
    truth: str
    choice: str
    correct: bool
    rt_ms: float
    fps: float
    loops: int
    pilot: bool = False
    attention_check: bool = False


# the columns read_trials needs (motionlab study export writes more)
_NEEDED_TRIAL_COLUMNS = (
    "participant", "phase", "kind", "modality", "stimulus", "truth", "choice", "correct",
    "rt_ms", "fps", "loops",
)  # fmt: skip


def _records(rows: Iterable[dict[str, str]], where: str) -> list[TrialRecord]:
    out = []
    for n, r in enumerate(rows, start=2):
        try:
            out.append(
                TrialRecord(
                    participant=r["participant"],
                    phase=r["phase"],
                    kind=r["kind"],
                    modality=r["modality"],
                    stimulus=r["stimulus"],
                    truth=r["truth"],
                    choice=r["choice"],
                    correct=r["correct"] in ("1", "True", "true"),
                    rt_ms=float(r["rt_ms"]),
                    fps=float(r["fps"]),
                    loops=int(r["loops"]),
                    pilot=r.get("pilot", "") in ("1", "True", "true"),
                    attention_check=r.get("attention_check", "") in ("1", "True", "true"),
                )
            )
        except (KeyError, ValueError) as exc:
            raise MotionlabError(f"{where}, line {n}: not a trials export row ({exc})") from None
    return out


def read_trials(path: str | os.PathLike[str]) -> list[TrialRecord]:
    """Trials from a ``trials.csv`` written by ``motionlab study export``."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in _NEEDED_TRIAL_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise MotionlabError(
                    f"{path}, line 1: not a trials export row (missing column(s) "
                    f"{', '.join(missing)})"
                )
            records = _records(reader, str(path))
    except FileNotFoundError:
        raise MotionlabError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MotionlabError(f"{path}: cannot read: {exc}") from None
    if not records:
        raise MotionlabError(f"{path}: no trials to analyse (the export holds no answers)")
    return records


def read_questionnaires(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Questionnaire rows from a ``questionnaires.csv`` written by ``motionlab study export``."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        raise MotionlabError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MotionlabError(f"{path}: cannot read: {exc}") from None


def read_csv_text(text: str) -> list[dict[str, str]]:
    """Rows of CSV text (quoted CR/LF inside cells are kept)."""
    return list(csv.DictReader(io.StringIO(text, newline="")))


def load_from_db(db_url: str) -> tuple[list[TrialRecord], list[dict[str, str]]]:
    """Trials and questionnaire rows straight from a study database."""
    from motionlab.study.export import export_tables
    from motionlab.study.storage import Store

    store = Store(db_url, create=False)  # never creates a database it would then read
    try:
        tables = export_tables(store)
    finally:
        store.close()
    return _records(read_csv_text(tables["trials"]), db_url), read_csv_text(
        tables["questionnaires"]
    )


# --------------------------------------------------------------------------------------
# measures


def confusion(truth: list[str], choice: list[str], classes: list[str]) -> np.ndarray:
    """Counts, ``(C, C)`` int: row = true class, column = chosen class."""
    idx = {c: i for i, c in enumerate(classes)}
    m = np.zeros((len(classes), len(classes)), np.int64)
    for t, c in zip(truth, choice, strict=True):
        if t in idx and c in idx:
            m[idx[t], idx[c]] += 1
    return m


def normalise_rows(m: np.ndarray) -> np.ndarray:
    s = m.sum(axis=1, keepdims=True)
    return np.divide(m, s, out=np.zeros_like(m, dtype=float), where=s > 0)


@dataclass
class Summary:
    """Everything the report shows, computed once."""

    classes: list[str]
    modalities: list[str]
    participants: list[str]
    n_trials: int
    # (modality) -> class -> (accuracy, n)
    class_accuracy: dict[str, dict[str, tuple[float, int]]] = field(default_factory=dict)
    # modality -> (pooled accuracy, mean of participants, sd of participants, n participants)
    modality_accuracy: dict[str, tuple[float, float, float, int]] = field(default_factory=dict)
    confusions: dict[str, np.ndarray] = field(default_factory=dict)
    participant_accuracy: dict[str, dict[str, float]] = field(default_factory=dict)
    # (kind, modality) -> rts
    rt_by_kind: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    # modality -> class -> (correct rts, wrong rts)
    rt_correct_wrong: dict[str, dict[str, tuple[list[float], list[float]]]] = field(
        default_factory=dict
    )
    # participant -> (attention-check accuracy, number of checks), for those who had checks
    attention: dict[str, tuple[float, int]] = field(default_factory=dict)
    # participants left out: attention-check accuracy below the threshold
    excluded: list[str] = field(default_factory=list)
    min_attention: float = 1.0
    kinds: Counter = field(default_factory=Counter)  # answers analysed per phase kind


def summarise(
    trials: list[TrialRecord],
    classes: list[str] | None = None,
    *,
    include_pilot: bool = False,
    min_attention: float = 1.0,
) -> Summary:
    """Compute the report's measures. Accuracy and confusions use the test phases only.

    Answers of pilot runs are left out unless ``include_pilot``. Attention checks (catch
    trials) never count towards the accuracies; a participant whose attention-check accuracy
    is below ``min_attention`` is left out entirely (the exclusion rule; participants without
    checks are kept).
    """
    if not trials:
        raise MotionlabError("no trials to analyse")
    if not include_pilot:
        real = [t for t in trials if not t.pilot]
        if not real:
            raise MotionlabError("only pilot answers to analyse; pass --include-pilot to use them")
        trials = real
    checks: dict[str, list[bool]] = defaultdict(list)
    for t in trials:
        if t.attention_check:
            checks[t.participant].append(t.correct)
    attention = {p: (float(np.mean(v)), len(v)) for p, v in sorted(checks.items())}
    excluded = sorted(p for p, (acc, _) in attention.items() if acc < min_attention)
    trials = [t for t in trials if not t.attention_check and t.participant not in excluded]
    if not trials:
        raise MotionlabError(
            f"every participant failed the attention checks (accuracy < {min_attention}); "
            "nothing left to analyse"
        )
    if classes is None:
        classes = sorted({t.truth for t in trials} | {t.choice for t in trials})
    test = [t for t in trials if t.kind == "test"]
    modalities = list(dict.fromkeys(t.modality for t in trials))  # in the order of the phases
    participants = sorted({t.participant for t in trials})
    s = Summary(classes, modalities, participants, len(trials))
    s.attention, s.excluded, s.min_attention = attention, excluded, min_attention
    s.kinds = Counter(t.kind for t in trials)
    for m in modalities:
        tm = [t for t in test if t.modality == m]
        if not tm:
            continue
        s.class_accuracy[m] = {}
        for c in classes:
            tc = [t.correct for t in tm if t.truth == c]
            s.class_accuracy[m][c] = (float(np.mean(tc)) if tc else float("nan"), len(tc))
        per = defaultdict(list)
        for t in tm:
            per[t.participant].append(t.correct)
        accs = np.array([np.mean(v) for v in per.values()])
        s.modality_accuracy[m] = (
            float(np.mean([t.correct for t in tm])),
            float(accs.mean()),
            float(accs.std(ddof=1)) if len(accs) > 1 else 0.0,
            len(accs),
        )
        s.confusions[m] = confusion([t.truth for t in tm], [t.choice for t in tm], classes)
        for p, v in per.items():
            s.participant_accuracy.setdefault(p, {})[m] = float(np.mean(v))
        s.rt_correct_wrong[m] = {
            c: (
                [t.rt_ms for t in tm if t.truth == c and t.correct],
                [t.rt_ms for t in tm if t.truth == c and not t.correct],
            )
            for c in classes
        }
    for t in trials:
        s.rt_by_kind.setdefault((t.kind, t.modality), []).append(t.rt_ms)
    return s


@dataclass
class ModelPredictions:
    truth: list[str]
    prediction: list[str]
    modality: list[str]


def read_predictions(path: str | os.PathLike[str]) -> ModelPredictions:
    """A model's predictions: CSV with columns ``truth`` and ``prediction`` (class names),
    optionally ``modality`` (e.g. ``afd``; default ``model``) and ``stimulus``."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise MotionlabError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise MotionlabError(f"{path}: cannot read: {exc}") from None
    if not rows or not {"truth", "prediction"} <= set(rows[0]):
        raise MotionlabError(f"{path}: needs a header with columns truth,prediction[,modality]")
    return ModelPredictions(
        [r["truth"] for r in rows],
        [r["prediction"] for r in rows],
        [r.get("modality") or "model" for r in rows],
    )


# --------------------------------------------------------------------------------------
# figures


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusions(panels: list[tuple[str, np.ndarray]], classes: list[str], path: Path) -> Path:
    """Row-normalised confusion matrices side by side, counts in the cells."""
    plt = _plt()
    n = len(panels)
    size = 1.0 + 0.55 * len(classes)
    fig, axes = plt.subplots(1, n, figsize=(size * n + 0.5, size + 0.6), squeeze=False)
    for ax, (title, m) in zip(axes[0], panels, strict=True):
        norm = normalise_rows(m)
        ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(
                    j,
                    i,
                    f"{norm[i, j]:.2f}\n({m[i, j]})",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if norm[i, j] > 0.6 else "black",
                )
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        acc = np.trace(m) / max(1, m.sum())
        ax.set_title(f"{title} (acc. {100 * acc:.1f} %)", fontsize=9)
        ax.set_xlabel("chosen")
        ax.set_ylabel("true")
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    plt = _plt()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def plot_rt_correct_wrong(s: Summary, path: Path) -> Path:
    """Box plots of response times of correct and wrong answers per class (Fig. 4.5, A.3)."""
    plt = _plt()
    mods = [m for m in s.modalities if m in s.rt_correct_wrong]
    fig, axes = plt.subplots(
        1, max(1, len(mods)), figsize=(5.5 * max(1, len(mods)), 3.8), squeeze=False, sharey=True
    )
    for ax, m in zip(axes[0], mods, strict=False):
        data, pos, colours = [], [], []
        for k, c in enumerate(s.classes):
            ok, bad = s.rt_correct_wrong[m][c]
            for off, values, col in ((-0.18, ok, "#2da44e"), (0.18, bad, "#cf222e")):
                data.append(np.asarray(values) / 1000.0 if values else np.array([np.nan]))
                pos.append(k + off)
                colours.append(col)
        bp = ax.boxplot(
            data,
            positions=pos,
            widths=0.3,
            patch_artist=True,
            showfliers=True,
            flierprops={"markersize": 3},
        )
        for patch, col in zip(bp["boxes"], colours, strict=True):
            patch.set_facecolor(col)
            patch.set_alpha(0.55)
        ax.set_xticks(range(len(s.classes)), s.classes, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{m}: response time, correct (green) vs wrong (red)", fontsize=9)
        ax.set_ylabel("seconds from first frame")
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_participants(s: Summary, path: Path) -> Path:
    """Test accuracy of each participant per modality."""
    plt = _plt()
    mods = [m for m in s.modalities if m in s.modality_accuracy]
    ps = s.participants
    fig, ax = plt.subplots(figsize=(max(5.0, 0.35 * len(ps) * max(1, len(mods)) + 2), 3.5))
    width = 0.8 / max(1, len(mods))
    for k, m in enumerate(mods):
        acc = [100 * s.participant_accuracy.get(p, {}).get(m, np.nan) for p in ps]
        ax.bar(np.arange(len(ps)) + (k - (len(mods) - 1) / 2) * width, acc, width, label=m)
    ax.set_xticks(range(len(ps)), [p[:6] for p in ps], rotation=90, fontsize=7)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 118)
    ax.set_yticks(range(0, 101, 20))
    ax.legend(fontsize=8, loc="upper right", ncols=len(mods))
    ax.set_title("Accuracy per participant", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_training_vs_test(s: Summary, path: Path) -> Path:
    """Time to choose in the training and the test phases, per modality."""
    plt = _plt()
    keys = sorted(k for k in s.rt_by_kind if k[0] in ("training", "test"))
    fig, ax = plt.subplots(figsize=(1.3 * max(2, len(keys)) + 1.5, 3.5))
    ax.boxplot([np.asarray(s.rt_by_kind[k]) / 1000 for k in keys], showfliers=False)
    ax.set_xticks(range(1, len(keys) + 1), [f"{k}\n{m}" for k, m in keys], fontsize=8)
    ax.set_ylabel("seconds from first frame")
    ax.set_title("Time to choose: training vs test", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


# --------------------------------------------------------------------------------------
# the report: blocks rendered to Markdown and HTML


#: What :func:`write_report` writes into its folder.
REPORT_FILES = (
    "report.md",
    "report.html",
    "confusion.png",
    "rt_correct_wrong.png",
    "participants.png",
    "training_vs_test.png",
)


def _one_line(text: str) -> str:
    """``text`` with CR/LF (and other line breaks) as spaces: free text (participants'
    remarks) must not break a Markdown paragraph or table row."""
    return " ".join(text.splitlines())


def _pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:.1f} %"


def _table(header: list[str], rows: list[list[Any]]) -> tuple[str, list[str], list[list[str]]]:
    return ("table", header, [[str(c) for c in r] for r in rows])


def _markdown(blocks: list[tuple]) -> str:
    out = []
    for b in blocks:
        if b[0] == "h":
            out.append("#" * b[1] + " " + _one_line(b[2]))
        elif b[0] == "p":
            out.append(_one_line(b[1]))
        elif b[0] == "img":
            out.append(f"![{b[2]}]({b[1]})")
        elif b[0] == "table":
            _, header, rows = b
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "|".join("---" for _ in header) + "|")
            out += [
                "| " + " | ".join(_one_line(c).replace("|", "\\|") for c in r) + " |" for r in rows
            ]
        out.append("")
    return "\n".join(out)


def _html(blocks: list[tuple], title: str) -> str:
    e = html.escape
    body = []
    for b in blocks:
        if b[0] == "h":
            body.append(f"<h{b[1]}>{e(b[2])}</h{b[1]}>")
        elif b[0] == "p":
            body.append(f"<p>{e(b[1])}</p>")
        elif b[0] == "img":
            body.append(
                f'<figure><img src="{e(b[1])}" alt="{e(b[2])}"><figcaption>{e(b[2])}'
                "</figcaption></figure>"
            )
        elif b[0] == "table":
            _, header, rows = b
            head = "".join(f"<th>{e(h)}</th>" for h in header)
            trs = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>")
    style = (
        "body{font:15px/1.5 system-ui,sans-serif;max-width:1000px;margin:2rem auto;"
        "padding:0 1rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:.2rem .5rem}img{max-width:100%}figcaption{color:#555;font-size:.9em}"
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}'
        f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _attention_section(s: Summary, blocks: list[tuple]) -> None:
    """The attention checks and who was excluded for them."""
    if not s.attention:
        return
    blocks.append(("h", 2, "Attention checks"))
    blocks.append(
        (
            "p",
            f"Catch trials (clips with a known answer) are not counted in any accuracy. "
            f"{len(s.excluded)} of {len(s.attention)} participants with checks scored below "
            f"{_pct(s.min_attention)} on them and are excluded from everything below.",
        )
    )
    blocks.append(
        _table(
            ["participant", "attention-check accuracy", "checks", "excluded"],
            [
                [p, _pct(acc), n, "yes" if p in s.excluded else ""]
                for p, (acc, n) in s.attention.items()
            ],
        )
    )


def _accuracy_sections(s: Summary, blocks: list[tuple]) -> None:
    """Accuracy per modality, then per class and modality (test phases)."""
    blocks.append(("h", 2, "Accuracy per modality"))
    blocks.append(
        _table(
            ["modality", "accuracy (all answers)", "mean of participants", "sd", "participants"],
            [
                [m, _pct(a), _pct(mu), f"{100 * sd:.1f}", n]
                for m, (a, mu, sd, n) in s.modality_accuracy.items()
            ],
        )
    )
    blocks.append(("h", 2, "Accuracy per class and modality"))
    mods = list(s.class_accuracy)
    blocks.append(
        _table(
            ["class", *[f"{m} (n)" for m in mods]],
            [
                [
                    c,
                    *[
                        f"{_pct(s.class_accuracy[m][c][0])} ({s.class_accuracy[m][c][1]})"
                        for m in mods
                    ],
                ]
                for c in s.classes
            ],
        )
    )


def _confusion_section(
    s: Summary,
    blocks: list[tuple],
    out: Path,
    files: dict[str, Path],
    predictions: ModelPredictions | None,
) -> None:
    """Confusion matrices of the humans (and the model's, when given), with the figure."""
    mods = list(s.class_accuracy)
    blocks.append(("h", 2, "Confusion matrices"))
    panels = [(f"humans, {m}", s.confusions[m]) for m in mods]
    if predictions is not None:
        pmods = sorted(set(predictions.modality))
        for pm in pmods:
            sel = [i for i, m in enumerate(predictions.modality) if m == pm]
            cm = confusion(
                [predictions.truth[i] for i in sel],
                [predictions.prediction[i] for i in sel],
                s.classes,
            )
            panels.append((f"model, {pm}", cm))
    if panels:
        files["confusion"] = plot_confusions(panels, s.classes, out / "confusion.png")
        blocks.append(
            (
                "img",
                "confusion.png",
                "Rows: true class, normalised to 1 (counts in brackets)"
                + ("; the model's predictions on the right" if predictions else ""),
            )
        )
    if predictions is not None:
        rows = []
        for title_, m in panels:
            acc = normalise_rows(m).diagonal()
            rows.append([title_, *[_pct(a) for a in acc], _pct(np.trace(m) / max(1, m.sum()))])
        blocks.append(_table(["", *s.classes, "overall"], rows))


def _response_time_section(
    s: Summary, blocks: list[tuple], out: Path, files: dict[str, Path]
) -> None:
    """Response times of correct vs wrong answers per class and modality."""
    mods = list(s.class_accuracy)
    blocks.append(("h", 2, "Response times, correct vs wrong"))
    files["rt"] = plot_rt_correct_wrong(s, out / "rt_correct_wrong.png")
    blocks.append(
        (
            "img",
            "rt_correct_wrong.png",
            "Response time from the first displayed frame to the click, test phases",
        )
    )
    rows = []
    for m in mods:
        for c in s.classes:
            ok, bad = s.rt_correct_wrong[m][c]
            rows.append(
                [
                    m,
                    c,
                    len(ok),
                    f"{np.median(ok) / 1000:.2f}" if ok else "–",
                    len(bad),
                    f"{np.median(bad) / 1000:.2f}" if bad else "–",
                ]
            )
    blocks.append(
        _table(["modality", "class", "correct n", "median s", "wrong n", "median s"], rows)
    )


def _participant_section(
    s: Summary, blocks: list[tuple], out: Path, files: dict[str, Path]
) -> None:
    """Test accuracy of each participant, with the figure."""
    mods = list(s.class_accuracy)
    blocks.append(("h", 2, "Per participant"))
    files["participants"] = plot_participants(s, out / "participants.png")
    blocks.append(("img", "participants.png", "Test accuracy of each participant"))
    blocks.append(
        _table(
            ["participant", *mods],
            [
                [p, *[_pct(s.participant_accuracy.get(p, {}).get(m, float("nan"))) for m in mods]]
                for p in s.participants
            ],
        )
    )


def _training_vs_test_section(
    s: Summary, blocks: list[tuple], out: Path, files: dict[str, Path]
) -> None:
    """Response times per phase kind and modality, with the figure."""
    blocks.append(("h", 2, "Time to choose: training vs test"))
    files["training_vs_test"] = plot_training_vs_test(s, out / "training_vs_test.png")
    blocks.append(("img", "training_vs_test.png", "Response times per phase kind and modality"))
    blocks.append(
        _table(
            ["phase kind", "modality", "answers", "median s", "mean s"],
            [
                [k, m, len(v), f"{np.median(v) / 1000:.2f}", f"{np.mean(v) / 1000:.2f}"]
                for (k, m), v in sorted(s.rt_by_kind.items())
            ],
        )
    )


def _questionnaire_section(
    s: Summary, blocks: list[tuple], questionnaires: list[dict[str, str]] | None
) -> None:
    """The questionnaire's answers, counted or averaged, and the remarks."""
    if not questionnaires:
        return
    blocks.append(("h", 2, "Questionnaire"))
    q = questionnaires
    rows = []
    for key in (
        "colour_vision_deficiency",
        "short_sighted",
        "owns_glasses",
        "wearing_glasses",
        "sees_monitor_sharply",
    ):
        counts = Counter(r[key] for r in q)
        rows.append(
            [key.replace("_", " "), ", ".join(f"{v}: {n}" for v, n in sorted(counts.items()))]
        )
    for key in ("familiarity_computer_vision", "familiarity_action_recognition"):
        vals = [int(r[key]) for r in q]
        rows.append([key.replace("_", " ") + " (1-5)", f"mean {np.mean(vals):.2f}"])
    diffs = defaultdict(list)
    for r in q:
        for c, v in json.loads(r["difficulty"]).items():
            diffs[c].append(v)
    for c in s.classes:
        if diffs.get(c):
            rows.append([f"difficulty of {c} (1-3)", f"mean {np.mean(diffs[c]):.2f}"])
    blocks.append(_table([f"question ({len(q)} answers)", "answers"], rows))
    remarks = [r["remarks"] for r in q if r.get("remarks")]
    if remarks:
        blocks.append(("p", "Remarks: " + " / ".join(remarks)))


def write_report(
    trials: list[TrialRecord],
    out_dir: str | os.PathLike[str],
    *,
    questionnaires: list[dict[str, str]] | None = None,
    predictions: ModelPredictions | None = None,
    classes: list[str] | None = None,
    title: str = "Human perception study: report",
    include_pilot: bool = False,
    min_attention: float = 1.0,
) -> dict[str, Path]:
    """Write the figures, ``report.md`` and ``report.html`` into ``out_dir``.

    Pilot runs' answers are left out unless ``include_pilot``; participants below
    ``min_attention`` on the attention checks are excluded (see :func:`summarise`).

    Returns
    -------
    dict
        Name -> path of everything written.
    """
    s = summarise(trials, classes, include_pilot=include_pilot, min_attention=min_attention)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    blocks: list[tuple] = [("h", 1, title)]
    kinds = s.kinds
    blocks.append(
        (
            "p",
            f"{len(s.participants)} participants, {s.n_trials} answers "
            f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}); classes: "
            f"{', '.join(s.classes)}; modalities: {', '.join(s.modalities)}. "
            "Accuracy and confusion matrices use the test phases only.",
        )
    )

    _attention_section(s, blocks)
    _accuracy_sections(s, blocks)
    _confusion_section(s, blocks, out, files, predictions)
    _response_time_section(s, blocks, out, files)
    _participant_section(s, blocks, out, files)
    _training_vs_test_section(s, blocks, out, files)
    _questionnaire_section(s, blocks, questionnaires)

    md = out / "report.md"
    with atomic_file(md) as tmp:
        tmp.write_text(_markdown(blocks), encoding="utf-8")
    page = out / "report.html"
    with atomic_file(page) as tmp:
        tmp.write_text(_html(blocks, title), encoding="utf-8")
    files.update(markdown=md, html=page)
    return files
