"""motionlab: motion as a first-class citizen of video understanding.

The same functions behind the ``motionlab`` command (also ``python -m motionlab``), by
capability. ``import motionlab`` is light: each sub-package imports torch, web frameworks
or MediaPipe only when a function that needs them runs. ``motionlab doctor`` says which
optional parts are installed here.

Video I/O -- :mod:`motionlab.video`
    ``VideoReader``, ``VideoWriter``, ``read_video``, ``write_video``, ``probe``,
    ``read_metadata``, ``write_gif``; synthetic clips: ``motionlab.synthetic.sample_video_frames``.
Optical flow -- :mod:`motionlab.flow`
    ``get_estimator(name)``, ``list_methods()``, ``estimate``, ``video_flow``,
    ``read_flo``/``write_flo``, ``flow_to_color``, ``endpoint_error``.
Appearance-free video -- :mod:`motionlab.afd`
    ``AFDConfig``, ``make_afd``, ``afd_steps``, ``afd_from_flows``; file to file:
    ``write_afd``; whole datasets: ``make_afd_dataset``; on the fly: ``AFDSource``.
Privacy obfuscation -- :mod:`motionlab.privacy` (extra ``privacy``)
    ``obfuscate``, ``obfuscate_steps``, ``ObfuscationConfig``, ``write_obfuscation``
    (file to file), ``get_matcher`` /
    ``list_matchers`` (``landmarks``, ``dino``), baselines ``pixelate``, ``blur``,
    ``mask_region``.
Action recognition -- :mod:`motionlab.recognition` (extra ``recognition``)
    zoo: ``zoo.list_models``, ``zoo.get_spec``, ``zoo.build_model``; ``train.train``,
    ``train.evaluate``, ``train.load_checkpoint``; data: ``data.ClipDataset``,
    ``synth_actions.make_synth_actions``; motion reliance: ``diagnose.reliance_row``.
Space-time volumes of interest -- :mod:`motionlab.stvi`
    ``tubes.stvi``, ``tubes.compute_flows``, ``io.write_result``,
    ``evaluate.evaluate_labels``.
Perception study -- :mod:`motionlab.study` (extra ``study``)
    ``demo.make_demo_study``, ``simulate.simulate_study``, ``export.export_study``,
    ``analysis.read_trials``; the web app: ``motionlab study serve``.
Progress, provenance and environment -- :mod:`motionlab.progress`,
:mod:`motionlab.provenance`, :mod:`motionlab.doctor`
    ``progress.Progress`` (bar / log lines / JSON lines);
    ``provenance.record``, ``provenance.read`` (what ``motionlab info`` prints);
    ``doctor.diagnose``.

Errors caused by input raise :class:`MotionlabError` (the command prints its one line).

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
