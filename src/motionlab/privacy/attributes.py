"""The nine privacy attributes of thesis ch. 5, the thesis's template sets, and parsing of
template selections."""

from __future__ import annotations

from motionlab.errors import MotionlabError

FACE_ATTRIBUTES: tuple[str, ...] = ("forehead", "hair", "eyes", "cheek", "lips")
BODY_ATTRIBUTES: tuple[str, ...] = ("hand", "arm", "torso", "legs")
ATTRIBUTES: tuple[str, ...] = FACE_ATTRIBUTES + BODY_ATTRIBUTES
"""The thesis's nine template names (Sec. 5.3), in its order."""

_GROUPS = {"face": FACE_ATTRIBUTES, "body": BODY_ATTRIBUTES, "all": ATTRIBUTES}

THESIS_SETS: dict[str, tuple[str, ...]] = {
    "sbu": ("torso", "arm", "leg", "hair"),
    "kth": ("torso", "arm", "leg", "hair"),
    "ipn": ("cheek", "eyes", "forehead", "hair"),
}
"""The template subsets T̃ the thesis selects per dataset (Sec. 5.4, "Privacy template
selection"), in its words and order."""

THESIS_ALIASES: dict[str, str] = {"leg": "legs", "eye": "eyes"}
"""The thesis's words for templates whose attribute name here differs (Sec. 5.4 writes
"leg", Fig. 5.3 "eye"; the authors' descriptor files are ``leg.pt`` and ``eyes.pt``)."""

PRESETS: dict[str, tuple[str, ...]] = {
    name: tuple(THESIS_ALIASES.get(t, t) for t in words) for name, words in THESIS_SETS.items()
}
"""The thesis's sets in this package's attribute names: ``--templates sbu|kth|ipn``."""


def _expand_preset(preset: str, known: tuple[str, ...] | None) -> tuple[str, ...]:
    """A thesis set's names: each the thesis's own word where ``known`` has it (a DINO
    library made with the authors' names, e.g. ``leg``), else our attribute name."""
    out = []
    for word in THESIS_SETS[preset]:
        ours = THESIS_ALIASES.get(word, word)
        if known is not None and word not in known and ours not in known:
            both = word if ours == word else f"{word} (or {ours})"
            raise MotionlabError(
                f"preset {preset!r} needs template {both}; available: {', '.join(known)}"
            )
        out.append(word if known is not None and word in known else ours)
    return tuple(out)


def parse_names(text: str, *, known: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Split a comma-separated template selection such as ``"forehead,hair,eyes"``.

    The group names ``face`` (the five face attributes), ``body`` (hand, arm, torso, legs)
    and ``all`` expand to their members, and the presets ``sbu``, ``kth`` (torso, arm,
    legs, hair) and ``ipn`` (cheek, eyes, forehead, hair) to the thesis's template sets
    (Sec. 5.4, :data:`PRESETS`). Duplicates are dropped, order is kept.

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
        name, low = raw.strip(), raw.strip().lower()
        if not name:
            continue
        if known is not None and name in known:  # a library's own name wins over a group
            members: tuple[str, ...] = (name,)
        elif low in THESIS_SETS:
            members = _expand_preset(low, known)
        elif low in _GROUPS:
            members = _GROUPS[low]
        else:  # case-insensitive unless only the exact spelling is known
            members = (low if known is None or low in known else name,)
        for member in members:
            if member not in names:
                names.append(member)
    if not names:
        raise MotionlabError(f"no template names in {text!r}; e.g. forehead,hair,eyes")
    if known is not None:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise MotionlabError(
                f"unknown template(s) {', '.join(unknown)}; available: {', '.join(known)} "
                f"(or the groups face, body, all; the thesis's sets {', '.join(THESIS_SETS)})"
            )
    return tuple(names)
