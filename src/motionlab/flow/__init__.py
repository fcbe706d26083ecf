"""Optical flow: estimators behind one call, streaming over videos, ``.flo`` files,
Middlebury colour coding and accuracy metrics.

Flow is ``float32 (H, W, 2)`` in pixels, channel 0 = u (x, right), channel 1 = v (y, down).
*Forward* flow of pair (t, t+1) maps pixel p of frame t to p + F(p) in frame t+1;
*backward* flow maps a pixel of frame t+1 into frame t.
"""

from motionlab.flow.estimators import (
    DEFAULT_METHOD,
    FlowEstimator,
    check_frame_pair,
    estimate,
    get_estimator,
    list_methods,
)
from motionlab.flow.io import check_flow, read_flo, write_flo
from motionlab.flow.metrics import angular_error, endpoint_error, fl_all
from motionlab.flow.stream import FlowPair, video_flow
from motionlab.flow.viz import flow_to_color, make_colorwheel
from motionlab.flow.write import write_flow, write_flow_pair

__all__ = [
    "DEFAULT_METHOD",
    "FlowEstimator",
    "FlowPair",
    "angular_error",
    "check_flow",
    "check_frame_pair",
    "endpoint_error",
    "estimate",
    "fl_all",
    "flow_to_color",
    "get_estimator",
    "list_methods",
    "make_colorwheel",
    "read_flo",
    "video_flow",
    "write_flo",
    "write_flow",
    "write_flow_pair",
]
