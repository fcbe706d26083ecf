"""The ``motionlab`` command line, above every capability (no capability imports it).

:mod:`motionlab.cli.app`
    the root parser (:func:`build_parser`), :func:`main` and the one-line error reports.
:mod:`motionlab.cli.options`
    option types and the option groups shared by the commands (input frames, optical
    flow, noise, audio, progress).
one module per command family
    :mod:`~motionlab.cli.flow` (``flow``), :mod:`~motionlab.cli.afd` (``afd``,
    ``afd-dataset``), :mod:`~motionlab.cli.video` (``sample-video``, ``info``,
    ``convert``), :mod:`~motionlab.cli.privacy`, :mod:`~motionlab.cli.recognition`,
    :mod:`~motionlab.cli.stvi`, :mod:`~motionlab.cli.study`, :mod:`~motionlab.cli.tools`
    (``doctor``, ``completion``). Each has ``register(sub)`` and ``cmd_*`` functions that
    parse options and call the capability's functions or ``write_*`` drivers.
"""

from motionlab.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
