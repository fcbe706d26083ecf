"""Old path of :mod:`motionlab.afd.dataset` (moved in the restructuring of issue 18).

Importing it warns once; every name is forwarded, so old code keeps working.
"""

import warnings

from motionlab.afd.dataset import *  # noqa: F403

warnings.warn(
    "motionlab.afd_dataset moved to motionlab.afd.dataset; import it from there",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> object:
    import motionlab.afd.dataset as new

    return getattr(new, name)
