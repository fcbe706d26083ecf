"""motionlab: motion as a first-class citizen of video understanding.

Conventions (see ``docs/conventions.md``):

* frames are ``numpy.uint8`` arrays of shape ``(T, H, W, 3)`` (RGB), streamed one
  ``(H, W, 3)`` frame at a time;
* optical flow is ``float32`` of shape ``(H, W, 2)`` in pixels, channel 0 = u (x, right),
  channel 1 = v (y, down); *forward* flow of pair (t, t+1) maps pixel p of frame t to
  p + F(p) in frame t+1, *backward* flow maps a pixel of frame t+1 into frame t.
"""

from motionlab.errors import MotionlabError

__version__ = "0.1.0"

__all__ = ["MotionlabError", "__version__"]
