"""Selective privacy obfuscation with motion-consistent noise (thesis ch. 5).

Matchers give soft saliency maps of named privacy attributes (forehead, hair, eyes,
cheek, lips, hand, arm, torso, legs); :func:`obfuscate` replaces those regions by noise
animated with the video's optical flow (eq. 5.5), or by a baseline inside the same mask
(:mod:`~motionlab.privacy.replace`); :mod:`~motionlab.privacy.baselines`
holds the naive baselines of Table 5.2 and :mod:`~motionlab.privacy.metrics` the
privacy/utility trade-off ``f_lambda`` (eq. 5.6).
"""

from motionlab.privacy.attributes import ATTRIBUTES, BODY_ATTRIBUTES, FACE_ATTRIBUTES, parse_names
from motionlab.privacy.baselines import BASELINES, blur, get_baseline, mask_region, pixelate
from motionlab.privacy.matchers import Matcher, combine_maps, get_matcher, list_matchers
from motionlab.privacy.obfuscate import (
    ObfuscationConfig,
    ObfuscationStep,
    blend,
    noise_range_of,
    obfuscate,
    obfuscate_steps,
)
from motionlab.privacy.replace import REPLACEMENTS, Replacement, replacement_frame
from motionlab.privacy.write import write_baseline, write_obfuscation

__all__ = [
    "ATTRIBUTES",
    "BASELINES",
    "BODY_ATTRIBUTES",
    "FACE_ATTRIBUTES",
    "REPLACEMENTS",
    "Matcher",
    "ObfuscationConfig",
    "ObfuscationStep",
    "Replacement",
    "blend",
    "blur",
    "combine_maps",
    "get_baseline",
    "get_matcher",
    "list_matchers",
    "mask_region",
    "noise_range_of",
    "obfuscate",
    "obfuscate_steps",
    "parse_names",
    "pixelate",
    "replacement_frame",
    "write_baseline",
    "write_obfuscation",
]
