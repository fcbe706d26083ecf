"""Storage of participants, trials, phase times and questionnaires (SQLAlchemy).

One schema for SQLite (the default: one file, nothing to run) and PostgreSQL (give a URL
such as ``postgresql+psycopg://user@host/db`` for a multi-site study). Every answer is
written in its own transaction the moment it arrives. Submissions are idempotent: a trial
is identified by (participant, phase, trial index), which is a unique key; sending the same
answer twice stores it once, and a different answer for an already answered trial is
refused (:class:`Conflict`). Phase changes are compare-and-set updates, so two tabs of one
participant can never skip a phase. Times are stored as Unix epoch milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from motionlab.errors import MotionlabError


def now_ms() -> int:
    """The server's clock, Unix epoch milliseconds."""
    return int(time.time() * 1000)


def hash_token(token: str) -> str:
    """Tokens are stored hashed: a leaked database does not let anyone write as a participant."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Base(DeclarativeBase):
    pass


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    plan: Mapped[str] = mapped_column(Text)  # JSON, see motionlab.study.protocol
    phase_index: Mapped[int] = mapped_column(Integer, default=0)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    consent_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    completed_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    user_agent: Mapped[str] = mapped_column(String(512), default="")
    #: Parameters of the participant's link (recruitment platforms: STUDY_ID, SESSION_ID,
    #: ...), as JSON.
    url_params: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    #: The browser checks' measurements at the start (window size, refresh rate, ...), JSON.
    client_info: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    #: A pilot run (shortened phases): kept out of the report unless asked for.
    pilot: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    def plan_dict(self) -> dict[str, Any]:
        return json.loads(self.plan)


class Event(Base):
    """Something that happened to a participant's session besides answers (full-screen
    exits and returns), with the client's and the server's clock."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    phase_index: Mapped[int] = mapped_column(Integer)
    trial_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    client_ms: Mapped[int] = mapped_column(BigInteger)
    server_ms: Mapped[int] = mapped_column(BigInteger)


class PhaseLog(Base):
    """When each phase started and ended for a participant (server clock)."""

    __tablename__ = "phase_log"
    __table_args__ = (UniqueConstraint("participant_id", "phase_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    phase_index: Mapped[int] = mapped_column(Integer)
    phase_name: Mapped[str] = mapped_column(String(64))
    started_ms: Mapped[int] = mapped_column(BigInteger)
    finished_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Trial(Base):
    """One answer: a row of the long-format export."""

    __tablename__ = "trials"
    __table_args__ = (UniqueConstraint("participant_id", "phase_index", "trial_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    phase_index: Mapped[int] = mapped_column(Integer)
    phase_name: Mapped[str] = mapped_column(String(64))
    phase_kind: Mapped[str] = mapped_column(String(16))
    modality: Mapped[str] = mapped_column(String(32))
    trial_index: Mapped[int] = mapped_column(Integer)
    stimulus: Mapped[str] = mapped_column(String(512))
    stimulus_key: Mapped[str] = mapped_column(String(32))
    truth: Mapped[str] = mapped_column(String(64))
    choice: Mapped[str] = mapped_column(String(64))
    correct: Mapped[bool] = mapped_column(Boolean)
    rt_ms: Mapped[float] = mapped_column(Float)
    loops: Mapped[int] = mapped_column(Integer)
    frames_shown: Mapped[int] = mapped_column(Integer)
    fps: Mapped[float] = mapped_column(Float)
    client_ms: Mapped[int] = mapped_column(BigInteger)
    server_ms: Mapped[int] = mapped_column(BigInteger)
    submission_id: Mapped[str] = mapped_column(String(64))
    #: How the answer was given: "click" (or touch) on a class button, or "key".
    response: Mapped[str] = mapped_column(String(8), default="click", server_default="click")
    #: A catch trial (a clip with a known answer; :class:`~motionlab.study.config.AttentionChecks`).
    attention_check: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


#: Columns added after a table's first release: (table, column, SQL type and default).
#: :meth:`Store.__init__` adds any that an existing database lacks, so a study that was
#: started with an older motionlab keeps its answers and goes on.
_ADDED_COLUMNS = (
    ("trials", "response", "VARCHAR(8) NOT NULL DEFAULT 'click'"),
    ("participants", "url_params", "TEXT NOT NULL DEFAULT '{}'"),
    ("participants", "pilot", "BOOLEAN NOT NULL DEFAULT FALSE"),
    ("trials", "attention_check", "BOOLEAN NOT NULL DEFAULT FALSE"),
    ("participants", "client_info", "TEXT NOT NULL DEFAULT '{}'"),
)
#: One participant id (a recruitment platform's, e.g. PROLIFIC_PID) starts the study once.
#: NULLs (no id given) may repeat, in SQLite and PostgreSQL alike.
_UNIQUE_EXTERNAL_ID = (
    "CREATE UNIQUE INDEX IF NOT EXISTS ux_participants_external_id ON participants (external_id)"
)


def _add_missing_columns(engine: Engine) -> None:
    from sqlalchemy import text

    inspector = inspect(engine)
    with engine.begin() as conn:
        for table, column, ddl in _ADDED_COLUMNS:
            have = {c["name"] for c in inspector.get_columns(table)}
            if column not in have:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))
    try:
        with engine.begin() as conn:
            conn.execute(text(_UNIQUE_EXTERNAL_ID))
    except IntegrityError:
        # a database of an older version in which one id started twice: keep its data; new
        # duplicates are still refused by create_participant's check
        logging.getLogger(__name__).warning(
            "participant ids repeat in this database; cannot add the unique index"
        )


class Questionnaire(Base):
    """The closing questionnaire (thesis appendix, Fig. A.4)."""

    __tablename__ = "questionnaires"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), unique=True)
    colour_vision_deficiency: Mapped[str] = mapped_column(String(8))
    short_sighted: Mapped[str] = mapped_column(String(8))
    owns_glasses: Mapped[str] = mapped_column(String(8))
    wearing_glasses: Mapped[str] = mapped_column(String(8))
    sees_monitor_sharply: Mapped[str] = mapped_column(String(8))
    familiarity_computer_vision: Mapped[int] = mapped_column(Integer)
    familiarity_action_recognition: Mapped[int] = mapped_column(Integer)
    difficulty: Mapped[str] = mapped_column(Text)  # JSON {class: 1..3}
    remarks: Mapped[str] = mapped_column(Text, default="")
    server_ms: Mapped[int] = mapped_column(BigInteger)


class Conflict(Exception):
    """A request that contradicts what is stored (HTTP 409)."""


class Invalid(Exception):
    """A request that does not fit the participant's plan or state (HTTP 400/422)."""


@dataclass
class NewParticipant:
    participant: Participant
    token: str


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode and a busy timeout for concurrent writers."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        # Transactions start with BEGIN IMMEDIATE: a deferred read transaction that later
        # writes fails at once in WAL mode when another writer got in first (SQLITE_BUSY
        # is not retried then); immediate ones queue on the busy timeout instead.
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            write = conn.get_execution_options().get("motionlab_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    try:
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    except Exception as exc:  # bad URL, missing driver
        raise MotionlabError(f"cannot use database {url!r}: {exc}") from None


def sqlite_url(path) -> str:
    return f"sqlite:///{path}"


def redact(url: str) -> str:
    """``url`` with its password hidden (for messages)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"


def _sqlite_database(url: str) -> str | None:
    """The database part of an SQLite URL ('' or ':memory:' in memory); None otherwise."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:
        return None
    return (u.database or "") if u.get_backend_name() == "sqlite" else None


def _is_sqlite_file(path: Path) -> bool:
    """True if ``path`` starts with SQLite's 16-byte header."""
    try:
        with path.open("rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def sqlite_file(url: str) -> Path | None:
    """The file of an ``sqlite:///path`` URL; None for other databases, in-memory SQLite
    (``sqlite://``) and ``file:`` URIs."""
    db = _sqlite_database(url)
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


class Store:
    """All reads and writes of the study's database.

    Parameters
    ----------
    url : str
        SQLAlchemy URL: ``sqlite:///study.db`` (default of ``motionlab study serve``) or
        ``postgresql+psycopg://user:password@host:5432/db``.
    create : bool
        Create the database and its tables if missing (the server, the simulation). False
        for readers (export, report): a missing SQLite file is refused before connecting
        (connecting would create an empty one) and a database without the study's tables
        is refused too, so a wrong path never "works" with an empty export.

    Raises
    ------
    MotionlabError
        The database cannot be opened, or (``create=False``) does not exist or holds no
        study.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        if not create:
            path = sqlite_file(url)
            if _sqlite_database(url) in ("", ":memory:"):
                raise MotionlabError(f"{url}: an in-memory database holds no study")
            if path is not None and not path.is_file():
                raise MotionlabError(
                    f"{path}: no such study database (motionlab study serve creates it; "
                    "check --db or --config)"
                )
            if path is not None and not _is_sqlite_file(path):  # before SQLite writes to it
                raise MotionlabError(f"{path}: not a motionlab study database (not SQLite)")
        self.engine = make_engine(url)
        try:
            if create:
                Base.metadata.create_all(self.engine)
                _add_missing_columns(self.engine)
            else:
                found = set(inspect(self.engine).get_table_names())
        except Exception as exc:
            self.engine.dispose()
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MotionlabError(f"cannot open database {redact(url)}: {msg}") from None
        if not create:
            missing = sorted(set(Base.metadata.tables) - found)
            if missing:
                self.engine.dispose()
                raise MotionlabError(
                    f"{redact(url)} is not a motionlab study database (no table "
                    f"{', '.join(missing)})"
                )
            # a study database of an older version: add the columns this one reads
            try:
                _add_missing_columns(self.engine)
            except Exception as exc:
                self.engine.dispose()
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise MotionlabError(
                    f"cannot bring {redact(url)} up to this version's columns: {msg}"
                ) from None
        # Reads use plain transactions; writes are marked so SQLite begins them IMMEDIATE.
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(motionlab_write=True), expire_on_commit=False
        )

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction, committed at the end of the ``with`` block."""
        with self._write_sessions() as s, s.begin():
            yield s

    # -- participants ------------------------------------------------------------
    def create_participant(
        self,
        *,
        seed: int,
        plan: dict[str, Any],
        external_id: str | None = None,
        user_agent: str = "",
        url_params: dict[str, str] | None = None,
        pilot: bool = False,
        client_info: dict[str, Any] | None = None,
    ) -> NewParticipant:
        """A new participant at phase 0, with a fresh token.

        Raises
        ------
        Conflict
            ``external_id`` has already started the study (a participant id starts once).
        """
        token = secrets.token_urlsafe(32)
        t = now_ms()
        p = Participant(
            public_id=secrets.token_hex(8),
            token_hash=hash_token(token),
            external_id=external_id,
            seed=seed,
            plan=json.dumps(plan),
            phase_index=0,
            created_ms=t,
            user_agent=user_agent[:512],
            url_params=json.dumps(url_params or {}, sort_keys=True),
            pilot=pilot,
            client_info=json.dumps(client_info or {}, sort_keys=True),
        )
        taken = Conflict(f"participant id {external_id!r} has already started this study")
        try:
            with self.session() as s:
                if (
                    external_id is not None
                    and s.execute(
                        select(Participant.id).where(Participant.external_id == external_id)
                    ).first()
                ):
                    raise taken
                s.add(p)
                s.flush()
                s.add(
                    PhaseLog(
                        participant_id=p.id,
                        phase_index=0,
                        phase_name=plan["phases"][0]["name"],
                        started_ms=t,
                    )
                )
        except IntegrityError:
            # a concurrent start with the same id won the race (the unique index); a token
            # or public id collision (2^-128) would land here too and is equally refused
            raise taken from None
        return NewParticipant(p, token)

    def n_participants(self) -> int:
        """How many participants have started the study."""
        with self.sessions() as s:
            return s.scalar(select(func.count()).select_from(Participant))

    def n_completed(self) -> int:
        """How many participants have completed the study."""
        with self.sessions() as s:
            return s.scalar(
                select(func.count())
                .select_from(Participant)
                .where(Participant.completed_ms.is_not(None))
            )

    def participant_by_token(self, token: str) -> Participant | None:
        if not token or len(token) > 256:
            return None
        with self.sessions() as s:
            return s.scalar(select(Participant).where(Participant.token_hash == hash_token(token)))

    def participant(self, pid: int) -> Participant | None:
        with self.sessions() as s:
            return s.get(Participant, pid)

    def phase_started_ms(self, pid: int, phase_index: int) -> int | None:
        with self.sessions() as s:
            return s.scalar(
                select(PhaseLog.started_ms).where(
                    PhaseLog.participant_id == pid, PhaseLog.phase_index == phase_index
                )
            )

    def answered(self, pid: int, phase_index: int) -> list[Trial]:
        with self.sessions() as s:
            return list(
                s.scalars(
                    select(Trial)
                    .where(Trial.participant_id == pid, Trial.phase_index == phase_index)
                    .order_by(Trial.trial_index)
                )
            )

    def n_answered(self, pid: int, phase_index: int) -> int:
        """How many trials of the phase the participant has answered."""
        with self.sessions() as s:
            return self.count_answered(s, pid, phase_index)

    def count_answered(self, s: Session, pid: int, phase_index: int) -> int:
        return s.scalar(
            select(func.count())
            .select_from(Trial)
            .where(Trial.participant_id == pid, Trial.phase_index == phase_index)
        )

    # -- writes ------------------------------------------------------------------
    def record_trial(self, pid: int, **fields: Any) -> tuple[Trial, bool]:
        """Store one answer; return (row, duplicate).

        ``fields`` are the :class:`Trial` columns except ids and ``server_ms``. The caller
        has checked them against the plan. The trial must be the next unanswered one of
        the participant's current phase; resending a stored answer returns it with
        ``duplicate=True``; a different answer for a stored trial raises :class:`Conflict`.
        """
        phase_index, trial_index = fields["phase_index"], fields["trial_index"]
        for _attempt in range(3):
            try:
                with self.session() as s:
                    # one statement: the participant's phase and the phase's answer count
                    answered = (
                        select(func.count())
                        .select_from(Trial)
                        .where(Trial.participant_id == pid, Trial.phase_index == phase_index)
                        .scalar_subquery()
                    )
                    current, n = s.execute(
                        select(Participant.phase_index, answered).where(Participant.id == pid)
                    ).one()
                    if trial_index != n or current != phase_index:
                        # a resend of a stored answer (also one that a concurrent request
                        # committed a moment ago), or a trial out of turn
                        existing = self._trial(s, pid, phase_index, trial_index)
                        if existing is not None:
                            return self._same_or_conflict(existing, fields), True
                        if current != phase_index:
                            raise Conflict(
                                f"phase {phase_index} is not the participant's current phase "
                                f"({current})"
                            )
                        raise Conflict(f"trial {trial_index} is not the next trial ({n})")
                    row = Trial(participant_id=pid, server_ms=now_ms(), **fields)
                    s.add(row)
                    s.flush()
                    return row, False
            except IntegrityError:  # the same submission raced in from another request
                continue
        raise Conflict("could not store the trial; retry")  # pragma: no cover

    @staticmethod
    def _trial(s: Session, pid: int, phase_index: int, trial_index: int) -> Trial | None:
        return s.scalar(
            select(Trial).where(
                Trial.participant_id == pid,
                Trial.phase_index == phase_index,
                Trial.trial_index == trial_index,
            )
        )

    @staticmethod
    def _same_or_conflict(existing: Trial, fields: dict[str, Any]) -> Trial:
        if existing.stimulus_key != fields["stimulus_key"] or existing.choice != fields["choice"]:
            raise Conflict(
                f"trial {existing.trial_index} of phase {existing.phase_index} is already "
                f"answered with {existing.choice!r}"
            )
        return existing

    def advance(self, pid: int, from_phase: int, *, phase_names: list[str]) -> int:
        """Move the participant from phase ``from_phase`` to the next; idempotent.

        Returns the participant's phase index afterwards. Raises :class:`Conflict` if the
        participant is not yet at ``from_phase``.
        """
        t = now_ms()
        with self.session() as s:
            res = s.execute(
                update(Participant)
                .where(Participant.id == pid, Participant.phase_index == from_phase)
                .values(phase_index=from_phase + 1)
            )
            if res.rowcount == 1:
                s.execute(
                    update(PhaseLog)
                    .where(PhaseLog.participant_id == pid, PhaseLog.phase_index == from_phase)
                    .values(finished_ms=t)
                )
                nxt = from_phase + 1
                s.add(
                    PhaseLog(
                        participant_id=pid,
                        phase_index=nxt,
                        phase_name=phase_names[nxt],
                        started_ms=t,
                    )
                )
                if nxt == len(phase_names) - 1:
                    s.execute(
                        update(Participant).where(Participant.id == pid).values(completed_ms=t)
                    )
                return nxt
            current = s.scalar(select(Participant.phase_index).where(Participant.id == pid))
        if current is None or current < from_phase:
            raise Conflict(f"the participant is at phase {current}, not {from_phase}")
        return current

    def set_consent(self, pid: int) -> None:
        with self.session() as s:
            s.execute(
                update(Participant)
                .where(Participant.id == pid, Participant.consent_ms.is_(None))
                .values(consent_ms=now_ms())
            )

    def save_questionnaire(self, pid: int, answers: dict[str, Any]) -> bool:
        """Store the questionnaire once; return False if it was already stored (kept)."""
        try:
            with self.session() as s:
                if s.scalar(select(Questionnaire.id).where(Questionnaire.participant_id == pid)):
                    return False
                s.add(Questionnaire(participant_id=pid, server_ms=now_ms(), **answers))
                s.flush()
        except IntegrityError:
            return False
        return True

    def has_questionnaire(self, pid: int) -> bool:
        with self.sessions() as s:
            return (
                s.scalar(select(Questionnaire.id).where(Questionnaire.participant_id == pid))
                is not None
            )

    # -- reads for export and the dashboard ----------------------------------------
    def all_participants(self) -> list[Participant]:
        with self.sessions() as s:
            return list(s.scalars(select(Participant).order_by(Participant.id)))

    def all_trials(self) -> list[Trial]:
        with self.sessions() as s:
            return list(
                s.scalars(
                    select(Trial).order_by(
                        Trial.participant_id, Trial.phase_index, Trial.trial_index
                    )
                )
            )

    def all_questionnaires(self) -> list[Questionnaire]:
        with self.sessions() as s:
            return list(s.scalars(select(Questionnaire).order_by(Questionnaire.participant_id)))

    def add_event(
        self, pid: int, kind: str, *, phase_index: int, trial_index: int | None, client_ms: int
    ) -> None:
        with self.session() as s:
            s.add(
                Event(
                    participant_id=pid,
                    kind=kind,
                    phase_index=phase_index,
                    trial_index=trial_index,
                    client_ms=client_ms,
                    server_ms=now_ms(),
                )
            )

    def all_events(self) -> list[Event]:
        """Every event, per participant in the order it happened in the browser (client
        time; arrival as the tie-break): two requests sent close together, or a retried
        one, can reach the server in the other order."""
        with self.sessions() as s:
            order = (Event.participant_id, Event.client_ms, Event.id)
            return list(s.scalars(select(Event).order_by(*order)))

    def all_phase_logs(self) -> list[PhaseLog]:
        with self.sessions() as s:
            return list(
                s.scalars(select(PhaseLog).order_by(PhaseLog.participant_id, PhaseLog.phase_index))
            )

    def count_trials(self) -> int:
        with self.sessions() as s:
            return s.scalar(select(func.count()).select_from(Trial))
