"""Dataset layouts on disk: class folders, UCF101-style split files, person-disjoint splits.

One place for what several capabilities read (``afd-dataset``, ``train``/``evaluate``, the
synthetic action writer). Functions take and return paths and plain data; nothing here
decodes a video.

Layouts
-------
Class folders
    ``root/<Class>/<video>`` (UCF101, HMDB51, KTH sorted into action folders, the AFD
    versions of these, the synthetic actions). :func:`list_classes`, :func:`list_videos`.
UCF101-style split files
    ``classInd.txt`` (lines ``index Class``, 1-based), ``trainlist0N.txt`` (lines
    ``Class/video.avi label``) and ``testlist0N.txt`` (lines ``Class/video.avi``), at the
    top of ``root`` or in ``root/ucfTrainTestlist`` (as UCF101 ships them). HMDB51 lists
    converted to this form read the same way. :func:`find_split_file`,
    :func:`read_class_index`, :func:`read_split_file`, :func:`format_class_index`,
    :func:`format_split_file`.
Person-disjoint splits
    Every video of a person in one part (train, val or test), so that a model is tested on
    people it never saw. :data:`KTH_PERSONS` (the split published with KTH),
    :func:`kth_person` (a person's id from a KTH file name), :func:`read_person_split`
    (a person -> part table from a CSV), :func:`split_by_person`.

Example: a tiny UCF101-style tree.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> for rel in ("Jump/v_Jump_g01_c01.avi", "Jump/v_Jump_g02_c01.avi", "Run/v_Run_g01_c01.avi"):
...     (root / rel).parent.mkdir(exist_ok=True)
...     (root / rel).touch()
>>> _ = (root / "classInd.txt").write_text(format_class_index(["Jump", "Run"]))
>>> _ = (root / "trainlist01.txt").write_text(
...     format_split_file([("Jump/v_Jump_g01_c01.avi", 1), ("Run/v_Run_g01_c01.avi", 2)]))
>>> list_classes(root)
['Jump', 'Run']
>>> [p.name for p in list_videos(root / "Jump")]
['v_Jump_g01_c01.avi', 'v_Jump_g02_c01.avi']
>>> read_class_index(root)
['Jump', 'Run']
>>> read_split_file(find_split_file(root, split_file_name("train", 1)))
[('Jump/v_Jump_g01_c01.avi', 1), ('Run/v_Run_g01_c01.avi', 2)]
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from motionlab.errors import MotionlabError

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")
"""File suffixes taken for videos (lower case; compared case-insensitively)."""
SPLIT_FOLDER = "ucfTrainTestlist"
"""The folder UCF101 ships its split files in; never a class folder."""
CLASS_INDEX = "classInd.txt"
SUBSETS = ("train", "test")
"""The parts a UCF101-style split file describes."""
PARTS = ("train", "val", "test")
"""The parts of a person-disjoint split."""

KTH_PERSONS: dict[str, tuple[int, ...]] = {
    "train": (11, 12, 13, 14, 15, 16, 17, 18),
    "val": (19, 20, 21, 23, 24, 25, 1, 4),
    "test": (22, 2, 3, 5, 6, 7, 8, 9, 10),
}
"""KTH's person-disjoint split as published with the dataset: the head of its sequence
file ``00sequences.txt`` (https://www.csc.kth.se/cvap/actions/00sequences.txt; the split
of Schuldt, Laptev and Caputo, "Recognizing human actions: a local SVM approach", ICPR
2004): 8 training, 8 validation and 9 test persons of the 25, every video of a person in
one part. (The identity experiments of thesis §5.4 need the opposite, every person in
every part, split by recording: that is not a person split and not what this is for.)"""


# --------------------------------------------------------------------------------------
# class folders


def list_classes(root: str | os.PathLike[str]) -> list[str]:
    """Names of the class folders of ``root``, sorted.

    Every sub-folder except :data:`SPLIT_FOLDER` is a class (hidden folders included, as
    they always were; :func:`read_class_index` prefers ``classInd.txt`` where present).

    Raises
    ------
    MotionlabError
        ``root`` is not a folder.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("b", "a", SPLIT_FOLDER):
    ...     (root / name).mkdir()
    >>> (root / "notes.txt").touch()
    >>> list_classes(root)
    ['a', 'b']
    """
    root = Path(root)
    if not root.is_dir():
        raise MotionlabError(f"{root}: no such dataset folder")
    return [
        p.name for p in sorted(p for p in root.iterdir() if p.is_dir() and p.name != SPLIT_FOLDER)
    ]


def is_video(path: Path, *, frame_folders: bool = False) -> bool:
    """Whether ``path`` is a video: a file with a suffix of :data:`VIDEO_SUFFIXES` (any
    case) or, with ``frame_folders``, a folder holding frame images
    (:data:`motionlab.video.IMAGE_SUFFIXES`)."""
    if path.is_dir():
        if not frame_folders:
            return False
        from motionlab.video import IMAGE_SUFFIXES  # imports PyAV and OpenCV: only here

        return any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())
    return path.suffix.lower() in VIDEO_SUFFIXES


def list_videos(
    class_dir: str | os.PathLike[str],
    *,
    frame_folders: bool = False,
    hidden: bool = True,
    flow_files: bool = False,
) -> list[Path]:
    """The videos of one class folder, sorted by name.

    Parameters
    ----------
    class_dir : path
        ``root/<Class>``; a missing folder has no videos.
    frame_folders : bool
        Also take folders of frame images (``afd-dataset`` reads them; training does not).
    hidden : bool
        Also take names starting with ``.``. ``afd-dataset`` leaves them out (its own
        temporaries are hidden); the training lists always took them (kept so that the
        lists stay what they were).
    flow_files : bool
        Also take the flow videos ``<stem>.flow.mkv`` that ``afd-dataset --save-flow``
        writes next to each AFD video (training leaves them out: they are not samples).

    Returns
    -------
    list of Path
        ``class_dir / name``, in the order of ``sorted`` on the paths.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for name in ("b.avi", "a.MP4", "a.flow.mkv", ".c.avi", "notes.txt"):
    ...     (d / name).touch()
    >>> [p.name for p in list_videos(d)]
    ['.c.avi', 'a.MP4', 'b.avi']
    >>> [p.name for p in list_videos(d, hidden=False, flow_files=True)]
    ['a.MP4', 'a.flow.mkv', 'b.avi']
    """
    class_dir = Path(class_dir)
    if not class_dir.is_dir():
        return []
    videos = []
    for path in sorted(class_dir.iterdir()):
        if not hidden and path.name.startswith("."):
            continue
        if not flow_files and ".flow." in path.name:
            continue
        if is_video(path, frame_folders=frame_folders):
            videos.append(path)
    return videos


# --------------------------------------------------------------------------------------
# split files


def split_file_name(subset: str, split: int) -> str:
    """``trainlist0N.txt`` or ``testlist0N.txt``: the UCF101 name of a split's list.

    >>> split_file_name("test", 2)
    'testlist02.txt'
    """
    if subset not in SUBSETS:
        raise MotionlabError(f"subset must be 'train' or 'test', got {subset!r}")
    return f"{subset}list0{split}.txt"


def find_split_file(root: str | os.PathLike[str], name: str) -> Path:
    """The split file ``name`` of a dataset: ``root/name`` or ``root/ucfTrainTestlist/name``.

    Raises
    ------
    MotionlabError
        In neither place.
    """
    root = Path(root)
    for folder in (root, root / SPLIT_FOLDER):
        if (folder / name).is_file():
            return folder / name
    raise MotionlabError(
        f"{root}: no split file {name} (looked in {root} and {root / SPLIT_FOLDER}); "
        "a UCF101-style tree needs classInd.txt, trainlistNN.txt and testlistNN.txt"
    )


def read_class_index(root: str | os.PathLike[str]) -> list[str]:
    """Class names in label order: from ``classInd.txt`` (``index Class``, 1-based) if
    present, else the sorted class folders of ``root`` (:func:`list_classes`).

    Raises
    ------
    MotionlabError
        No ``classInd.txt`` and no class folder, or a line of ``classInd.txt`` that is not
        ``index Class``.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "classInd.txt").write_text("2 Run\\n1 Jump\\n")
    >>> read_class_index(root)
    ['Jump', 'Run']
    """
    root = Path(root)
    try:
        path = find_split_file(root, CLASS_INDEX)
    except MotionlabError:
        classes = list_classes(root)
        if not classes:
            raise MotionlabError(f"{root}: no class folders") from None
        return classes
    pairs = [line.split() for line in path.read_text().splitlines() if line.strip()]
    try:
        ordered = sorted((int(i), c) for i, c in pairs)
    except ValueError:
        raise MotionlabError(f"{path}: lines must be 'index Class'") from None
    return [c for _, c in ordered]


def parse_split_line(line: str) -> tuple[str, int | None] | None:
    """One line of a train/test list: ``(Class/video.avi, label)``; None for a blank line.

    Backslashes become ``/``; the label (1-based, train lists only) is None when absent
    or not a number.

    >>> parse_split_line("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1")
    ('ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi', 1)
    >>> parse_split_line("Swing\\\\v_Swing_g01_c02.avi")
    ('Swing/v_Swing_g01_c02.avi', None)
    """
    words = line.split()
    if not words:
        return None
    label = int(words[1]) if len(words) > 1 and words[1].lstrip("-").isdigit() else None
    return words[0].replace("\\", "/"), label


def split_line_class(line: str) -> str | None:
    """The class a line of any split file is about: ``Class/video.avi [label]`` (a train
    or test list) or ``index Class`` (``classInd.txt``); None for a blank line.

    >>> split_line_class("Swing/v_Swing_g01_c02.avi 5"), split_line_class("5 Swing")
    ('Swing', 'Swing')
    >>> split_line_class("Swing\\\\v_Swing_g01_c02.avi")
    'Swing'
    """
    words = line.split()
    if not words:
        return None
    first = words[0].replace("\\", "/")
    return first.split("/")[0] if "/" in first else words[-1]


def read_split_file(path: str | os.PathLike[str]) -> list[tuple[str, int | None]]:
    """The entries of a train or test list in file order: ``(Class/video, label)`` per
    non-blank line (:func:`parse_split_line`)."""
    entries = []
    for line in Path(path).read_text().splitlines():
        entry = parse_split_line(line)
        if entry is not None:
            entries.append(entry)
    return entries


def format_class_index(classes: Sequence[str]) -> str:
    """The text of ``classInd.txt`` for ``classes`` in label order (1-based).

    >>> format_class_index(["Jump", "Run"])
    '1 Jump\\n2 Run\\n'
    """
    return "".join(f"{k} {c}\n" for k, c in enumerate(classes, start=1))


def format_split_file(entries: Sequence[tuple[str, int | None]]) -> str:
    """The text of a train/test list: one ``Class/video [label]`` line per entry (UCF101's
    train lists carry the 1-based label, its test lists do not: give None).

    >>> format_split_file([("Run/a.avi", 2), ("Run/b.avi", None)])
    'Run/a.avi 2\\nRun/b.avi\\n'
    """
    return "".join(
        f"{rel} {label}\n" if label is not None else f"{rel}\n" for rel, label in entries
    )


# --------------------------------------------------------------------------------------
# persons


_KTH_NAME = re.compile(r"^person(\d+)_([a-z]+)_d(\d+)", re.IGNORECASE)
_PERSON_NUMBER = re.compile(r"^(?:person)?0*(\d+)$", re.IGNORECASE)


def person_id(text: str | int) -> str:
    """A person id in one spelling: a number, alone or after ``person``, loses its leading
    zeros (``person04``, ``04`` and ``4`` are the same person, ``"4"``); other ids are
    kept as written (stripped).

    >>> person_id("person04"), person_id("04"), person_id(4), person_id(" anna ")
    ('4', '4', '4', 'anna')
    """
    text = str(text).strip()
    number = _PERSON_NUMBER.match(text)
    return str(int(number[1])) if number else text


def kth_person(name: str | os.PathLike[str]) -> str | None:
    """The person of a KTH video from its file name ``personXX_action_dY_uncomp.avi``
    (:func:`person_id` spelling); None if the name is not of that form.

    >>> kth_person("person04_boxing_d2_uncomp.avi"), kth_person("v_Swing_g01_c01.avi")
    ('4', None)
    """
    found = _KTH_NAME.match(Path(name).name)
    return person_id(found[1]) if found else None


def kth_person_split() -> dict[str, str]:
    """:data:`KTH_PERSONS` as a person -> part table (:func:`person_id` spelling).

    >>> table = kth_person_split()
    >>> len(table), table["1"], table["11"], table["22"]
    (25, 'val', 'train', 'test')
    """
    return {person_id(p): part for part, persons in KTH_PERSONS.items() for p in persons}


_PART_NAMES = {"train": "train", "val": "val", "validation": "val", "test": "test"}


def read_person_split(
    path: str | os.PathLike[str], *, person_column: str = "person", part_column: str = "split"
) -> dict[str, str]:
    """A person-disjoint split from a CSV: person -> part (``train``, ``val``, ``test``).

    The CSV may hold one row per person or one row per video (e.g. a dataset's metadata
    table with a part column); either way every person must be in one part only.

    Parameters
    ----------
    path : path
        The CSV (with a header line).
    person_column : str
        Column of the person ids (compared in :func:`person_id` spelling).
    part_column : str
        Column of the parts: ``train``, ``val`` (or ``validation``) or ``test``.

    Returns
    -------
    dict of str to str
        Person id -> part, in the CSV's order.

    Raises
    ------
    MotionlabError
        No such file, a missing column, an unknown part, a person in two parts, or no
        person in ``train`` or ``test``.

    Examples
    --------
    >>> import tempfile
    >>> table = Path(tempfile.mkdtemp()) / "persons.csv"
    >>> _ = table.write_text("person,split\\n01,train\\n2,val\\nperson03,test\\n")
    >>> read_person_split(table)
    {'1': 'train', '2': 'val', '3': 'test'}
    """
    path = Path(path)
    if not path.is_file():
        raise MotionlabError(f"{path}: no such split CSV")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        missing = [c for c in (person_column, part_column) if c not in columns]
        if missing:
            got = ", ".join(columns) if columns else "none"
            raise MotionlabError(
                f"{path}: no column {', '.join(missing)} (columns: {got}); name them with "
                "--person-column / --part-column"
            )
        table: dict[str, str] = {}
        for line, row in enumerate(reader, start=2):
            person = person_id(row[person_column] or "")
            raw = (row[part_column] or "").strip()
            part = _PART_NAMES.get(raw.lower())
            if not person:
                raise MotionlabError(f"{path}:{line}: empty {person_column}")
            if part is None:
                raise MotionlabError(
                    f"{path}:{line}: part {raw!r} is not train, val or test ({part_column})"
                )
            if table.setdefault(person, part) != part:
                raise MotionlabError(
                    f"{path}:{line}: person {person} is in two parts ({table[person]} and "
                    f"{part}); a person-disjoint split keeps every person in one part"
                )
    for part in ("train", "test"):
        if part not in table.values():
            raise MotionlabError(f"{path}: no person in the {part} part")
    return table


def split_by_person(
    persons: Sequence[str | None], table: Mapping[str, str]
) -> dict[str, list[int]]:
    """Indices of the videos of each part of a person-disjoint split.

    Parameters
    ----------
    persons : sequence of str or None
        The person of each video (:func:`person_id` spelling); None where unknown.
    table : mapping of str to str
        Person -> part (:func:`read_person_split`, :func:`kth_person_split`).

    Returns
    -------
    dict
        ``{"train": [...], "val": [...], "test": [...]}``: indices into ``persons`` in
        input order. Videos of persons the table does not name are in no part.

    Raises
    ------
    MotionlabError
        A video whose person is unknown, or a part the table names persons for that has no
        video (e.g. the KTH split on a tree without the test persons).

    Examples
    --------
    >>> split_by_person(["11", "1", "22", "11"], kth_person_split())
    {'train': [0, 3], 'val': [1], 'test': [2]}
    """
    unknown = [i for i, p in enumerate(persons) if p is None]
    if unknown:
        raise MotionlabError(
            f"{len(unknown)} video(s) have no person id (the first is number {unknown[0]}); "
            "a person split needs a person for every video (KTH file names "
            "personXX_action_dY_uncomp.avi, or a --csv table with a person column)"
        )
    parts: dict[str, list[int]] = {part: [] for part in PARTS}
    for i, person in enumerate(persons):
        part = table.get(person)  # type: ignore[arg-type]
        if part is not None:
            parts[part].append(i)
    for part in PARTS:
        named = sorted((p for p, q in table.items() if q == part), key=_person_order)
        if named and not parts[part]:
            raise MotionlabError(
                f"no videos for the {part} part (persons {', '.join(named)}): the dataset "
                "has none of them"
            )
    return parts


def _person_order(person: str) -> tuple[int, int | str]:
    return (0, int(person)) if person.isdigit() else (1, person)
