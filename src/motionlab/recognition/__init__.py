"""Action recognition that uses motion (thesis ch. 4–5): a model zoo, the two-stream
E2S-X3D, clip datasets, training and evaluation, the motion-reliance diagnostic and a
synthetic motion-only action benchmark.

Submodules import torch lazily; ``import motionlab.recognition`` is cheap.
"""

# Fill the model zoo's registry (no torch import): see motionlab.recognition._builtin.
from motionlab.recognition import _builtin  # noqa: F401
