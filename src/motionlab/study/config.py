"""The study configuration: classes, stimulus sources and the phases of the protocol.

A study is described by a TOML file (see ``docs/study.md``)::

    [study]
    title = "Which action is it?"
    classes = ["JumpingJack", "Lunges", "PullUps", "PushUps", "Swing"]

    [stimuli.rgb]                 # one table per source; the name is the "modality"
    root = "ucf5"                 # relative to the config file
    pattern = "{class}/*.avi"     # glob below root; {class} is each class name

    [stimuli.afd]
    root = "afd5"
    pattern = "{class}/*.avi"

    [[phases]]                    # optional: without phases, a preset protocol
    kind = "training"
    source = "rgb"
    per_class = 4

Without ``[[phases]]`` a preset protocol over the sources ``rgb`` and ``afd`` is used
(``[study] preset``):

* ``"standard"`` (the default for new studies): consent, instructions, familiarisation (one
  looping example per class), training on RGB with the answer shown (4 per class), test on
  RGB (every remaining clip), a 5-minute rest, training on AFD, test on AFD,
  questionnaire, thank-you. See :func:`standard_phases`.
* ``"thesis"``: the seven phases of thesis §4.3 exactly, and nothing else (no consent
  page, no familiarisation), 90 test videos per modality. See :func:`thesis_phases`.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from motionlab.errors import MotionlabError

PHASE_KINDS = (
    "consent",
    "instructions",
    "familiarisation",
    "training",
    "test",
    "rest",
    "questionnaire",
    "thanks",
)
#: Kinds whose phases show stimuli (and so need a ``source``).
STIMULUS_KINDS = ("familiarisation", "training", "test")
#: Kinds whose phases store one answer per stimulus.
TRIAL_KINDS = ("training", "test")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,63}$")
_SOURCE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

DEFAULT_CONSENT = (
    "You are invited to take part in a study on how people recognise actions in short "
    "videos. You will watch short clips, some of which show only moving noise, and choose "
    "the action you see. It takes about 30 minutes. Your answers and response times are "
    "stored without your name; you may stop at any time without giving a reason.",
)
DEFAULT_INSTRUCTIONS = (
    "Each clip plays in a loop until you choose. Pick the action you see from the list "
    "below the clip; answer as quickly and as accurately as you can.",
    "The slider sets the playback speed (frames per second). You can change it at any "
    "time; 25 fps is the normal speed.",
    "First you will see one example of each action. In the training rounds you are told "
    "the right answer after each choice; in the test rounds you are not.",
    "Some clips show only moving noise: every single frame is random dots, and the action "
    "is visible only in the motion. Look at how the dots move together.",
)
#: The slide show of the thesis protocol (§4.3 (i)): the task, the videos, the menu. No
#: familiarisation is announced: the exact protocol has none.
THESIS_INSTRUCTIONS = (
    "You will see a series of short videos, one at a time, and a menu of actions below "
    "each video. Choose the action that the person in the video performs.",
    "Each video repeats until you make your choice; take as much time as you like.",
    "First you train on normal videos: after each choice the menu shows the right answer. "
    "Then you are tested on normal videos, without the answer.",
    "After a five-minute break the same follows with noise videos: every single frame is "
    "random dots, and the action is visible only in how the dots move together.",
)
#: Presets for a study file without ``[[phases]]`` (``[study] preset = ...``).
PRESETS = ("standard", "thesis")
#: Test videos per modality in the thesis's study (§4.3 (iii) and (vi)).
THESIS_TEST_VIDEOS = 90
DEFAULT_THANKS = "Thank you for taking part! Your answers have been stored. You may close this tab."


@dataclass(frozen=True)
class StimulusSource:
    """Where one modality's stimuli come from.

    Parameters
    ----------
    name : str
        The source's name, used as the trial's *modality* (e.g. ``rgb``, ``afd``).
    root : Path
        Folder holding the stimuli; nothing outside it is ever served.
    pattern : str
        Glob below ``root`` with ``{class}`` standing for each class name.
    max_frames : int
        Frames read from each stimulus (the rest is dropped).
    size : (width, height) or None
        Resize frames (nearest neighbour would alias noise: area/linear resizing as in
        :class:`motionlab.video.VideoReader`); None keeps the stimulus's size.
    """

    name: str
    root: Path
    pattern: str = "{class}/*"
    max_frames: int = 300
    size: tuple[int, int] | None = None


@dataclass(frozen=True)
class Phase:
    """One step of the protocol.

    ``per_class`` is the number of stimuli per class of a stimulus phase; None takes all
    that remain. With ``disjoint`` (the default) the stimuli a phase uses are not used again
    by a later phase of the same source for the same participant. ``feedback`` shows the
    right answer after each choice (training). ``loop`` repeats a clip until the participant
    answers (thesis §4.3: "each video repeats until the participant makes their
    selection"); without it the clip plays once and its last frame stays on screen.
    ``seconds`` is a rest's length.
    """

    name: str
    kind: str
    source: str | None = None
    per_class: int | None = None
    feedback: bool = False
    disjoint: bool = True
    seconds: int = 0
    title: str = ""
    text: tuple[str, ...] = ()
    loop: bool = True

    @property
    def has_trials(self) -> bool:
        return self.kind in TRIAL_KINDS

    @property
    def has_stimuli(self) -> bool:
        return self.kind in STIMULUS_KINDS


@dataclass(frozen=True)
class AttentionChecks:
    """Catch trials: clips with a known answer mixed into every test phase.

    ``source`` names a ``[stimuli.NAME]`` table whose class folders give each clip's known
    answer (pick clips anyone attending gets right). ``per_test_phase`` clips go into each
    test phase at random positions, none shown twice to a participant. They are stored and
    exported like other answers with ``attention_check`` set, left out of the accuracies, and
    a participant whose attention-check accuracy is below ``min_accuracy`` is excluded
    from the report (and counted as excluded on the admin page).
    """

    source: str
    per_test_phase: int = 1
    min_accuracy: float = 1.0


@dataclass(frozen=True)
class Requirements:
    """What a participant's browser and screen must offer, checked before consent.

    A participant who fails a check sees which one and why, and no session is made (they
    are not counted). ``min_width``/``min_height``: the browser window's inner size, CSS
    pixels. ``min_refresh_hz``: the display's refresh rate, estimated from 30
    ``requestAnimationFrame`` intervals (a 25 fps clip needs at least 50 Hz to show every
    frame for a whole number of refreshes). ``webgl``: WebGL available (canvas 2D always
    is). ``fullscreen``: the study runs in full screen; each exit is recorded (time, phase,
    trial) and the clip is paused until full screen returns.
    """

    min_width: int = 0
    min_height: int = 0
    min_refresh_hz: float = 0.0
    webgl: bool = False
    fullscreen: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_width": self.min_width,
            "min_height": self.min_height,
            "min_refresh_hz": self.min_refresh_hz,
            "webgl": self.webgl,
            "fullscreen": self.fullscreen,
        }


@dataclass(frozen=True)
class StudyConfig:
    """A whole study: what participants see, in which order, from which files."""

    title: str
    classes: tuple[str, ...]
    sources: dict[str, StimulusSource]
    phases: tuple[Phase, ...]
    fps_default: float = 25.0
    fps_min: float = 10.0
    fps_max: float = 40.0
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: One key per class (same order): pressing it answers like a click on that class.
    keys: tuple[str, ...] = ()
    #: Minutes after which an unfinished session expires (0: never).
    expire_minutes: int = 0
    #: The study closes to new participants once this many have completed it (0: never).
    max_participants: int = 0
    #: Rotate the trial blocks (RGB first / AFD first) and the class-to-key mapping over
    #: participants in a balanced scheme (:func:`motionlab.study.protocol.counterbalance`).
    counterbalance: bool = False
    #: Catch trials in the test phases (None: none).
    attention: AttentionChecks | None = None
    #: Browser and screen checks before consent, full screen.
    requirements: Requirements = Requirements()

    def phase_index(self, name: str) -> int:
        for i, phase in enumerate(self.phases):
            if phase.name == name:
                return i
        raise KeyError(name)


def _trial_phases(
    *, rest_seconds: int, training_per_class: int, test_per_class: int | None
) -> tuple[Phase, ...]:
    """Training and test on rgb, a rest, training and test on afd (shared by the presets)."""
    return (
        Phase(
            "training-rgb",
            "training",
            source="rgb",
            per_class=training_per_class,
            feedback=True,
            title="Training (normal videos)",
        ),
        Phase(
            "test-rgb", "test", source="rgb", per_class=test_per_class, title="Test (normal videos)"
        ),
        Phase("rest", "rest", seconds=rest_seconds, title="Break"),
        Phase(
            "training-afd",
            "training",
            source="afd",
            per_class=training_per_class,
            feedback=True,
            title="Training (noise videos)",
        ),
        Phase(
            "test-afd", "test", source="afd", per_class=test_per_class, title="Test (noise videos)"
        ),
        Phase("questionnaire", "questionnaire", title="Questionnaire"),
        Phase("thanks", "thanks", title="Thank you", text=(DEFAULT_THANKS,)),
    )


def _consent_phase() -> Phase:
    return Phase("consent", "consent", title="Consent", text=DEFAULT_CONSENT)


def standard_phases(
    *, rest_seconds: int = 300, training_per_class: int = 4, consent: bool = True
) -> tuple[Phase, ...]:
    """The default protocol for new studies, over sources rgb and afd.

    The thesis's phases (§4.3) with a consent page and a familiarisation phase (one labelled,
    looping example per class) added, and every clip not used in training tested. Consent
    is on by default: a study with paid participants needs their informed consent on
    record, which the thesis collected on paper ("informed and consented ... in written and
    signed manner"), outside the software.
    """
    return (
        *((_consent_phase(),) if consent else ()),
        Phase("instructions", "instructions", title="Instructions", text=DEFAULT_INSTRUCTIONS),
        Phase("familiarisation", "familiarisation", source="rgb", per_class=1, title="The actions"),
        *_trial_phases(
            rest_seconds=rest_seconds, training_per_class=training_per_class, test_per_class=None
        ),
    )


def thesis_phases(
    *,
    n_classes: int = 5,
    rest_seconds: int = 300,
    training_per_class: int = 4,
    test_videos: int = THESIS_TEST_VIDEOS,
    consent: bool = False,
) -> tuple[Phase, ...]:
    """The protocol of the thesis's study (§4.3), exactly, over sources rgb and afd.

    (i) a slide show explaining the task; (ii) training on RGB, ``training_per_class`` (4)
    videos per class with the correct answer shown, in random order; (iii) test on
    ``test_videos`` (90) RGB videos, each repeating until answered; (iv) a rest of
    ``rest_seconds`` (300 s, five minutes); (v) training on AFD as in (ii); (vi) test on
    ``test_videos`` AFD videos as in (iii); (vii) the questionnaire (Fig. A.4). A thank-you
    page closes the session (the app needs a last page; it asks nothing).

    The text does not say how the 90 test videos spread over the classes; we take the same
    number from each class (18 for the five classes of UCF5/AFD5), so ``test_videos`` must
    be a multiple of ``n_classes``. ``consent=True`` puts a consent page first (a deviation
    from the exact protocol: the thesis took consent on paper).

    Raises
    ------
    MotionlabError
        ``test_videos`` is not a positive multiple of ``n_classes``.
    """
    if n_classes < 1 or test_videos < n_classes or test_videos % n_classes:
        raise MotionlabError(
            f"the thesis preset tests {test_videos} videos per modality, the same number per "
            f"class, which {n_classes} classes cannot share evenly; set [study] test_videos "
            "to a multiple of the number of classes, or use preset = 'standard'"
        )
    return (
        *((_consent_phase(),) if consent else ()),
        Phase("instructions", "instructions", title="Instructions", text=THESIS_INSTRUCTIONS),
        *_trial_phases(
            rest_seconds=rest_seconds,
            training_per_class=training_per_class,
            test_per_class=test_videos // n_classes,
        ),
    )


# --------------------------------------------------------------------------------------
# loading and validation


def _err(where: str, msg: str) -> MotionlabError:
    return MotionlabError(f"{where}: {msg}")


def _take(table: dict[str, Any], key: str, types: type | tuple[type, ...], where: str) -> Any:
    value = table.pop(key)
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise _err(where, f"{key} must be {types}, got {value!r}")
    if not isinstance(value, types):
        raise _err(where, f"{key} must be of type {types}, got {value!r}")
    return value


def _texts(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _err(where, f"{key} must be a string or a list of strings")


def _check_pattern(pattern: str, where: str) -> None:
    if "{class}" not in pattern:
        raise _err(where, f"pattern {pattern!r} must contain {{class}}")
    parts = Path(pattern).parts
    if Path(pattern).is_absolute() or ".." in parts or pattern.startswith(("/", "\\")):
        raise _err(where, f"pattern {pattern!r} must be relative to root, without '..'")


def _parse_source(name: str, table: Any, base: Path, where: str) -> StimulusSource:
    if not _SOURCE.match(name):
        raise _err(where, f"source name {name!r}: use lowercase letters, digits and _")
    if not isinstance(table, dict):
        raise _err(where, "must be a table with root and pattern")
    table = dict(table)
    if "root" not in table:
        raise _err(where, "needs root = 'folder'")
    root = Path(os.path.expanduser(_take(table, "root", str, where)))
    if not root.is_absolute():
        root = base / root
    pattern = _take(table, "pattern", str, where) if "pattern" in table else "{class}/*"
    _check_pattern(pattern, where)
    max_frames = _take(table, "max_frames", int, where) if "max_frames" in table else 300
    if not 1 <= max_frames <= 2000:
        raise _err(where, f"max_frames must be in 1..2000, got {max_frames}")
    size = None
    if "size" in table:
        size = _take(table, "size", list, where)
        if len(size) != 2 or not all(isinstance(v, int) and 8 <= v <= 4096 for v in size):
            raise _err(where, f"size must be [width, height] in 8..4096, got {size!r}")
        size = (size[0], size[1])
    if table:
        raise _err(where, f"unknown keys {sorted(table)}")
    return StimulusSource(name, root.resolve(), pattern, max_frames, size)


_TITLES = {
    "consent": "Consent",
    "instructions": "Instructions",
    "familiarisation": "The actions",
    "training": "Training",
    "test": "Test",
    "rest": "Break",
    "questionnaire": "Questionnaire",
    "thanks": "Thank you",
}


def _title(kind: str, source: str | None) -> str:
    """The page heading of a phase without ``title``: 'Training (afd)', 'Break', ..."""
    title = _TITLES[kind]
    return f"{title} ({source})" if source and kind in TRIAL_KINDS else title


def _parse_phase(table: Any, where: str) -> Phase:
    if not isinstance(table, dict):
        raise _err(where, "each [[phases]] entry must be a table")
    table = dict(table)
    if "kind" not in table:
        raise _err(where, f"needs kind = one of {', '.join(PHASE_KINDS)}")
    kind = _take(table, "kind", str, where)
    if kind not in PHASE_KINDS:
        raise _err(where, f"kind {kind!r} is not one of {', '.join(PHASE_KINDS)}")
    source = _take(table, "source", str, where) if "source" in table else None
    name = _take(table, "name", str, where) if "name" in table else None
    if name is None:
        name = f"{kind}-{source}" if source and kind in TRIAL_KINDS else kind
    if not _NAME.match(name):
        raise _err(where, f"name {name!r}: letters, digits, _ . - and spaces, at most 64")
    per_class = None
    if "per_class" in table:
        value = table.pop("per_class")
        if value != "all":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
                raise _err(where, f"per_class must be 1..1000 or 'all', got {value!r}")
            per_class = value
    elif kind == "familiarisation":
        per_class = 1
    feedback = _take(table, "feedback", bool, where) if "feedback" in table else kind == "training"
    disjoint = _take(table, "disjoint", bool, where) if "disjoint" in table else True
    loop = _take(table, "loop", bool, where) if "loop" in table else True
    default_seconds = 300 if kind == "rest" else 0
    seconds = _take(table, "seconds", int, where) if "seconds" in table else default_seconds
    if not 0 <= seconds <= 24 * 3600:
        raise _err(where, f"seconds must be in 0..86400, got {seconds}")
    if seconds and kind != "rest":
        raise _err(where, "only a rest phase takes seconds")
    title = _take(table, "title", str, where) if "title" in table else _title(kind, source)
    text: tuple[str, ...] = ()
    if "text" in table:
        text = _texts(table.pop("text"), where, "text")
    elif kind == "consent":
        text = DEFAULT_CONSENT
    elif kind == "instructions":
        text = DEFAULT_INSTRUCTIONS
    elif kind == "thanks":
        text = (DEFAULT_THANKS,)
    if kind in STIMULUS_KINDS and source is None:
        raise _err(where, f"a {kind} phase needs source = 'name of a [stimuli.NAME] table'")
    if kind not in STIMULUS_KINDS and (source is not None or per_class is not None):
        raise _err(where, f"a {kind} phase takes no source or per_class")
    if kind not in STIMULUS_KINDS and not loop:
        raise _err(where, f"a {kind} phase shows no clips: loop applies to clip phases only")
    if table:
        raise _err(where, f"unknown keys {sorted(table)}")
    return Phase(name, kind, source, per_class, feedback, disjoint, seconds, title, text, loop)


def _parse_attention(
    table: Any, sources: dict[str, StimulusSource], where: str
) -> AttentionChecks | None:
    if table is None:
        return None
    where = f"{where} [attention]"
    if not isinstance(table, dict):
        raise _err(where, "must be a table with source = 'name of a [stimuli.NAME] table'")
    table = dict(table)
    if "source" not in table:
        raise _err(where, "needs source = 'name of a [stimuli.NAME] table'")
    source = _take(table, "source", str, where)
    if source not in sources:
        raise _err(where, f"source {source!r} is not one of {sorted(sources)}")
    per = _take(table, "per_test_phase", int, where) if "per_test_phase" in table else 1
    if not 1 <= per <= 100:
        raise _err(where, f"per_test_phase must be 1..100, got {per}")
    low = table.pop("min_accuracy", 1.0)
    if isinstance(low, bool) or not isinstance(low, int | float) or not 0 <= low <= 1:
        raise _err(where, f"min_accuracy must be a number in 0..1, got {low!r}")
    if table:
        raise _err(where, f"unknown keys {sorted(table)}")
    return AttentionChecks(source, per, float(low))


def _parse_requirements(table: Any, where: str) -> Requirements:
    if table is None:
        return Requirements()
    where = f"{where} [requirements]"
    if not isinstance(table, dict):
        raise _err(
            where, "must be a table (min_width, min_height, min_refresh_hz, webgl, fullscreen)"
        )
    table = dict(table)
    out: dict[str, Any] = {}
    for key in ("min_width", "min_height"):
        if key in table:
            value = _take(table, key, int, where)
            if not 0 <= value <= 10_000:
                raise _err(where, f"{key} must be 0..10000 CSS pixels, got {value}")
            out[key] = value
    if "min_refresh_hz" in table:
        value = table.pop("min_refresh_hz")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 500:
            raise _err(where, f"min_refresh_hz must be a number in 0..500, got {value!r}")
        out["min_refresh_hz"] = float(value)
    for key in ("webgl", "fullscreen"):
        if key in table:
            out[key] = _take(table, key, bool, where)
    if table:
        raise _err(where, f"unknown keys {sorted(table)}")
    return Requirements(**out)


def _check_protocol(phases: tuple[Phase, ...], sources: dict[str, StimulusSource], where: str):
    if not phases:
        raise _err(where, "the study has no phases")
    names = [p.name for p in phases]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _err(where, f"phase names must be unique; repeated: {dup} (give name = ...)")
    for p in phases:
        if p.source is not None and p.source not in sources:
            raise _err(
                where,
                f"phase {p.name!r} uses source {p.source!r}, but only "
                f"{sorted(sources) or 'no sources'} are defined ([stimuli.NAME] tables)",
            )
    if phases[-1].kind != "thanks":
        raise _err(where, "the last phase must be of kind 'thanks'")
    if sum(p.kind == "thanks" for p in phases) != 1:
        raise _err(where, "exactly one 'thanks' phase, the last")
    if sum(p.kind == "questionnaire" for p in phases) > 1:
        raise _err(where, "at most one questionnaire phase")


#: Keys that are never answer keys: the browser and the page use them.
_RESERVED_KEYS = {" ", "Tab", "Enter", "Escape"}


def _parse_keys(value: Any, classes: list[str], where: str) -> tuple[str, ...]:
    """``[study] keys``: one key per class, in class order; ``[]`` turns keys off.

    Default: the digits 1..n for up to nine classes (none for more). Keys are
    ``KeyboardEvent.key`` values: single characters compared case-insensitively.
    """
    if value is None:
        return tuple(str(i + 1) for i in range(len(classes))) if len(classes) <= 9 else ()
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise _err(where, "keys must be a list of single characters, one per class")
    if value and len(value) != len(classes):
        raise _err(where, f"keys has {len(value)} entries for {len(classes)} classes")
    keys = tuple(k.lower() for k in value)
    bad = [k for k in keys if len(k) != 1 or not k.isprintable() or k in _RESERVED_KEYS]
    if bad:
        raise _err(where, f"keys must be single printable characters other than space, got {bad}")
    if len(set(keys)) != len(keys):
        raise _err(where, f"keys must differ (case-insensitively), got {list(value)}")
    return keys


def _parse_classes(study: dict[str, Any], where: str) -> list[str]:
    """``[study] classes``: 1..100 unique names usable as folder names."""
    classes = study.pop("classes", None)
    if not isinstance(classes, list) or not classes:
        raise _err(where, "[study] needs classes = ['ClassA', 'ClassB', ...]")
    for c in classes:
        if not isinstance(c, str) or not _NAME.match(c) or c in (".", ".."):
            raise _err(
                where,
                f"class name {c!r}: letters, digits, _ . - and spaces, at most 64 characters",
            )
    if len(set(classes)) != len(classes):
        raise _err(where, "class names must be unique")
    if len(classes) > 100:
        raise _err(where, "at most 100 classes")
    return classes


def _parse_fps(study: dict[str, Any], where: str) -> tuple[float, float, float]:
    """``[study] fps = {default, min, max}`` (frames per second, 0 < min <= default <= max
    <= 120)."""
    fps = study.pop("fps", {})
    if not isinstance(fps, dict):
        raise _err(where, "fps must be a table {default = 25, min = 10, max = 40}")
    try:
        fps_default = float(fps.pop("default", 25))
        fps_min = float(fps.pop("min", 10))
        fps_max = float(fps.pop("max", 40))
    except (TypeError, ValueError):
        raise _err(where, "fps values must be numbers") from None
    if fps:
        raise _err(where, f"unknown fps keys {sorted(fps)}")
    if not (0 < fps_min <= fps_default <= fps_max <= 120):
        raise _err(
            where,
            f"need 0 < fps min <= default <= max <= 120, got {fps_min}, {fps_default}, {fps_max}",
        )
    return fps_default, fps_min, fps_max


def _parse_protocol(study: dict[str, Any], where: str) -> dict[str, Any]:
    """The preset protocol's settings (``preset``, ``rest_seconds``,
    ``training_per_class``, ``consent``, ``test_videos``), checked; ``given`` lists those
    set explicitly, ``preset_given`` whether ``preset`` was."""
    preset_given = "preset" in study
    preset = study.pop("preset", "standard")
    if preset not in PRESETS:
        raise _err(where, f"preset must be one of {', '.join(map(repr, PRESETS))}, got {preset!r}")
    protocol_keys = {"rest_seconds", "training_per_class", "consent", "test_videos"}
    given = sorted(protocol_keys & set(study))
    rest_seconds = study.pop("rest_seconds", 300)
    training_per_class = study.pop("training_per_class", 4)
    consent = study.pop("consent", preset == "standard")
    test_videos = study.pop("test_videos", THESIS_TEST_VIDEOS)
    for key, value in (("rest_seconds", rest_seconds), ("training_per_class", training_per_class)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _err(where, f"{key} must be an integer, got {value!r}")
    if not 0 <= rest_seconds <= 86400:
        raise _err(where, f"rest_seconds must be 0..86400, got {rest_seconds!r}")
    if not 1 <= training_per_class <= 1000:
        raise _err(where, f"training_per_class must be 1..1000, got {training_per_class!r}")
    if not isinstance(consent, bool):
        raise _err(where, f"consent must be true or false, got {consent!r}")
    if isinstance(test_videos, bool) or not isinstance(test_videos, int) or test_videos < 1:
        raise _err(where, f"test_videos must be a positive integer, got {test_videos!r}")
    if preset != "thesis" and "test_videos" in given:
        raise _err(where, "test_videos applies to preset = 'thesis' only")
    return {
        "preset": preset, "preset_given": preset_given, "given": given,
        "rest_seconds": rest_seconds, "training_per_class": training_per_class,
        "consent": consent, "test_videos": test_videos,
    }  # fmt: skip


def _parse_limits(study: dict[str, Any], where: str) -> tuple[dict[str, int], bool, dict[str, str]]:
    """``expire_minutes`` and ``max_participants``, ``counterbalance``, and the recruitment
    platform's ``completion_code`` / ``completion_url``."""
    limits = {}
    for key, top in (("expire_minutes", 7 * 24 * 60), ("max_participants", 1_000_000)):
        value = study.pop(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise _err(where, f"{key} must be an integer in 0..{top} (0: no limit), got {value!r}")
        limits[key] = value
    counterbalance = study.pop("counterbalance", False)
    if not isinstance(counterbalance, bool):
        raise _err(where, f"counterbalance must be true or false, got {counterbalance!r}")
    extra = {}
    if "completion_code" in study:
        extra["completion_code"] = str(study.pop("completion_code"))
    if "completion_url" in study:
        url = study.pop("completion_url")
        if not isinstance(url, str) or not re.match(r"^https?://[^\s<>\"']+$", url):
            raise _err(where, f"completion_url must be an http(s) URL, got {url!r}")
        if "{code}" in url and "completion_code" not in extra:
            raise _err(where, "completion_url uses {code}: set completion_code too")
        extra["completion_url"] = url
    return limits, counterbalance, extra


def _parse_phases(
    raw_phases: Any, protocol: dict[str, Any], n_classes: int, where: str
) -> tuple[Any, ...]:
    """``[[phases]]`` as written, or the preset's phases when there are none."""
    preset, given, preset_given = protocol["preset"], protocol["given"], protocol["preset_given"]
    rest_seconds, consent = protocol["rest_seconds"], protocol["consent"]
    training_per_class, test_videos = protocol["training_per_class"], protocol["test_videos"]
    if raw_phases is None and preset == "thesis":
        try:
            phases = thesis_phases(
                n_classes=n_classes,
                rest_seconds=rest_seconds,
                training_per_class=training_per_class,
                test_videos=test_videos,
                consent=consent,
            )
        except MotionlabError as exc:
            raise _err(where, str(exc)) from None
    elif raw_phases is None:
        phases = standard_phases(
            rest_seconds=rest_seconds, training_per_class=training_per_class, consent=consent
        )
    else:
        if given or preset_given:
            raise _err(
                where,
                f"{', '.join(given + ['preset'] * preset_given)} configure a preset protocol "
                "and would be ignored beside [[phases]]; set seconds and per_class on the "
                "phases themselves instead",
            )
        if not isinstance(raw_phases, list):
            raise _err(where, "phases must be an array of tables ([[phases]])")
        phases = tuple(
            _parse_phase(t, f"{where} [[phases]] #{i + 1}") for i, t in enumerate(raw_phases)
        )
    return phases


def parse_config(data: dict[str, Any], *, base_dir: Path, path: Path | None = None) -> StudyConfig:
    """Validate a parsed TOML document and build the :class:`StudyConfig`.

    Relative stimulus roots are resolved against ``base_dir``.
    """
    where = str(path) if path else "study config"
    data = dict(data)
    study = dict(data.pop("study", {}))
    if not isinstance(study, dict):
        raise _err(where, "[study] must be a table")
    title = str(study.pop("title", "Action recognition study"))
    classes = _parse_classes(study, where)
    fps_default, fps_min, fps_max = _parse_fps(study, where)
    protocol = _parse_protocol(study, where)
    keys = _parse_keys(study.pop("keys", None), classes, where)
    limits, counterbalance, extra = _parse_limits(study, where)
    if study:
        raise _err(where, f"unknown [study] keys {sorted(study)}")

    stimuli = data.pop("stimuli", {})
    if not isinstance(stimuli, dict) or not stimuli:
        raise _err(where, "needs at least one [stimuli.NAME] table with root and pattern")
    sources = {
        name: _parse_source(name, table, base_dir, f"{where} [stimuli.{name}]")
        for name, table in stimuli.items()
    }
    attention = _parse_attention(data.pop("attention", None), sources, where)
    requirements = _parse_requirements(data.pop("requirements", None), where)
    phases = _parse_phases(data.pop("phases", None), protocol, len(classes), where)
    if data:
        raise _err(where, f"unknown top-level keys {sorted(data)}")
    _check_protocol(phases, sources, where)
    return StudyConfig(
        title=title,
        classes=tuple(classes),
        sources=sources,
        phases=phases,
        fps_default=fps_default,
        fps_min=fps_min,
        fps_max=fps_max,
        path=path,
        extra=extra,
        keys=keys,
        counterbalance=counterbalance,
        attention=attention,
        requirements=requirements,
        **limits,
    )


def load_config(path: str | os.PathLike[str]) -> StudyConfig:
    """Read and validate a study TOML file.

    Raises
    ------
    MotionlabError
        Missing file, TOML syntax error or an invalid setting (the message names it).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MotionlabError(f"{path}: no such study config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MotionlabError(f"{path}: cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MotionlabError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, base_dir=path.resolve().parent, path=path)


def with_rest(config: StudyConfig, seconds: int) -> StudyConfig:
    """The same study with every rest phase lasting ``seconds`` (demos and tests)."""
    phases = tuple(replace(p, seconds=seconds) if p.kind == "rest" else p for p in config.phases)
    return replace(config, phases=phases)
