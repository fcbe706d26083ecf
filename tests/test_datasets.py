"""Dataset layouts (motionlab.datasets): class folders, split files, person-disjoint splits.

The ``_old_*`` functions are verbatim copies of the parsers that lived in
``afd/dataset.py``, ``recognition/data.py`` and ``recognition/synth_actions.py`` before
they were folded into :mod:`motionlab.datasets` (commit "datasets: one module for
class-folder layouts and split files"). They stay here as the reference of the order and
content of every list: the new code must give the same lists, in the same order.
"""

from __future__ import annotations

import csv
import doctest
from pathlib import Path

import pytest

import motionlab.datasets as ds
from motionlab.afd.dataset import copy_split_files, find_jobs
from motionlab.errors import MotionlabError
from motionlab.recognition import data
from motionlab.video import IMAGE_SUFFIXES

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")
SPLIT_FOLDER = "ucfTrainTestlist"


# -- the old code, verbatim (modulo names) -------------------------------------------------


def _old_is_video(path: Path) -> bool:  # afd_dataset._is_video
    if path.is_dir():
        return any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())
    return path.suffix.lower() in VIDEO_SUFFIXES


def _old_find_jobs_sources(src: Path, classes=None) -> list[Path]:  # afd_dataset.find_jobs
    class_dirs = sorted(p for p in src.iterdir() if p.is_dir() and p.name != SPLIT_FOLDER)
    if classes is not None:
        class_dirs = [p for p in class_dirs if p.name in set(classes)]
    jobs = []
    for class_dir in class_dirs:
        for video in sorted(class_dir.iterdir()):
            if video.name.startswith(".") or not _old_is_video(video):
                continue
            jobs.append(video)
    return jobs


def _old_split_line_class(line: str) -> str | None:  # afd_dataset._split_line_class
    words = line.strip().split()
    if not words:
        return None
    return words[0].split("/")[0] if "/" in words[0] else words[-1]


def _old_copy_split_files(src: Path, classes) -> dict[str, str]:  # afd_dataset, w/o writing
    out = {}
    candidates = list(src.glob("*.txt")) + list((src / SPLIT_FOLDER).glob("*.txt"))
    for path in sorted(candidates):
        lines = path.read_text().splitlines(keepends=True)
        if classes is not None:
            lines = [line for line in lines if _old_split_line_class(line) in set(classes)]
        out[path.relative_to(src).as_posix()] = "".join(lines)
    return out


def _old_split_file(root: Path, name: str) -> Path:  # recognition.data._split_file
    for folder in (root, root / SPLIT_FOLDER):
        if (folder / name).is_file():
            return folder / name
    raise MotionlabError(f"{root}: no split file {name}")


def _old_read_class_index(root: Path) -> list[str]:  # recognition.data.read_class_index
    try:
        path = _old_split_file(root, "classInd.txt")
    except MotionlabError:
        classes = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != SPLIT_FOLDER)
        if not classes:
            raise MotionlabError(f"{root}: no class folders") from None
        return classes
    pairs = [line.split() for line in path.read_text().splitlines() if line.strip()]
    ordered = sorted((int(i), c) for i, c in pairs)
    return [c for _, c in ordered]


def _old_resolve_video(path: Path) -> Path:  # recognition.data._resolve_video
    if path.exists():
        return path
    for suffix in VIDEO_SUFFIXES:
        if path.with_suffix(suffix).exists():
            return path.with_suffix(suffix)
    raise MotionlabError(f"{path}: listed in a split file but missing")


def _old_ucf101(root: Path, split: int, subset: str):  # recognition.data.ucf101_samples
    classes = _old_read_class_index(root)
    present = [c for c in classes if (root / c).is_dir()]
    index = {c: k for k, c in enumerate(present)}
    listing = _old_split_file(root, f"{subset}list0{split}.txt")
    samples = []
    for line in listing.read_text().splitlines():
        words = line.split()
        if not words:
            continue
        rel = words[0].replace("\\", "/")
        cls = rel.split("/")[0]
        if cls not in index:
            continue
        samples.append((_old_resolve_video(root / rel), index[cls]))
    return samples, present


def _old_folder_samples(root: Path):  # recognition.data.folder_samples
    classes = _old_read_class_index(root)
    samples = []
    for k, c in enumerate(classes):
        for p in sorted((root / c).iterdir()) if (root / c).is_dir() else []:
            if p.suffix.lower() in VIDEO_SUFFIXES and ".flow." not in p.name:
                samples.append((p, k))
    return samples, classes


def _old_synth_texts(actions, rows):  # synth_actions.make_synth_actions, the three lists
    train, test = [], []
    for rel, label, is_test in rows:
        (test if is_test else train).append(f"{rel} {label}" if not is_test else rel)
    return (
        "".join(f"{k} {a}\n" for k, a in enumerate(actions, start=1)),
        "".join(f"{line}\n" for line in train),
        "".join(f"{line}\n" for line in test),
    )


# -- a tree with everything that could change an order -------------------------------------


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Class folders with mixed case, numbers that sort as text, hidden files, flow
    videos, frame folders, non-videos, an empty class and split files in both places."""
    root = tmp_path / "ucf"
    names = {
        "ApplyEyeMakeup": ["v_ApplyEyeMakeup_g10_c01.avi", "v_ApplyEyeMakeup_g9_c01.avi",
                           "v_ApplyEyeMakeup_g08_c02.AVI", ".v_hidden.avi", "notes.txt",
                           "v_ApplyEyeMakeup_g08_c01.flow.mkv", "._v_ApplyEyeMakeup_g08_c01.avi"],
        "apply": ["b.mp4", "a.mov", "C.webm", "c.mkv"],
        "Zebra": ["z.mpg", "y.mpeg", "x.m4v"],
        "Empty": [],
        "ucfTrainTestlist": ["notes.txt"],
        ".hiddenclass": ["h.avi"],
    }  # fmt: skip
    for cls, files in names.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for name in files:
            _touch(root / cls / name)
    for frame in ("f0001.png", "f0002.PNG"):
        _touch(root / "apply" / "frames_clip" / frame)
    (root / "apply" / "not_frames").mkdir()
    _touch(root / "apply" / "not_frames" / "readme.md")
    (root / "classInd.txt").write_text("3 apply\n1 ApplyEyeMakeup\n\n2 Zebra\n4 Missing\n")
    (root / "trainlist01.txt").write_text(
        "Zebra/z.mpg 2\nApplyEyeMakeup/v_ApplyEyeMakeup_g10_c01.avi 1\n\n"
        "apply\\b.mp4 3\nMissing/m.avi 4\napply/a.mkv 3\n"
    )
    (root / SPLIT_FOLDER / "testlist01.txt").write_text(
        "apply/c.mkv\nApplyEyeMakeup/v_ApplyEyeMakeup_g9_c01.avi\nZebra/x.m4v\n"
    )
    return root


def test_class_folders_and_videos_as_before(tree: Path) -> None:
    """The job list of afd-dataset and the folder list of training, entry by entry."""
    jobs = find_jobs(tree, tree.parent / "dst")
    assert [j.source for j in jobs] == _old_find_jobs_sources(tree)
    assert [j.source.name for j in jobs][:4] == [
        "h.avi", "v_ApplyEyeMakeup_g08_c01.flow.mkv", "v_ApplyEyeMakeup_g08_c02.AVI",
        "v_ApplyEyeMakeup_g10_c01.avi",
    ]  # fmt: skip
    picked = find_jobs(tree, tree.parent / "dst", classes=["Zebra", "apply"])
    assert [j.source for j in picked] == _old_find_jobs_sources(tree, ["Zebra", "apply"])
    samples, classes = data.folder_samples(tree)
    old_samples, old_classes = _old_folder_samples(tree)
    assert classes == old_classes == ["ApplyEyeMakeup", "Zebra", "apply", "Missing"]
    assert [(s.path, s.label) for s in samples] == old_samples
    # without classInd.txt: the sorted folders (hidden ones too, as before)
    (tree / "classInd.txt").unlink()
    assert data.read_class_index(tree) == _old_read_class_index(tree)
    assert ds.list_classes(tree) == _old_read_class_index(tree)
    assert ds.list_classes(tree)[0] == ".hiddenclass"
    samples, classes = data.folder_samples(tree)
    assert ([(s.path, s.label) for s in samples], classes) == _old_folder_samples(tree)


def test_split_files_as_before(tree: Path) -> None:
    for subset in ("train", "test"):
        samples, present = data.ucf101_samples(tree, subset=subset)
        old, old_present = _old_ucf101(tree, 1, subset)
        assert [(s.path, s.label) for s in samples] == old
        assert present == old_present
    train, _ = data.ucf101_samples(tree, subset="train")
    # apply/a.mkv is listed, apply/a.mov exists (AFD trees turn .mov into .mkv)
    names = ["z.mpg", "v_ApplyEyeMakeup_g10_c01.avi", "b.mp4", "a.mov"]
    assert [s.path.name for s in train] == names


def test_copied_split_files_as_before(tree: Path) -> None:
    """afd-dataset's copies of the split files, filtered to chosen classes. One deliberate
    change: a line ``Class\\video`` (backslash) was dropped by the old filter although
    training reads it; it is now kept, like every other line of the class."""
    for classes in (None, ["Zebra", "ApplyEyeMakeup"], ["apply"]):
        dst = tree.parent / f"dst-{classes}"
        copied = copy_split_files(tree, dst, classes)
        got = {p.relative_to(dst).as_posix(): p.read_text() for p in copied}
        want = _old_copy_split_files(tree, classes)
        if classes == ["apply"]:
            assert "apply\\b.mp4 3\n" in got["trainlist01.txt"]
            assert "apply\\b.mp4 3\n" not in want["trainlist01.txt"]  # the old bug
            want["trainlist01.txt"] = "apply\\b.mp4 3\napply/a.mkv 3\n"
        assert got == want


def test_synth_split_files_as_before(tmp_path: Path) -> None:
    from motionlab.recognition.synth_actions import ACTIONS, SynthConfig, make_synth_actions

    config = SynthConfig(
        videos_per_class=3, actors=3, test_actors=1, num_frames=2, size=(16, 16), davis=False
    )
    make_synth_actions(tmp_path, config)
    with (tmp_path / "metadata.csv").open() as f:
        rows = [
            (r["path"], list(ACTIONS).index(r["action"]) + 1, int(r["person"]) >= 2)
            for r in csv.DictReader(f)
        ]
    index, train, test = _old_synth_texts(ACTIONS, rows)
    assert (tmp_path / "classInd.txt").read_text() == index
    assert (tmp_path / "trainlist01.txt").read_text() == train
    assert (tmp_path / "testlist01.txt").read_text() == test


def test_doctests() -> None:
    result = doctest.testmod(ds, raise_on_error=False)
    assert result.attempted > 20 and result.failed == 0


def test_split_line_parsing_by_hand() -> None:
    assert ds.parse_split_line("  ") is None
    assert ds.parse_split_line("A/v.avi") == ("A/v.avi", None)
    assert ds.parse_split_line("A/v.avi 12") == ("A/v.avi", 12)
    assert ds.split_line_class("12 A") == "A"
    assert ds.split_line_class("A/v.avi 12") == "A"
    assert ds.split_file_name("train", 3) == "trainlist03.txt"
    with pytest.raises(MotionlabError, match="subset"):
        ds.split_file_name("val", 1)


# -- person-disjoint splits ----------------------------------------------------------------

# KTH's split, typed in from the head of 00sequences.txt
# (https://www.csc.kth.se/cvap/actions/00sequences.txt), independently of motionlab.datasets
KTH_TRAIN = {11, 12, 13, 14, 15, 16, 17, 18}
KTH_VAL = {19, 20, 21, 23, 24, 25, 1, 4}
KTH_TEST = {22, 2, 3, 5, 6, 7, 8, 9, 10}
KTH_ACTIONS = ("boxing", "handclapping", "handwaving", "jogging", "running", "walking")


def _kth_tree(root: Path, persons=range(1, 26), scenarios=(1, 2, 3, 4)) -> Path:
    """KTH sorted into action folders: ``boxing/person01_boxing_d1_uncomp.avi`` (empty files:
    listing and splitting never open a video)."""
    for action in KTH_ACTIONS:
        (root / action).mkdir(parents=True, exist_ok=True)
        for p in persons:
            for d in scenarios:
                (root / action / f"person{p:02d}_{action}_d{d}_uncomp.avi").touch()
    return root


def _persons(samples) -> set[int]:
    return {int(s.person) for s in samples}


def test_kth_split_is_the_published_one(tmp_path: Path) -> None:
    root = _kth_tree(tmp_path / "kth")
    samples, classes = data.folder_samples(root)
    assert classes == list(KTH_ACTIONS) and len(samples) == 600
    train, val, test = data.split_by_person(samples, ds.kth_person_split())
    assert (_persons(train), _persons(val), _persons(test)) == (KTH_TRAIN, KTH_VAL, KTH_TEST)
    assert (len(train), len(val), len(test)) == (8 * 24, 8 * 24, 9 * 24)
    paths = [{s.path for s in part} for part in (train, val, test)]
    assert not (paths[0] & paths[1] or paths[0] & paths[2] or paths[1] & paths[2])
    for s in train + val + test:  # the person is the one in the file name, the label its folder
        assert s.path.name.startswith(f"person{int(s.person):02d}_")
        assert classes[s.label] == s.path.parent.name


def test_person_split_from_a_csv(tmp_path: Path) -> None:
    """Persons spelled three ways in the tables; every video of a person lands in the
    person's part, and no person is in two parts."""
    root = tmp_path / "data"
    rows = []
    for person in ("p1", "person02", "3", "04", "ann"):
        for action in ("wave", "jump"):
            rel = f"{action}/{person}_{action}.mp4"
            _touch(root / rel)
            rows.append(f"{rel},{action},{person}\n")
    (root / "metadata.csv").write_text("path,action,who\n" + "".join(rows))
    table = tmp_path / "split.csv"
    table.write_text("who,part\n2,train\nann,train\nperson3,val\n4,test\np1,test\n")
    parts = ds.read_person_split(table, person_column="who", part_column="part")
    assert parts == {"2": "train", "ann": "train", "3": "val", "4": "test", "p1": "test"}
    samples, _ = data.csv_samples(root / "metadata.csv", person_column="who")
    train, val, test = data.split_by_person(samples, parts)
    assert {s.person for s in train} == {"2", "ann"} and {s.person for s in val} == {"3"}
    assert {s.person for s in test} == {"4", "p1"}
    assert sum(map(len, (train, val, test))) == 10
    seen = [{s.person for s in part} for part in (train, val, test)]
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    # one row per video with the part of each: the same table
    table.write_text("path,who,part\na,02,train\nb,2,train\nc,3,val\nd,4,test\n")
    assert ds.read_person_split(table, person_column="who", part_column="part") == {
        "2": "train", "3": "val", "4": "test"
    }  # fmt: skip


def test_person_split_bad_input(tmp_path: Path) -> None:
    table = tmp_path / "split.csv"
    table.write_text("person,split\n1,train\n2,test\n")
    with pytest.raises(MotionlabError, match="no column subject"):
        ds.read_person_split(table, person_column="subject")
    table.write_text("person,split\n1,train\n2,test\n01,val\n")
    with pytest.raises(MotionlabError, match=r":4: person 1 is in two parts \(train and val\)"):
        ds.read_person_split(table)
    table.write_text("person,split\n1,train\n2,holdout\n")
    with pytest.raises(MotionlabError, match="'holdout' is not train, val or test"):
        ds.read_person_split(table)
    table.write_text("person,split\n1,train\n2,val\n")
    with pytest.raises(MotionlabError, match="no person in the test part"):
        ds.read_person_split(table)
    with pytest.raises(MotionlabError, match="no such split CSV"):
        ds.read_person_split(tmp_path / "none.csv")
    # a part whose persons have no video; a video without a person
    root = _kth_tree(tmp_path / "kth", persons=(11, 22))
    samples, _ = data.folder_samples(root)
    with pytest.raises(MotionlabError, match=r"no videos for the val part \(persons 1, 4, 19"):
        data.split_by_person(samples, ds.kth_person_split())
    _touch(root / "boxing" / "v_Boxing_g01_c01.avi")
    samples, _ = data.folder_samples(root)
    with pytest.raises(MotionlabError, match="1 video"):
        data.split_by_person(samples, ds.kth_person_split())
