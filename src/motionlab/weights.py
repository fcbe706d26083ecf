"""Reading local model weights files safely (RAFT, the STVI detector).

:func:`read_state_dict_file` loads a ``.pth`` with ``weights_only=True`` (a file can never
run code) and finds the state dict inside the usual wrappers, with one-line errors that
name the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from motionlab.errors import MotionlabError


def read_state_dict_file(path: str | os.PathLike[str], *, missing: str) -> dict[str, Any]:
    """The state dict stored in ``path`` (plain, or under ``"state_dict"`` / ``"model"``).

    ``missing`` is the error for a path that is no file (e.g. ``"no such RAFT checkpoint
    file"``). Raises :class:`MotionlabError` for an unreadable file or one that holds no
    state dict.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise MotionlabError(f"{path}: {missing}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors of many kinds
        raise MotionlabError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise MotionlabError(f"{path}: checkpoint holds no state dict")
    return state
