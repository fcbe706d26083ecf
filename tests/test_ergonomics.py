"""A newcomer's tools: ``motionlab doctor``, shell completion, ``python -m motionlab`` and
``help(motionlab)``."""

from __future__ import annotations

import json
import pydoc
import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

import motionlab
from motionlab import doctor
from motionlab.cli import build_parser, main
from motionlab.completion import bash_script

real_import = doctor.import_module


def fail_on(name: str):
    """An importer that behaves as if ``name`` were not installed (and stands in for the
    core libraries, so the test does not spend seconds importing torch)."""

    def fake(module: str):
        if module == name or module.startswith(name + "."):
            raise ModuleNotFoundError(f"No module named '{name}'")
        if module in ("numpy", "av", "cv2", "torch", "torchvision"):
            return SimpleNamespace(__version__="1.0")
        return real_import(module)

    return fake


def test_doctor_names_the_fix_for_a_missing_feature(monkeypatch, capsys) -> None:
    monkeypatch.setattr(doctor, "import_module", fail_on("ray"))
    monkeypatch.setattr(doctor, "FEATURES", tuple(f for f in doctor.FEATURES if f.name == "ray"))
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    i = next(n for n, line in enumerate(lines) if "MISSING ray" in line)
    assert "No module named 'ray'" in lines[i]
    fix = lines[i + 1].strip()
    assert fix.startswith("fix: ") and fix.endswith("[ray]'")
    assert fix.removeprefix("fix: ") == doctor.install_command("ray")
    assert f"{sys.executable} -m pip install" in fix  # into this very environment
    assert "1 optional feature(s) missing" in out
    assert f"motionlab {motionlab.__version__}" in lines[0]


def test_doctor_fix_command_for_source_and_index_installs(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(doctor, "_source_checkout", lambda: tmp_path)
    assert doctor.install_command("study") == (
        f"{sys.executable} -m pip install -e '{tmp_path}[study]'"
    )
    monkeypatch.setattr(doctor, "_source_checkout", lambda: None)
    monkeypatch.setattr(doctor, "_installed_from", lambda: tmp_path)  # pip install FOLDER
    assert doctor.install_command("study") == f"{sys.executable} -m pip install '{tmp_path}[study]'"
    monkeypatch.setattr(doctor, "_installed_from", lambda: None)  # from an index
    assert doctor.install_command("study") == f"{sys.executable} -m pip install 'motionlab[study]'"


def test_doctor_reports_mediapipe_without_solutions(monkeypatch) -> None:
    class NewMediaPipe:  # 0.10.30+: no legacy solutions API
        __version__ = "0.10.30"

    monkeypatch.setattr(doctor, "import_module", lambda name: NewMediaPipe())
    feature = next(f for f in doctor.FEATURES if "MediaPipe" in f.name)
    status = doctor.probe(feature)
    assert not status.usable and "0.10.30 has no legacy 'solutions'" in status.detail
    assert status.fix is not None and status.fix.endswith("[privacy]'")


def test_doctor_chromium_fix_is_apt_when_playwright_is_there(monkeypatch) -> None:
    monkeypatch.setattr(doctor, "import_module", lambda name: object())
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    feature = next(f for f in doctor.FEATURES if "chromium" in f.name)
    status = doctor.probe(feature)
    assert not status.usable and status.fix == "apt-get install chromium"


def test_doctor_json(monkeypatch, capsys) -> None:
    monkeypatch.setattr(doctor, "import_module", fail_on("timm"))
    monkeypatch.setattr(doctor, "FEATURES", doctor.FEATURES[1:2])  # DINO: timm
    assert main(["doctor", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    (feature,) = found["features"]
    assert feature["usable"] is False and feature["fix"].endswith("[privacy]'")


def _all_commands(parser, prefix=()) -> list[tuple[str, ...]]:
    import argparse

    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                out.append((*prefix, name))
                out.extend(_all_commands(child, (*prefix, name)))
    return out


def test_bash_completion_names_every_subcommand(capsys) -> None:
    assert main(["completion", "bash"]) == 0
    text = capsys.readouterr().out
    commands = _all_commands(build_parser())
    assert ("study", "serve") in commands and ("doctor",) in commands
    for path in commands:
        key = "root" if len(path) == 1 else "_".join(path[:-1])
        arm = next(x for x in text.splitlines() if x.strip().startswith(f"{key})"))
        assert path[-1] in arm.split("echo", 1)[1].strip("' ;").split(), path


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["motionlab", "st"], {"stvi", "stvi-eval", "study"}),
        (["motionlab", "study", "s"], {"serve", "simulate"}),
        (["motionlab", "flow", "x.mp4", "--direction", ""], {"forward", "backward"}),
        (["motionlab", "-q", "afd", "--gi"], {"--gif", "--gif-frames"}),
        (["motionlab", "completion", ""], {"bash", "zsh"}),
        (["motionlab", "study", "export", "--o"], {"--output"}),  # a nested command's options
    ],
)
def test_bash_completion_completes(words: list[str], expected: set[str]) -> None:
    script = bash_script(build_parser())
    array = " ".join(f"'{w}'" for w in words)
    probe = f"{script}\nCOMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; _motionlab\n"
    probe += 'printf "%s\\n" "${COMPREPLY[@]}"\n'
    res = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert set(res.stdout.split()) == expected


def test_zsh_completion_wraps_the_bash_functions(capsys) -> None:
    assert main(["completion", "zsh"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("#compdef motionlab") and "bashcompinit" in text
    assert "complete -o default -F _motionlab motionlab" in text


def test_python_m_motionlab_is_the_command(tmp_path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "motionlab", "--version"], capture_output=True, text=True
    )
    assert res.returncode == 0 and res.stdout.strip() == f"motionlab {motionlab.__version__}"
    res = subprocess.run(
        [sys.executable, "-m", "motionlab", "info", str(tmp_path / "nope.mp4")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1 and res.stderr.startswith("motionlab: error: ")


def test_help_lists_the_api_and_import_stays_light() -> None:
    text = pydoc.render_doc(motionlab, renderer=pydoc.plaintext)
    for heading in ("Optical flow", "Appearance-free video", "Privacy obfuscation",
                    "Action recognition", "Space-time volumes", "Perception study"):  # fmt: skip
        assert heading in text
    for name in ("get_estimator", "make_afd", "obfuscate", "make_afd_dataset", "export_study"):
        assert f"``{name}" in text or f".{name}``" in text or f"``{name}``" in text
    res = subprocess.run(
        [sys.executable, "-c", "import sys, motionlab; print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
    )
    assert res.stdout.strip() == "False"


def test_names_in_the_docstring_exist() -> None:
    """Every ``module.name`` of the light capabilities in help(motionlab) resolves."""
    import importlib

    for module, names in {
        "motionlab.video": ["VideoReader", "VideoWriter", "read_video", "write_video", "probe"],
        "motionlab.flow": ["get_estimator", "list_methods", "estimate", "video_flow"],
        "motionlab.afd": ["AFDConfig", "make_afd", "afd_steps", "afd_from_flows"],
        "motionlab.afd.dataset": ["make_afd_dataset"],
        "motionlab.privacy": ["obfuscate", "obfuscate_steps", "get_matcher", "list_matchers"],
        "motionlab.stvi.io": ["write_result"],
        "motionlab.provenance": ["record", "read"],
        "motionlab.doctor": ["diagnose"],
    }.items():
        mod = importlib.import_module(module)
        for name in names:
            assert hasattr(mod, name), f"{module}.{name}"
            assert name in motionlab.__doc__, name
