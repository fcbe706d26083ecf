"""``motionlab study serve|export|report|demo|simulate``: the study's sub-commands.

Heavy imports (FastAPI, SQLAlchemy, uvicorn, matplotlib) happen inside the commands, so
``motionlab --help`` stays fast and works without the ``study`` extra.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from pathlib import Path

from motionlab.cli.options import int_type
from motionlab.errors import MotionlabError

log = logging.getLogger("motionlab")

ADMIN_TOKEN_ENV = "MOTIONLAB_STUDY_ADMIN_TOKEN"


def _need_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise MotionlabError(
            f"the study commands need the 'study' extra ({exc.name} is missing): "
            "pip install 'motionlab[study]'"
        ) from None


def default_db_url(config_path: Path) -> str:
    """``sqlite:///<config folder>/study.db``."""
    return f"sqlite:///{config_path.resolve().parent / 'study.db'}"


def _db_url(args: argparse.Namespace) -> str:
    if args.db:
        return args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}"
    if getattr(args, "config", None):
        return default_db_url(Path(args.config))
    raise MotionlabError("give --db URL (or --config study.toml for its default study.db)")


def _need_file(path: Path | None, what: str) -> None:
    """Refuse a missing (or non-file) input before anything is opened or created."""
    if path is None:
        return
    if not path.exists():
        raise MotionlabError(f"{path}: no such {what}")
    if not path.is_file():
        raise MotionlabError(f"{path}: is a folder, not a {what}")


def _db_inputs(args: argparse.Namespace) -> list[Path]:
    """The study files a reading command takes: its config and an SQLite database file."""
    from motionlab.study.storage import sqlite_file

    files = [Path(args.config)] if getattr(args, "config", None) else []
    if args.db or getattr(args, "config", None):
        db = sqlite_file(_db_url(args))
        if db is not None:
            files.append(db)
    return files


def cmd_serve(args: argparse.Namespace) -> None:
    """Run the study server under uvicorn."""
    _need_extra()
    import uvicorn

    from motionlab.study.config import load_config, with_rest
    from motionlab.study.server import (
        RateLimits,
        create_app,
        default_allowed_hosts,
        pilot_token,
    )
    from motionlab.study.stimuli import Catalogue
    from motionlab.study.storage import Store

    config = load_config(args.config)  # refuses a missing config before the database is made
    if args.rest_seconds is not None:
        config = with_rest(config, args.rest_seconds)
    url = _db_url(args)
    token = args.admin_token or os.environ.get(ADMIN_TOKEN_ENV) or secrets.token_urlsafe(24)
    if len(token) < 16:
        raise MotionlabError("the admin token must have at least 16 characters")
    cache = (
        Path(args.cache) if args.cache else Path(args.config).resolve().parent / ".stimulus-cache"
    )
    catalogue = Catalogue(config, cache_dir=cache)
    if not args.no_prepare:
        log.info("preparing %d stimuli (lossless frame sheets in %s)", len(catalogue), cache)
        catalogue.prepare()
    hosts = args.allowed_host or default_allowed_hosts(args.host, args.public_url)
    store = Store(url)
    for name in ("sessions_per_minute", "answers_per_second"):
        value = getattr(args, name)
        if not 0 <= value < float("inf"):  # also NaN
            raise MotionlabError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
    limits = RateLimits(
        sessions_burst=max(1, round(2 * args.sessions_per_minute)),
        sessions_per_minute=args.sessions_per_minute,
        answers_burst=max(1, round(6 * args.answers_per_second)),
        answers_per_second=args.answers_per_second,
    )
    app = create_app(
        config, store, catalogue, admin_token=token, allowed_hosts=hosts, limits=limits
    )
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base = args.public_url.rstrip("/") if args.public_url else f"http://{shown_host}:{args.port}"
    print(f"study:       {config.title} ({len(catalogue)} stimuli, database {_redact(url)})")
    print(f"participant: {base}/")
    print(f"admin:       {base}/admin#token={token}")
    print(f"admin token: {token}")
    print(f"pilot:       {base}/?pilot={pilot_token(token)}  (shortened, marked pilot)")
    print(f"hosts:       {', '.join(hosts)} (other Host headers get 400)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning" if args.quiet else "info")


def _redact(url: str) -> str:
    """Hide a password in a database URL."""
    from motionlab.study.storage import redact

    return redact(url)


def cmd_export(args: argparse.Namespace) -> None:
    """Export the tables of an existing study database (never creates one)."""
    _need_extra()
    from motionlab.atomic import refuse_overwrite_input
    from motionlab.study.export import TABLES, export_study

    _need_file(args.config, "study config file")
    if args.config:  # a broken config is a wrong file: say so, not "no database beside it"
        from motionlab.study.config import load_config

        load_config(args.config)
    url = _db_url(args)
    refuse_overwrite_input(args.output, *_db_inputs(args), writes=[f"{t}.csv" for t in TABLES])
    paths = export_study(url, args.output)
    from motionlab.provenance import record, write_manifest

    rec = record(inputs=_db_inputs(args), database=_redact(url), tables=sorted(paths))
    paths["provenance"] = write_manifest(args.output, rec)  # OUT/motionlab.json
    for name, path in paths.items():
        log.info("wrote %s (%s)", path, name)


def cmd_report(args: argparse.Namespace) -> None:
    """Analyse an export or an existing database; every file it reads must exist."""
    from motionlab.atomic import refuse_overwrite_input
    from motionlab.study import analysis

    _need_file(args.config, "study config file")
    _need_file(args.trials, "file (--trials)")
    _need_file(args.questionnaires, "file (--questionnaires)")
    _need_file(args.model_predictions, "file (--model-predictions)")
    if args.questionnaires and not args.trials:
        raise MotionlabError("--questionnaires goes with --trials (a database holds its own)")
    inputs = [args.trials, args.questionnaires, args.model_predictions]
    if not args.trials:
        inputs += _db_inputs(args)
    elif args.config:
        inputs.append(args.config)
    from motionlab.provenance import REPORT_SIDECAR, record, write_sidecar

    refuse_overwrite_input(args.output, *inputs, writes=(*analysis.REPORT_FILES, REPORT_SIDECAR))
    classes = None
    min_attention = 1.0
    if args.config:
        from motionlab.study.config import load_config

        config = load_config(args.config)
        classes = list(config.classes)
        if config.attention is not None:
            min_attention = config.attention.min_accuracy
    if args.min_attention is not None:
        if not 0 <= args.min_attention <= 1:
            raise MotionlabError(f"--min-attention must be in 0..1, got {args.min_attention}")
        min_attention = args.min_attention
    questionnaires = None
    if args.trials:
        trials = analysis.read_trials(args.trials)
        if args.questionnaires:
            questionnaires = analysis.read_questionnaires(args.questionnaires)
    else:
        _need_extra()
        trials, questionnaires = analysis.load_from_db(_db_url(args))
    preds = analysis.read_predictions(args.model_predictions) if args.model_predictions else None
    files = analysis.write_report(
        trials,
        args.output,
        questionnaires=questionnaires,
        predictions=preds,
        classes=classes,
        include_pilot=args.include_pilot,
        min_attention=min_attention,
    )
    settings = {"classes": classes, "include_pilot": args.include_pilot,
                "min_attention": min_attention}  # fmt: skip
    if not args.trials:
        settings["database"] = _redact(_db_url(args))
    write_sidecar(files["markdown"], record(inputs=inputs, settings=settings))
    log.info("wrote %s and %s", files["markdown"], files["html"])


def cmd_demo(args: argparse.Namespace) -> None:
    from motionlab.atomic import check_output_target, removing_new_empty_folders
    from motionlab.study.demo import make_demo_study

    check_output_target(args.folder, directory=True)
    with removing_new_empty_folders(args.folder):
        path = make_demo_study(
            args.folder,
            per_class=args.per_class,
            frames=args.frames,
            size=args.size,
            rest_seconds=args.rest_seconds,
            seed=args.seed,
        )
    print(f"wrote {path}; run: motionlab study serve --config {path}")


def cmd_simulate(args: argparse.Namespace) -> None:
    _need_extra()
    from fastapi.testclient import TestClient

    from motionlab.study.config import load_config, with_rest
    from motionlab.study.server import create_app
    from motionlab.study.simulate import simulate_study
    from motionlab.study.stimuli import Catalogue
    from motionlab.study.storage import Store

    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = with_rest(load_config(args.config), 0)
    cache = Path(args.config).resolve().parent / ".stimulus-cache"
    app = create_app(
        config,
        Store(_db_url(args)),
        Catalogue(config, cache_dir=cache),
        admin_token=secrets.token_urlsafe(24),
        limits=None,  # simulated participants, in process: no one to protect the server from
    )
    with TestClient(app) as client:
        results = simulate_study(client, args.participants, seed=args.seed)
    log.info("%d simulated participants, %d answers", len(results), sum(r.answers for r in results))


def _add_serve(s: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``serve``."""

    p = s.add_parser(
        "serve",
        help="run the study server (prints the participant link and the admin token)",
        description="Serve the study described by a TOML config under uvicorn. Answers go to "
        "--db (default: study.db beside the config). The admin token guards the dashboard "
        f"(/admin) and the export; give it with --admin-token or ${ADMIN_TOKEN_ENV}, or a new "
        "one is made and printed.",
    )
    p.add_argument("--config", required=True, type=Path, help="study.toml")
    p.add_argument("--db", help="SQLAlchemy URL or SQLite file (default: study.db beside config)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int_type(0, 65535), default=8000, help="port (default 8000)")
    p.add_argument("--admin-token", help=f"admin token (default: ${ADMIN_TOKEN_ENV} or a new one)")
    p.add_argument("--public-url", help="base URL participants use, if behind a proxy")
    p.add_argument(
        "--sessions-per-minute",
        type=float,
        default=30.0,
        help="new sessions per client address and minute, bursts of twice that (default 30; "
        "0: no limit)",
    )
    p.add_argument(
        "--answers-per-second",
        type=float,
        default=5.0,
        help="answers per participant and second, bursts of 6x that (default 5; 0: no limit)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        metavar="HOST",
        help="a host name the server answers to (repeat for more; '*.example.org' for "
        "sub-domains, '*' for any; replaces the default); requests naming another host in "
        "their Host header get 400. Default: the --host it listens on (with localhost for "
        "127.0.0.1; the machine's names and addresses for 0.0.0.0) and the --public-url host",
    )
    p.add_argument("--cache", help="folder for the frame sheets (default .stimulus-cache/)")
    p.add_argument(
        "--no-prepare",
        action="store_true",
        help="make frame sheets on first request instead of at start",
    )
    p.add_argument(
        "--rest-seconds", type=int_type(0), help="override the rest phases' length (pilots)"
    )
    p.set_defaults(func=cmd_serve)


def _add_export(s: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``export``."""

    p = s.add_parser("export", help="write trials.csv, questionnaires.csv, ... from the database")
    p.add_argument("--db", help="SQLAlchemy URL or SQLite file")
    p.add_argument("--config", type=Path, help="study.toml (its default study.db)")
    p.add_argument("-o", "--output", required=True, type=Path, help="output folder")
    p.set_defaults(func=cmd_export)


def _add_report(s: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``report``."""

    p = s.add_parser(
        "report",
        help="accuracy, confusion matrices, response times: PNG figures + Markdown/HTML",
        description="Analyse a study from its database (--db/--config) or an exported "
        "trials.csv (--trials) and write figures, report.md and report.html.",
    )
    p.add_argument("--db", help="SQLAlchemy URL or SQLite file")
    p.add_argument("--config", type=Path, help="study.toml (class order; its default study.db)")
    p.add_argument("--trials", type=Path, help="trials.csv from motionlab study export")
    p.add_argument("--questionnaires", type=Path, help="questionnaires.csv (with --trials)")
    p.add_argument(
        "--model-predictions",
        type=Path,
        help="CSV truth,prediction[,modality]: the model's confusion matrix too",
    )
    p.add_argument(
        "--include-pilot",
        action="store_true",
        help="use pilot runs' answers too (default: left out)",
    )
    p.add_argument(
        "--min-attention",
        type=float,
        help="exclude participants below this attention-check accuracy, 0..1 (default: the "
        "config's [attention] min_accuracy, else 1.0)",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="output folder")
    p.set_defaults(func=cmd_report)


def _add_demo(s: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``demo``."""
    from motionlab.cli.options import size_type

    p = s.add_parser(
        "demo",
        help="write a small synthetic study (clips + AFD clips + study.toml)",
        description="Synthetic 'actions' (a disc moving right, left, up, down), their "
        "appearance-free versions and a study.toml with the thesis's protocol.",
    )
    p.add_argument("folder", type=Path)
    p.add_argument("--per-class", type=int_type(1), default=8, help="clips per class (default 8)")
    p.add_argument("--frames", type=int, default=16, help="frames per clip (default 16)")
    p.add_argument("--size", type=size_type, default=(96, 72), metavar="WxH", help="96x72")
    p.add_argument("--rest-seconds", type=int_type(0), default=20, help="rest length (default 20)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)


def _add_simulate(s: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``simulate``."""

    p = s.add_parser(
        "simulate",
        help="fill a database with simulated participants (for trying the report)",
    )
    p.add_argument("--config", required=True, type=Path)
    p.add_argument("--db", help="SQLAlchemy URL or SQLite file (default: study.db beside config)")
    p.add_argument("--participants", type=int_type(1), default=10)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_simulate)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``motionlab study ...`` to the ``motionlab`` command."""
    study = sub.add_parser(
        "study",
        help="human perception study: web app, export, report",
        description="Run a web study in which people classify (appearance-free) videos, "
        "export its answers and make a report. Needs pip install 'motionlab[study]'.",
    )
    s = study.add_subparsers(dest="study_command", metavar="STUDY_COMMAND", required=True)
    _add_serve(s)
    _add_export(s)
    _add_report(s)
    _add_demo(s)
    _add_simulate(s)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: motionlab study ...")
