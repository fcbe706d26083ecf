"""The nine privacy attributes of thesis ch. 5 and parsing of template selections."""

from __future__ import annotations

from motionlab.errors import MotionlabError

FACE_ATTRIBUTES: tuple[str, ...] = ("forehead", "hair", "eyes", "cheek", "lips")
BODY_ATTRIBUTES: tuple[str, ...] = ("hand", "arm", "torso", "legs")
ATTRIBUTES: tuple[str, ...] = FACE_ATTRIBUTES + BODY_ATTRIBUTES
"""The thesis's nine template names (Sec. 5.3), in its order."""

_GROUPS = {"face": FACE_ATTRIBUTES, "body": BODY_ATTRIBUTES, "all": ATTRIBUTES}


def parse_names(text: str, *, known: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Split a comma-separated template selection such as ``"forehead,hair,eyes"``.

    The group names ``face`` (the five face attributes), ``body`` (hand, arm, torso, legs)
    and ``all`` expand to their members. Duplicates are dropped, order is kept.

    Parameters
    ----------
    text : str
        Comma-separated names.
    known : tuple of str, optional
        Names allowed (default: any name; groups always expand to the nine attributes).

    Raises
    ------
    MotionlabError
        Empty selection or a name not in ``known``.
    """
    names: list[str] = []
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        for member in _GROUPS.get(name, (name,)):
            if member not in names:
                names.append(member)
    if not names:
        raise MotionlabError(f"no template names in {text!r}; e.g. forehead,hair,eyes")
    if known is not None:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise MotionlabError(
                f"unknown template(s) {', '.join(unknown)}; available: {', '.join(known)} "
                "(or the groups face, body, all)"
            )
    return tuple(names)
