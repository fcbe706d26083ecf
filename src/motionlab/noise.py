"""Old path of :mod:`motionlab.afd.noise` (moved in the restructuring of issue 18).

Importing it warns once; every name is forwarded, so old code keeps working.
"""

import warnings

from motionlab.afd.noise import *  # noqa: F403

warnings.warn(
    "motionlab.noise moved to motionlab.afd.noise; import it from there",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> object:
    import motionlab.afd.noise as new

    return getattr(new, name)
