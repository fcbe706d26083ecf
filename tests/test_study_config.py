"""Study config, per-participant plans, the stimulus catalogue and its frame sheets."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from motionlab.errors import MotionlabError
from motionlab.study.config import load_config, parse_config, standard_phases, thesis_phases
from motionlab.study.protocol import make_plan
from motionlab.study.stimuli import Catalogue, make_sheet, sheet_frames, stimulus_key
from motionlab.video import read_video

from conftest import write_short_study

BASE = {
    "study": {"classes": ["right", "left"]},
    "stimuli": {"rgb": {"root": "rgb", "pattern": "{class}/*.mkv"}},
}


def _parse(data, base=Path("/data")):
    return parse_config(data, base_dir=base)


def test_default_protocol_is_standard_with_consent(tmp_path):
    data = {
        "study": {"classes": ["a", "b"], "rest_seconds": 120},
        "stimuli": {"rgb": {"root": "x"}, "afd": {"root": "/abs/y"}},
    }
    config = _parse(data, tmp_path)
    kinds = [p.kind for p in config.phases]
    assert kinds == [
        "consent",
        "instructions",
        "familiarisation",
        "training",
        "test",
        "rest",
        "training",
        "test",
        "questionnaire",
        "thanks",
    ]
    assert [p.source for p in config.phases if p.kind == "test"] == ["rgb", "afd"]
    training = [p for p in config.phases if p.kind == "training"]
    assert all(p.per_class == 4 and p.feedback for p in training)
    assert config.phases[5].seconds == 120
    assert (config.fps_min, config.fps_default, config.fps_max) == (10, 25, 40)
    assert config.sources["rgb"].root == (tmp_path / "x").resolve()
    assert config.sources["afd"].root == Path("/abs/y")
    assert standard_phases()[5].seconds == 300
    assert [p.kind for p in config.phases] == [p.kind for p in standard_phases()]


UCF5 = ["JumpingJack", "Lunges", "PullUps", "PushUps", "Swing"]


def _fake_catalogue(classes, per_class, sources=("rgb", "afd")):
    """A stand-in catalogue (make_plan reads by_source[source][class] -> items with key, name)."""
    by_source = {
        source: {
            c: [
                SimpleNamespace(key=f"{source}-{c}-{i}", name=f"{source}/{c}/{i}.avi")
                for i in range(per_class)
            ]
            for c in classes
        }
        for source in sources
    }
    return SimpleNamespace(by_source=by_source)


def test_thesis_preset_is_the_seven_phases_of_section_4_3():
    """§4.3: (i) slide show, (ii) 4 RGB training videos per class (20) with the answer, random
    order, (iii) 90 RGB test videos looping until answered, (iv) five minutes' rest, (v) AFD
    training as (ii), (vi) 90 AFD test videos as (iii), (vii) questionnaire; no consent or
    familiarisation page."""
    config = _parse(
        {
            "study": {"classes": UCF5, "preset": "thesis"},
            "stimuli": {"rgb": {"root": "u"}, "afd": {"root": "a"}},
        }
    )
    plan = make_plan(config, _fake_catalogue(UCF5, 40), seed=3)
    phases = plan["phases"]
    assert [(p["kind"], p["source"]) for p in phases] == [
        ("instructions", None),
        ("training", "rgb"),
        ("test", "rgb"),
        ("rest", None),
        ("training", "afd"),
        ("test", "afd"),
        ("questionnaire", None),
        ("thanks", None),  # the closing page asks nothing
    ]
    for i in (1, 4):  # training: 4 per class, 20 in all, with the answer shown, random order
        items = phases[i]["items"]
        assert len(items) == 20 and phases[i]["feedback"] is True
        assert sorted(it["truth"] for it in items) == sorted(UCF5 * 4)
        assert [it["truth"] for it in items] != sorted(it["truth"] for it in items)
    for i in (2, 5):  # test: 90 clips, 18 per class, no answer shown, each loops until answered
        items = phases[i]["items"]
        assert len(items) == 90 and phases[i]["feedback"] is False and phases[i]["loop"] is True
        assert sorted(it["truth"] for it in items) == sorted(UCF5 * 18)
    assert phases[1]["loop"] and phases[4]["loop"]
    assert phases[3]["seconds"] == 300
    for train, test in ((1, 2), (4, 5)):  # no test clip was a training clip
        seen = {it["stimulus"] for it in phases[train]["items"]}
        assert not seen & {it["stimulus"] for it in phases[test]["items"]}
    instructions = " ".join(config.phases[0].text)
    assert "repeats until" in instructions and "example of each action" not in instructions


def test_thesis_preset_options_and_errors():
    stimuli = {"rgb": {"root": "u"}, "afd": {"root": "a"}}
    with_consent = _parse(
        {"study": {"classes": UCF5, "preset": "thesis", "consent": True}, "stimuli": stimuli}
    )
    assert [p.kind for p in with_consent.phases][:2] == ["consent", "instructions"]
    no_consent = _parse({"study": {"classes": UCF5, "consent": False}, "stimuli": stimuli})
    assert no_consent.phases[0].kind == "instructions"  # standard preset without consent
    small = _parse(
        {"study": {"classes": UCF5, "preset": "thesis", "test_videos": 10}, "stimuli": stimuli}
    )
    assert [p.per_class for p in small.phases if p.kind == "test"] == [2, 2]
    for study, message in (
        ({"classes": ["a", "b", "c", "d"], "preset": "thesis"}, "cannot share evenly"),
        ({"classes": UCF5, "preset": "paper"}, "preset must be one of"),
        ({"classes": UCF5, "test_videos": 90}, "preset = 'thesis' only"),
        ({"classes": UCF5, "consent": "yes"}, "consent must be true or false"),
    ):
        with pytest.raises(MotionlabError, match=message):
            _parse({"study": study, "stimuli": stimuli})
    phases = [{"kind": "test", "source": "rgb"}, {"kind": "thanks"}]
    with pytest.raises(MotionlabError, match="ignored beside"):
        _parse(
            {"study": {"classes": UCF5, "rest_seconds": 5}, "stimuli": stimuli, "phases": phases}
        )
    once = _parse(
        {
            "study": {"classes": UCF5},
            "stimuli": stimuli,
            "phases": [{"kind": "test", "source": "rgb", "loop": False}, {"kind": "thanks"}],
        }
    )
    assert once.phases[0].loop is False


def test_thesis_preset_refuses_too_few_clips(tmp_path, study_stimuli):
    """The shared test stimuli have 6 clips per class: the thesis preset (4 + 18) cannot run."""
    config = _parse(
        {
            "study": {"classes": ["right", "left", "up"], "preset": "thesis", "test_videos": 9},
            "stimuli": {
                "rgb": {"root": str(study_stimuli / "rgb"), "pattern": "{class}/*.mkv"},
                "afd": {"root": str(study_stimuli / "afd"), "pattern": "{class}/*.mkv"},
            },
        },
        tmp_path,
    )
    with pytest.raises(MotionlabError, match="need 7"):
        Catalogue(config, cache_dir=tmp_path / "cache")


def test_load_config_file_and_errors(tmp_path, study_stimuli):
    config = load_config(write_short_study(tmp_path, study_stimuli, rest=3))
    assert config.classes == ("right", "left", "up")
    assert [p.name for p in config.phases][3:5] == ["training-rgb", "test-rgb"]
    assert config.phases[5].seconds == 3
    with pytest.raises(MotionlabError, match="no such study config"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\nclasses = 1")
    with pytest.raises(MotionlabError, match="not valid TOML"):
        load_config(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"study": {}}, "needs classes"),
        ({"study": {"classes": ["a", "a"]}}, "unique"),
        ({"study": {"classes": ["../etc"]}}, "class name"),
        ({"study": {"classes": ["a/b"]}}, "class name"),
        ({"study": {"classes": ["a"], "fps": {"default": 50}}}, "fps"),
        ({"study": {"classes": ["a"], "colour": 1}}, "unknown \\[study\\] keys"),
        ({"stimuli": {}}, "at least one"),
        ({"stimuli": {"rgb": {"root": "x", "pattern": "../{class}/*"}}}, "without '..'"),
        ({"stimuli": {"rgb": {"root": "x", "pattern": "/abs/{class}"}}}, "relative"),
        ({"stimuli": {"rgb": {"root": "x", "pattern": "*.avi"}}}, "must contain"),
        ({"stimuli": {"RGB!": {"root": "x"}}}, "source name"),
        ({"stimuli": {"rgb": {"pattern": "{class}/*"}}}, "needs root"),
        ({"stimuli": {"rgb": {"root": "x", "max_frames": 0}}}, "max_frames"),
        ({"stimuli": {"rgb": {"root": "x", "size": [1, 2, 3]}}}, "size"),
        ({"phases": [{"kind": "thanks"}, {"kind": "party"}]}, "not one of"),
        ({"phases": [{"kind": "test"}, {"kind": "thanks"}]}, "needs source"),
        ({"phases": [{"kind": "test", "source": "afd"}, {"kind": "thanks"}]}, "only"),
        ({"phases": [{"kind": "consent"}]}, "last phase"),
        ({"phases": [{"kind": "rest", "seconds": -1}, {"kind": "thanks"}]}, "seconds"),
        (
            {"phases": [{"kind": "test", "source": "rgb", "per_class": 0}, {"kind": "thanks"}]},
            "per_class",
        ),
        ({"phases": [{"kind": "consent", "source": "rgb"}, {"kind": "thanks"}]}, "takes no"),
        ({"phases": [{"kind": "consent"}, {"kind": "consent"}, {"kind": "thanks"}]}, "unique"),
        ({"phases": [{"kind": "consent", "colour": 1}, {"kind": "thanks"}]}, "unknown keys"),
        ({"phases": "consent"}, "array of tables"),
        ({"extra": 1}, "unknown top-level"),
    ],
)
def test_config_errors_say_what_is_wrong(change, message):
    data = {**BASE, **change}
    with pytest.raises(MotionlabError, match=message):
        _parse(data)


def test_plan_is_seeded_disjoint_and_complete(tmp_path, study_stimuli):
    config = load_config(write_short_study(tmp_path, study_stimuli))
    catalogue = Catalogue(config, cache_dir=tmp_path / "cache")
    assert len(catalogue) == 36  # 3 classes x 6 clips x 2 sources
    a = make_plan(config, catalogue, 7)
    assert a == make_plan(config, catalogue, 7)  # reproducible from the recorded seed
    assert a != make_plan(config, catalogue, 8)
    assert a["seed"] == 7
    phases = {p["name"]: p for p in a["phases"]}
    fam = phases["familiarisation"]["items"]
    assert [i["truth"] for i in fam] == ["right", "left", "up"]  # one per class, in order
    for name, per_class in (("training-rgb", 1), ("test-rgb", 2), ("test-afd", 2)):
        items = phases[name]["items"]
        assert sorted(i["truth"] for i in items) == sorted(["right", "left", "up"] * per_class)
    rgb = [
        i["stimulus"]
        for n in ("familiarisation", "training-rgb", "test-rgb")
        for i in phases[n]["items"]
    ]
    assert len(set(rgb)) == len(rgb)  # disjoint: no clip is shown twice
    for item in phases["test-afd"]["items"]:
        stim = catalogue.by_key[item["stimulus"]]
        assert stim.source == "afd" and stim.label == item["truth"]
        assert item["name"] == f"afd/{stim.label}/{stim.path.name}"
    # trial order differs between participants
    orders = {
        tuple(i["stimulus"] for i in make_plan(config, catalogue, s)["phases"][4]["items"])
        for s in range(10)
    }
    assert len(orders) > 5


def test_catalogue_checks_counts_and_stays_inside_roots(tmp_path, study_stimuli):
    config = load_config(write_short_study(tmp_path, study_stimuli))
    root = tmp_path / "stimuli"
    for src in ("rgb", "afd"):
        for label in config.classes:
            (root / src / label).mkdir(parents=True)
            for k in range(4):
                os.symlink(
                    study_stimuli / src / label / f"clip{k:02d}.mkv",
                    root / src / label / f"clip{k:02d}.mkv",
                )
    text = (tmp_path / "study.toml").read_text().replace(study_stimuli.as_posix(), root.as_posix())
    (tmp_path / "study.toml").write_text(text)
    # the clips are symlinks to files outside the root: all are left out
    with pytest.raises(MotionlabError, match="0 stimuli found"):
        Catalogue(load_config(tmp_path / "study.toml"), cache_dir=tmp_path / "c")
    # real files inside the root, but too few for the phases (1 + 1 + 2 = 4 needed per class)
    for path in root.rglob("*.mkv"):
        target = path.resolve()
        path.unlink()
        path.write_bytes(target.read_bytes())
    (root / "rgb" / "up" / "clip03.mkv").unlink()
    with pytest.raises(MotionlabError, match=r"class 'up': 3 stimuli found.*need 4"):
        Catalogue(load_config(tmp_path / "study.toml"), cache_dir=tmp_path / "c")
    (tmp_path / "study.toml").write_text(text.replace(root.as_posix() + "/afd", "/nonexistent"))
    with pytest.raises(MotionlabError, match="not a folder"):
        Catalogue(load_config(tmp_path / "study.toml"), cache_dir=tmp_path / "c")


def test_frame_sheet_is_lossless(tmp_path, study_stimuli):
    clip = study_stimuli / "afd" / "left" / "clip01.mkv"
    frames = read_video(clip)
    sheet, info = make_sheet(clip)
    assert (info.frames, info.width, info.height) == (8, 64, 48)
    assert info.cols * info.rows >= 8
    np.testing.assert_array_equal(sheet_frames(sheet, info), frames)
    # and through the PNG file the server sends
    config = load_config(write_short_study(tmp_path, study_stimuli))
    catalogue = Catalogue(config, cache_dir=tmp_path / "cache")
    key = stimulus_key("afd", "left/clip01.mkv")
    png, info2 = catalogue.sheet(key)
    assert info2 == info
    decoded = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)[:, :, ::-1]
    np.testing.assert_array_equal(sheet_frames(decoded, info2), frames)
    assert catalogue.sheet(key)[0] == png  # cached
    with pytest.raises(MotionlabError, match="do not fit"):
        make_sheet(clip, size=(20000, 16))


def test_shipped_thesis_config_parses():
    config = load_config(Path(__file__).resolve().parents[1] / "docs/study/thesis_study.toml")
    assert config.classes == ("JumpingJack", "Lunges", "PullUps", "PushUps", "Swing")
    assert [p.kind for p in config.phases] == [p.kind for p in thesis_phases()]
    assert [p.per_class for p in config.phases if p.kind == "test"] == [18, 18]
    assert config.sources["afd"].pattern == "{class}/*.avi"


def test_answer_keys_default_custom_and_errors():
    stimuli = {"rgb": {"root": "u"}, "afd": {"root": "a"}}
    assert _parse({"study": {"classes": UCF5}, "stimuli": stimuli}).keys == (
        "1",
        "2",
        "3",
        "4",
        "5",
    )
    many = [f"c{i}" for i in range(10)]
    assert _parse({"study": {"classes": many}, "stimuli": stimuli}).keys == ()  # > 9: no default
    custom = _parse({"study": {"classes": ["a", "b"], "keys": ["F", "j"]}, "stimuli": stimuli})
    assert custom.keys == ("f", "j")
    assert _parse({"study": {"classes": ["a", "b"], "keys": []}, "stimuli": stimuli}).keys == ()
    for keys, message in (
        (["f"], "1 entries for 2 classes"),
        (["f", "F"], "must differ"),
        (["f", "jj"], "single printable"),
        (["f", " "], "single printable"),
        ("fj", "list of single characters"),
    ):
        with pytest.raises(MotionlabError, match=message):
            _parse({"study": {"classes": ["a", "b"], "keys": keys}, "stimuli": stimuli})


@pytest.mark.parametrize(
    ("study", "message"),
    [
        ({"completion_url": "javascript:alert(1)"}, r"http\(s\) URL"),
        ({"completion_url": "https://x.org/a b"}, r"http\(s\) URL"),
        ({"completion_url": "https://x.org/?cc={code}"}, "set completion_code too"),
    ],
)
def test_completion_url_errors(study, message):
    with pytest.raises(MotionlabError, match=message):
        _parse({**BASE, "study": {**BASE["study"], **study}, "phases": [{"kind": "thanks"}]})


def test_expiry_and_participant_limit_settings():
    config = _parse(
        {
            **BASE,
            "study": {**BASE["study"], "expire_minutes": 90, "max_participants": 10},
            "phases": [{"kind": "thanks"}],
        }
    )
    assert (config.expire_minutes, config.max_participants) == (90, 10)
    assert _parse({**BASE, "phases": [{"kind": "thanks"}]}).expire_minutes == 0
    for key, value in (("expire_minutes", -1), ("max_participants", True), ("expire_minutes", 1.5)):
        with pytest.raises(MotionlabError, match=key):
            _parse({**BASE, "study": {**BASE["study"], key: value}, "phases": [{"kind": "thanks"}]})


def test_counterbalancing_rotates_blocks_and_keys_in_a_balanced_scheme():
    config = _parse(
        {
            "study": {"classes": UCF5, "preset": "thesis", "counterbalance": True},
            "stimuli": {"rgb": {"root": "u"}, "afd": {"root": "a"}},
        }
    )
    catalogue = _fake_catalogue(UCF5, 40)
    seen = Counter()
    for order in range(20):
        plan = make_plan(config, catalogue, seed=order, order=order)
        kinds = [(p["kind"], p["source"]) for p in plan["phases"]]
        first, second = ("rgb", "afd") if order % 2 == 0 else ("afd", "rgb")
        assert kinds == [
            ("instructions", None),
            ("training", first),
            ("test", first),
            ("rest", None),
            ("training", second),
            ("test", second),
            ("questionnaire", None),
            ("thanks", None),
        ]
        assert plan["counterbalance"]["blocks"] == [first, second]
        keys = plan["answer_keys"]
        assert sorted(keys) == ["1", "2", "3", "4", "5"]
        shift = (order // 2) % 5
        assert keys[shift] == "1"  # the mapping is the default one shifted by `shift`
        assert plan["counterbalance"]["key_shift"] == shift
        seen[(first, tuple(keys))] += 1
        # the blocks move whole: the same clips, 4 per class in training, 18 in test
        assert [len(p["items"]) for p in plan["phases"]] == [0, 20, 90, 0, 20, 90, 0, 0]
    assert len(seen) == 10 and set(seen.values()) == {2}  # every pair equally often
    plain = _parse(
        {
            "study": {"classes": UCF5, "preset": "thesis"},
            "stimuli": {"rgb": {"root": "u"}, "afd": {"root": "a"}},
        }
    )
    plan = make_plan(plain, catalogue, seed=1, order=1)
    assert plan["counterbalance"] == {"order": 1, "blocks": ["rgb", "afd"], "key_shift": 0}


def test_pilot_plan_is_short():
    config = _parse(
        {
            "study": {"classes": UCF5, "preset": "thesis"},
            "stimuli": {"rgb": {"root": "u"}, "afd": {"root": "a"}},
        }
    )
    plan = make_plan(config, _fake_catalogue(UCF5, 40), seed=1, pilot=True)
    assert plan["pilot"] is True
    assert [len(p["items"]) for p in plan["phases"]] == [0, 5, 5, 0, 5, 5, 0, 0]
    assert plan["phases"][3]["seconds"] == 5
    for p in plan["phases"]:
        assert sorted(i["truth"] for i in p["items"]) in ([], sorted(UCF5))


def test_attention_checks_go_into_every_test_phase():
    config = _parse(
        {
            "study": {"classes": UCF5, "preset": "thesis"},
            "stimuli": {"rgb": {"root": "u"}, "afd": {"root": "a"}, "catch": {"root": "c"}},
            "attention": {"source": "catch", "per_test_phase": 2, "min_accuracy": 0.5},
        }
    )
    assert config.attention.min_accuracy == 0.5
    plan = make_plan(config, _fake_catalogue(UCF5, 40, sources=("rgb", "afd", "catch")), seed=4)
    tests = [p for p in plan["phases"] if p["kind"] == "test"]
    catches = [i for p in tests for i in p["items"] if i.get("attention_check")]
    assert [len(p["items"]) for p in tests] == [92, 92]
    assert [sum(bool(i.get("attention_check")) for i in p["items"]) for p in tests] == [2, 2]
    assert all(i["stimulus"].startswith("catch-") for i in catches)
    assert all(
        i["stimulus"].startswith("catch-") == bool(i.get("attention_check"))
        for p in tests
        for i in p["items"]
    )
    assert len({i["stimulus"] for i in catches}) == 4  # never the same clip twice
    assert all(i["truth"] == i["stimulus"].split("-")[1] for i in catches)  # the folder's class
    training = [p for p in plan["phases"] if p["kind"] == "training"]
    assert not any(i.get("attention_check") for p in training for i in p["items"])
    positions = {p["items"].index(c) for p in tests for c in p["items"] if c.get("attention_check")}
    assert len(positions) > 1  # at random positions, not all at one place
    for attention, message in (
        ({"source": "nope"}, "not one of"),
        ({"source": "catch", "min_accuracy": 2}, "min_accuracy"),
        ({"source": "catch", "per_test_phase": 0}, "per_test_phase"),
        ({"per_test_phase": 1}, "needs source"),
        ({"source": "catch", "every": 3}, "unknown keys"),
    ):
        with pytest.raises(MotionlabError, match=message):
            _parse(
                {
                    "study": {"classes": UCF5},
                    "stimuli": {"rgb": {"root": "u"}, "afd": {"root": "a"}, "catch": {"root": "c"}},
                    "attention": attention,
                }
            )


def test_requirements_settings_and_errors():
    base = {**BASE, "phases": [{"kind": "thanks"}]}
    assert _parse(base).requirements.fullscreen is False
    req = _parse(
        {**base, "requirements": {"min_width": 1024, "min_refresh_hz": 59.5, "fullscreen": True}}
    ).requirements
    assert (req.min_width, req.min_height, req.min_refresh_hz, req.fullscreen) == (
        1024,
        0,
        59.5,
        True,
    )
    for bad, message in (
        ({"min_width": -1}, "min_width"),
        ({"min_refresh_hz": "fast"}, "min_refresh_hz"),
        ({"fullscreen": "yes"}, "fullscreen"),
        ({"colour": True}, "unknown keys"),
    ):
        with pytest.raises(MotionlabError, match=message):
            _parse({**base, "requirements": bad})
