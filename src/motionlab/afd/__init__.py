"""Appearance-free video (AFD): noise animated by a video's optical flow (thesis ch. 4).

The package in the order of the data flow:

:mod:`motionlab.afd.noise`
    noise on arrays: :class:`NoiseRange` (uniform over 0..255 or mean +- std, eq. 5.3),
    :func:`uniform_noise`, nearest-neighbour warping, occlusion refill and
    :class:`AdvectedNoise` (noise carried by the flow, every frame i.i.d.); its numba
    kernels live in ``_kernels``.
:mod:`motionlab.afd.make`
    frames in, AFD frames out: :class:`AFDConfig`, :func:`afd_steps` (streaming, one
    :class:`AFDStep` per frame), :func:`make_afd` (arrays), :func:`afd_from_flows`.
:mod:`motionlab.afd.write`
    file to file: :func:`write_afd` (reader, flow, noise, background encoder, progress,
    provenance), what ``motionlab afd`` runs.
:mod:`motionlab.afd.dataset`
    class-folder datasets (UCF101 -> AFD101): :func:`make_afd_dataset` (resumable,
    parallel, one seed per video: :func:`video_seed`).
:mod:`motionlab.afd.stream`
    AFD on the fly for training: :class:`AFDSource` (``--condition afd``).

Example (arrays; a 6-frame synthetic clip with known motion):

>>> import numpy as np
>>> from motionlab.afd import make_afd
>>> from motionlab.synthetic import sample_video_frames
>>> frames = sample_video_frames(6, size=(64, 48))
>>> afd = np.stack(list(make_afd(frames, seed=0)))
>>> afd.shape, afd.dtype.name
((6, 48, 64, 3), 'uint8')
"""

from motionlab.afd.dataset import (
    AFD5_CLASSES,
    DatasetProgress,
    DatasetResult,
    make_afd_dataset,
    video_seed,
)
from motionlab.afd.make import (
    AFD_DIS_PRESET,
    DEFAULT_DENSITY,
    DEFAULT_MODE,
    AFDConfig,
    AFDStep,
    afd_from_flows,
    afd_steps,
    frames_with_flow,
    make_afd,
)
from motionlab.afd.noise import (
    AdvectedNoise,
    NoiseRange,
    occlusion_mask,
    sample_nearest,
    uniform_noise,
    video_mean_std_stream,
)
from motionlab.afd.stream import AFDSource
from motionlab.afd.write import write_afd

__all__ = [
    "AFD5_CLASSES",
    "AFD_DIS_PRESET",
    "DEFAULT_DENSITY",
    "DEFAULT_MODE",
    "AFDConfig",
    "AFDSource",
    "AFDStep",
    "AdvectedNoise",
    "DatasetProgress",
    "DatasetResult",
    "NoiseRange",
    "afd_from_flows",
    "afd_steps",
    "frames_with_flow",
    "make_afd",
    "make_afd_dataset",
    "occlusion_mask",
    "sample_nearest",
    "uniform_noise",
    "video_mean_std_stream",
    "video_seed",
    "write_afd",
]
