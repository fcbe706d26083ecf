"""Space-time volumes of interest (STVI): object-part tubes and their evaluation.

The pipeline of thesis ch. 6 (:func:`stvi` in :mod:`~motionlab.stvi.tubes`: features,
SLIC in space-time, tube selection by anchor masks), results on disk
(:mod:`~motionlab.stvi.io`), the measures of §6.4 (:mod:`~motionlab.stvi.metrics`) and
the DAVIS evaluation (:mod:`~motionlab.stvi.evaluate`). The names below are imported
when first used.
"""

from motionlab._lazy import lazy_exports

_NAMES = {
    "STVIParams": "tubes",
    "STVIResult": "tubes",
    "boundary_f": "metrics",
    "compute_flows": "tubes",
    "evaluate_labels": "evaluate",
    "evaluate_results": "evaluate",
    "jaccard": "metrics",
    "label_inconsistency": "metrics",
    "read_labels": "io",
    "segmentation_accuracy": "metrics",
    "stvi": "tubes",
    "temporal_extent": "metrics",
    "undersegmentation_error": "metrics",
    "write_result": "io",
    "write_stvi": "write",
}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)
