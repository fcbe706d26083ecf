"""Human perception study: a web app in which people classify (appearance-free) videos,
its storage and its analysis (thesis §4.3, appendix A.2).

* :mod:`~motionlab.study.config` — the study TOML: classes, stimulus sources, phases;
* :mod:`~motionlab.study.protocol` — a participant's seeded plan;
* :mod:`~motionlab.study.stimuli` — the stimulus catalogue and lossless frame sheets;
* :mod:`~motionlab.study.storage` — SQLAlchemy storage (SQLite or PostgreSQL);
* :mod:`~motionlab.study.server` — the FastAPI app (``motionlab study serve``);
* :mod:`~motionlab.study.export`, :mod:`~motionlab.study.analysis` — CSV export and report;
* :mod:`~motionlab.study.demo`, :mod:`~motionlab.study.simulate` — synthetic studies and
  simulated participants.

The web parts need ``pip install 'motionlab[study]'``; importing this package does not.
"""

from motionlab._lazy import lazy_exports

_NAMES = {
    "export_study": "export",
    "make_demo_study": "demo",
    "read_trials": "analysis",
    "simulate_study": "simulate",
    "summarise": "analysis",
    "write_report": "analysis",
}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)
