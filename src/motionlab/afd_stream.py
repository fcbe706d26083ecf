"""Old path of :mod:`motionlab.afd.stream` (moved in the restructuring of issue 18).

Importing it warns once; every name is forwarded, so old code keeps working.
"""

import warnings

from motionlab.afd.stream import *  # noqa: F403

warnings.warn(
    "motionlab.afd_stream moved to motionlab.afd.stream; import it from there",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> object:
    import motionlab.afd.stream as new

    return getattr(new, name)
