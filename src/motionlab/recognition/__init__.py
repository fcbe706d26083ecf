"""Action recognition that uses motion (thesis ch. 4–5): a model zoo, the two-stream
E2S-X3D, clip datasets, training and evaluation, the motion-reliance diagnostic and a
synthetic motion-only action benchmark.

Submodules import torch lazily; ``import motionlab.recognition`` is cheap.
"""

# Fill the model zoo's registry (no torch import): see motionlab.recognition._builtin.
from motionlab._lazy import lazy_exports
from motionlab.recognition import _builtin  # noqa: F401

_NAMES = {
    "ClipDataset": "data",
    "EvalResult": "train",
    "ModelSpec": "zoo",
    "RelianceRow": "diagnose",
    "Sample": "data",
    "StreamSpec": "zoo",
    "SynthConfig": "synth_actions",
    "TrainConfig": "train",
    "TrainResult": "train",
    "bootstrap_accuracy": "diagnose",
    "build_model": "zoo",
    "csv_samples": "data",
    "folder_samples": "data",
    "get_recipe": "train",
    "get_spec": "zoo",
    "inter_class_entropy": "diagnose",
    "list_models": "zoo",
    "load_checkpoint": "train",
    "load_weights": "zoo",
    "make_synth_actions": "synth_actions",
    "register": "zoo",
    "reliance_row": "diagnose",
    "select_by_entropy": "diagnose",
    "ucf101_samples": "data",
}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)
