"""The study server: a FastAPI (ASGI) app, run by ``motionlab study serve`` under uvicorn.

Pages: ``/`` is the participant's single-page app (``static/app.js``), ``/admin`` the
dashboard. The JSON API:

==========================================  ==========  ==================================
``POST /api/session``                       none        a new participant; returns the token
``GET  /api/state``                         participant where the participant is, what to show
``POST /api/consent``                       participant consent given; next phase
``POST /api/advance``                       participant leave phase N (idempotent)
``POST /api/trials``                        participant one answer (idempotent)
``POST /api/questionnaire``                 participant the closing questionnaire (once)
``GET  /api/stimuli/{key}.json|.png``       participant a stimulus of the own plan
``GET  /api/admin/summary``                 admin       dashboard data
``GET  /api/admin/export/{table}.csv``      admin       trials, questionnaires, participants
==========================================  ==========  ==================================

Tokens travel in ``Authorization: Bearer ...``. A participant token only reads and writes
that participant's own plan and trials; the admin token is never a participant's. Every
body is a strict pydantic model (unknown fields, wrong types, out-of-range values: 422);
bodies over 64 KiB get 413; answers that contradict the stored ones get 409. With
``allowed_hosts`` (``motionlab study serve`` always gives them: by default the host it was
started on), a request whose ``Host`` header names another host gets 400: a web page on
another site cannot reach the server through DNS rebinding.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from motionlab import __version__
from motionlab.study.config import Phase, Requirements, StudyConfig
from motionlab.study.export import export_tables
from motionlab.study.protocol import make_plan, new_seed
from motionlab.study.stimuli import Catalogue
from motionlab.study.storage import Conflict, Participant, Store, now_ms

log = logging.getLogger("motionlab.study")

MAX_BODY = 64 * 1024
KEY_PATTERN = r"^[0-9a-f]{20}$"
#: The only files served from the package's static folder (no path is ever joined).
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "admin.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
CSP = (
    "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
#: Grace given to a rest countdown measured on the client (ms).
REST_TOLERANCE_MS = 1500


# --------------------------------------------------------------------------------------
# request bodies: strict, no unknown fields


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


_PARAM_NAME = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$")]
_PARAM_VALUE = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:@\-]{0,128}$")]


class ClientInfo(_Body):
    """What the page measured before the session (see :class:`Requirements`)."""

    width: int = Field(ge=0, le=100_000)
    height: int = Field(ge=0, le=100_000)
    refresh_hz: float = Field(ge=0, le=1000, allow_inf_nan=False)
    webgl: bool
    screen_width: int = Field(0, ge=0, le=100_000)
    screen_height: int = Field(0, ge=0, le=100_000)
    pixel_ratio: float = Field(1.0, ge=0, le=100, allow_inf_nan=False)


class EventBody(_Body):
    kind: Literal["fullscreen_exit", "fullscreen_enter"]
    phase_index: int = Field(ge=0, le=10_000)
    trial_index: int | None = Field(None, ge=0, le=1_000_000)
    client_ms: int = Field(ge=0, le=10**14)


def failed_requirements(req: Requirements, info: ClientInfo | None) -> list[str]:
    """Why a browser does not meet ``req`` (empty: it does). Mirrors the page's own check."""
    if info is None:
        needed = req.min_width or req.min_height or req.min_refresh_hz or req.webgl
        return ["the browser checks did not run (reload the page)"] if needed else []
    why = []
    if info.width < req.min_width or info.height < req.min_height:
        why.append(
            f"the window is {info.width}x{info.height} pixels; the study needs at least "
            f"{req.min_width}x{req.min_height}"
        )
    if info.refresh_hz < req.min_refresh_hz:
        why.append(
            f"the screen refreshes about {info.refresh_hz:.0f} times a second; the study "
            f"needs {req.min_refresh_hz:.0f}"
        )
    if req.webgl and not info.webgl:
        why.append("the browser has no WebGL")
    return why


class SessionBody(_Body):
    """A new participant: the id from the link (``PROLIFIC_PID`` or ``pid``) and the link's
    other parameters (``STUDY_ID``, ``SESSION_ID``, ...), stored as given."""

    external_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:@\-]{1,128}$")
    url_params: dict[_PARAM_NAME, _PARAM_VALUE] = Field(default_factory=dict, max_length=16)
    pilot: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    client_info: ClientInfo | None = None


class PhaseBody(_Body):
    phase_index: int = Field(ge=0, le=10_000)


class ConsentBody(PhaseBody):
    agree: Literal[True]


class TrialBody(_Body):
    phase_index: int = Field(ge=0, le=10_000)
    trial_index: int = Field(ge=0, le=1_000_000)
    stimulus: str = Field(pattern=KEY_PATTERN)
    choice: str = Field(min_length=1, max_length=64)
    rt_ms: float = Field(ge=0, le=24 * 3600 * 1000, allow_inf_nan=False)
    loops: int = Field(ge=0, le=10_000_000)
    frames_shown: int = Field(ge=0, le=1_000_000_000)
    fps: float = Field(gt=0, le=1000, allow_inf_nan=False)
    client_ms: int = Field(ge=0, le=10**14)
    submission_id: str = Field(pattern=r"^[A-Za-z0-9\-]{8,64}$")
    response: Literal["click", "key"] = "click"


YesNo = Literal["yes", "no"]
YesNoUnsure = Literal["yes", "no", "unsure"]


class QuestionnaireBody(_Body):
    """Thesis appendix, Fig. A.4."""

    colour_vision_deficiency: YesNoUnsure
    short_sighted: YesNoUnsure
    owns_glasses: YesNo
    wearing_glasses: YesNo
    sees_monitor_sharply: YesNo
    familiarity_computer_vision: int = Field(ge=1, le=5)
    familiarity_action_recognition: int = Field(ge=1, le=5)
    difficulty: dict[str, Annotated[int, Field(ge=1, le=3)]]
    remarks: str = Field("", max_length=4000)


# --------------------------------------------------------------------------------------
# the app


class StudyApp:
    """The state behind the routes: config, catalogue, store, admin token."""

    def __init__(
        self, config: StudyConfig, store: Store, catalogue: Catalogue, admin_token: str
    ) -> None:
        if len(admin_token) < 16:
            raise ValueError("the admin token must have at least 16 characters")
        self.config = config
        self.store = store
        self.catalogue = catalogue
        self.admin_token = admin_token
        #: The secret of the pilot link: derived from the admin token, so only whoever holds
        #: that can hand out pilot links, and a participant cannot shorten their own study.
        self.pilot_token = pilot_token(admin_token)
        self._by_name = {p.name: p for p in config.phases}
        self._plans: dict[int, dict[str, Any]] = {}
        self._plans_lock = threading.Lock()

    def phases(self, p: Participant) -> list[Phase]:
        """The participant's phases, in the participant's order (see :func:`make_plan`)."""
        return self.plan(p)["_phases"]

    def phase_names(self, p: Participant) -> list[str]:
        return self.plan(p)["_names"]

    def plan(self, p: Participant) -> dict[str, Any]:
        with self._plans_lock:
            plan = self._plans.get(p.id)
        if plan is None:
            plan = p.plan_dict()
            plan["keys"] = {i["stimulus"] for ph in plan["phases"] for i in ph["items"]}
            # the participant's phases in their order, with their (pilot: shortened) rests
            plan["_phases"] = [
                replace(self._by_name[ph["name"]], seconds=ph["seconds"]) for ph in plan["phases"]
            ]
            plan["_names"] = [ph["name"] for ph in plan["phases"]]
            plan.setdefault("answer_keys", list(self.config.keys))  # plans of older versions
            with self._plans_lock:
                if len(self._plans) > 10_000:
                    self._plans.clear()
                self._plans[p.id] = plan
        return plan


def pilot_token(admin_token: str) -> str:
    """The ``?pilot=`` value of the pilot link (HMAC-SHA256 of the admin token, 128 bits)."""
    return hmac.new(admin_token.encode(), b"motionlab pilot link", "sha256").hexdigest()[:32]


class _TooLarge(Exception):
    pass


class Guard:
    """ASGI middleware: security headers on every response, and request bodies over
    ``max_body`` bytes refused with 413 (or, when the excess shows only while FastAPI reads
    a chunked body, its 400). Plain ASGI: cheaper than ``@app.middleware("http")``."""

    HEADERS = (
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    )

    def __init__(self, app, *, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(self.HEADERS)
                if api and not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        too_large = JSONResponse({"detail": "request body too large"}, status_code=413)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await too_large(scope, receive, send_with_headers)
            return
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _TooLarge:
            await too_large(scope, receive, send_with_headers)


def host_of(header: str) -> str:
    """The host name of a ``Host`` header, lower-case, without port or IPv6 brackets
    (``"[::1]:8000"`` -> ``"::1"``, ``"Study.Example.org:443"`` -> ``"study.example.org"``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else ""
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def default_allowed_hosts(bind_host: str, public_url: str | None = None) -> list[str]:
    """The hosts ``motionlab study serve`` accepts unless told otherwise: the address it
    listens on (with ``localhost`` for a loopback address), or for all interfaces
    (``0.0.0.0``, ``::``) the machine's name, full name, loopback and the addresses its name
    resolves to; plus the host of ``public_url``. Other names (a second network card, a DNS
    alias) need ``--allowed-host``."""
    loopback = {"localhost", "127.0.0.1", "::1"}
    hosts: set[str] = set()
    if bind_host in ("0.0.0.0", "::", ""):
        names = {socket.gethostname(), socket.getfqdn()}
        hosts |= names | loopback
        for name in names:
            with contextlib.suppress(OSError):  # a name that does not resolve
                hosts |= {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
    else:
        hosts.add(host_of(bind_host) if bind_host.startswith("[") else bind_host)
        if hosts & loopback:
            hosts |= loopback
    if public_url:
        hosts.add(urlsplit(public_url).hostname or "")
    return sorted(h.lower() for h in hosts if h)


class HostGuard:
    """ASGI middleware: requests whose ``Host`` is not one of ``allowed`` get 400.

    Entries are host names or addresses (no port); ``*.example.org`` allows sub-domains and
    ``*`` everything.
    """

    def __init__(self, app, *, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = {h.lower().strip("[]") for h in allowed}
        self.suffixes = tuple(h[1:] for h in self.allowed if h.startswith("*."))

    def accepts(self, header: str) -> bool:
        if "*" in self.allowed:
            return True
        host = host_of(header)
        return bool(host) and (host in self.allowed or host.endswith(self.suffixes))

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            header = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not self.accepts(header):
                response = PlainTextResponse("host not allowed", status_code=400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise HTTPException(
            401, "missing Authorization: Bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401, "expected Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"}
        )
    return token.strip()


def _study(request: Request) -> StudyApp:
    return request.app.state.study


def participant(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Participant:
    """The participant whose token the request carries (401 otherwise)."""
    state = _study(request)
    token = _bearer(authorization)
    if secrets.compare_digest(token.encode("utf-8", "replace"), state.admin_token.encode()):
        raise HTTPException(403, "the admin token is not a participant's")
    p = state.store.participant_by_token(token)
    if p is None:
        raise HTTPException(401, "unknown session token; start a new session")
    if _expired(p, state.config):
        raise HTTPException(
            410, f"this session expired {state.config.expire_minutes} minutes after it started"
        )
    return p


def _expired(p: Participant, config: StudyConfig, now: int | None = None) -> bool:
    """An unfinished session older than ``expire_minutes`` (never when that is 0)."""
    if not config.expire_minutes or p.completed_ms is not None:
        return False
    return (now_ms() if now is None else now) - p.created_ms > config.expire_minutes * 60_000


def admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """Let only requests with the admin token through (401/403 otherwise)."""
    token = _bearer(authorization)
    if not secrets.compare_digest(
        token.encode("utf-8", "replace"), _study(request).admin_token.encode()
    ):
        raise HTTPException(403, "not the admin token")


Me = Annotated[Participant, Depends(participant)]


class RateLimiter:
    """Token buckets per key: ``burst`` requests at once, refilled at ``per_second``.

    In memory and per process (the server runs one process); thread-safe. Keys that have
    been idle long enough to be full again are dropped, so memory stays bounded.
    """

    def __init__(self, *, burst: int, per_second: float) -> None:
        if burst < 1 or per_second <= 0:
            raise ValueError("a rate limit needs burst >= 1 and a positive rate")
        self.burst, self.rate = float(burst), float(per_second)
        self._buckets: dict[Any, tuple[float, float]] = {}  # key -> (tokens, time)
        self._lock = threading.Lock()

    def take(self, key: Any, now: float | None = None) -> float:
        """Take one token for ``key``: 0.0 if allowed, else the seconds until one is free."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, then = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget the keys that are full again
                full = self.burst / self.rate
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full}
            return 0.0


@dataclass(frozen=True)
class RateLimits:
    """Per-client request limits of the study server.

    ``sessions_*``: new participants per client address (a lab or a campus behind one
    address starts many: the burst allows a whole group at once). ``answers_*``: answers
    per participant (a person answers at most a few clips a second). A rate of 0 turns that
    limit off.
    """

    sessions_burst: int = 60
    sessions_per_minute: float = 30.0
    answers_burst: int = 30
    answers_per_second: float = 5.0


def _limited(limiter: RateLimiter, key: Any, what: str) -> None:
    wait = limiter.take(key)
    if wait > 0:
        raise HTTPException(
            429,
            f"too many {what}; retry in {wait:.1f} s",
            headers={"Retry-After": str(max(1, round(wait)))},
        )


def _add_error_handlers(app: FastAPI) -> None:
    """422 without echoing the input; 409 for a conflict."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError):
        # FastAPI's own handler echoes the input back, which fails (500) for NaN or
        # 1e999 and reflects hostile text; say only where and what is wrong.
        errors = [
            {
                "loc": [str(x) for x in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Conflict)
    async def _conflict(_request: Request, exc: Conflict):
        return JSONResponse({"detail": str(exc)}, status_code=409)


def _add_pages(app: FastAPI, catalogue: Catalogue) -> None:
    """The participant page, the admin page, static files and the health check."""
    # -- pages -------------------------------------------------------------------
    static = resources.files("motionlab.study") / "static"

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return Response((static / "index.html").read_bytes(), media_type="text/html")

    @app.get("/admin", include_in_schema=False)
    def admin_page() -> Response:
        return Response((static / "admin.html").read_bytes(), media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> Response:
        if name not in STATIC_FILES:
            raise HTTPException(404, "not found")
        return Response(
            (static / name).read_bytes(),
            media_type=STATIC_FILES[name],
            headers={"Cache-Control": "no-cache"},
        )

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"ok": True, "stimuli": len(catalogue)}


def _add_session_routes(
    app: FastAPI,
    state: StudyApp,
    session_limit: RateLimiter | None,
    answer_limit: RateLimiter | None,
) -> None:
    """Starting a session, the study's settings, events, state, consent and phase changes."""
    config, store, catalogue = state.config, state.store, state.catalogue

    # -- participant API ---------------------------------------------------------
    @app.post("/api/session")
    def start_session(request: Request, body: SessionBody | None = None) -> dict[str, Any]:
        if session_limit is not None:
            _limited(session_limit, request.client.host if request.client else "", "new sessions")
        # Participants already under way may still finish: the study can end a few over.
        if config.max_participants and store.n_completed() >= config.max_participants:
            raise HTTPException(
                403, f"the study is closed: {config.max_participants} participants completed it"
            )
        why = failed_requirements(config.requirements, body.client_info if body else None)
        if why:
            raise HTTPException(422, "; ".join(why))
        pilot = body is not None and body.pilot is not None
        if pilot and not secrets.compare_digest(body.pilot, state.pilot_token):
            raise HTTPException(403, "not a valid pilot link")
        seed = new_seed()
        plan = make_plan(config, catalogue, seed, order=store.n_participants(), pilot=pilot)
        new = store.create_participant(
            seed=seed,
            plan=plan,
            external_id=body.external_id if body else None,
            user_agent=request.headers.get("user-agent", ""),
            url_params=body.url_params if body else None,
            pilot=pilot,
            client_info=body.client_info.model_dump() if body and body.client_info else None,
        )
        log.info("participant %s started", new.participant.public_id)
        return {"token": new.token, "participant": new.participant.public_id}

    @app.get("/api/study")
    def study_info() -> dict[str, Any]:
        """What the page needs before a session: the title and the browser requirements."""
        return {"title": config.title, "requirements": config.requirements.to_dict()}

    @app.post("/api/events")
    def event(body: EventBody, me: Me) -> dict[str, Any]:
        if answer_limit is not None:
            _limited(answer_limit, me.id, "requests")
        if body.phase_index != me.phase_index:
            raise HTTPException(409, "not the participant's current phase")
        store.add_event(
            me.id,
            body.kind,
            phase_index=body.phase_index,
            trial_index=body.trial_index,
            client_ms=body.client_ms,
        )
        return {"stored": True}

    @app.get("/api/state")
    def get_state(me: Me) -> dict[str, Any]:
        return _state(state, me)

    @app.post("/api/consent")
    def consent(body: ConsentBody, me: Me) -> dict[str, Any]:
        _expect_kind(state, me, body.phase_index, "consent")
        if me.phase_index == body.phase_index:
            store.set_consent(me.id)
        store.advance(me.id, body.phase_index, phase_names=state.phase_names(me))
        return _state(state, store.participant(me.id))

    @app.post("/api/advance")
    def advance(body: PhaseBody, me: Me) -> dict[str, Any]:
        i = body.phase_index
        n = len(state.phases(me))
        if i >= n:
            raise HTTPException(422, f"phase_index must be < {n}")
        if me.phase_index == i:
            _check_can_leave(state, me, i)
        store.advance(me.id, i, phase_names=state.phase_names(me))
        return _state(state, store.participant(me.id))


def _add_answer_routes(app: FastAPI, state: StudyApp, answer_limit: RateLimiter | None) -> None:
    """Answers to trials and the questionnaire."""
    config, store = state.config, state.store

    @app.post("/api/trials")
    def submit_trial(body: TrialBody, me: Me) -> dict[str, Any]:
        if answer_limit is not None:
            _limited(answer_limit, me.id, "answers")
        plan = state.plan(me)
        if body.phase_index >= len(plan["phases"]):
            raise HTTPException(422, "no such phase")
        phase = plan["phases"][body.phase_index]
        if phase["kind"] not in ("training", "test"):
            raise HTTPException(422, f"phase {phase['name']!r} takes no answers")
        items = phase["items"]
        if body.trial_index >= len(items):
            raise HTTPException(422, f"trial_index must be < {len(items)}")
        item = items[body.trial_index]
        if body.stimulus != item["stimulus"]:
            raise HTTPException(422, "stimulus is not this trial's stimulus")
        if body.choice not in config.classes:
            raise HTTPException(422, "choice is not one of the study's classes")
        if not config.fps_min <= body.fps <= config.fps_max:
            raise HTTPException(422, f"fps must be in {config.fps_min}..{config.fps_max}")
        row, duplicate = store.record_trial(
            me.id,
            phase_index=body.phase_index,
            phase_name=phase["name"],
            phase_kind=phase["kind"],
            modality=phase["source"],
            trial_index=body.trial_index,
            stimulus=item["name"],
            stimulus_key=item["stimulus"],
            truth=item["truth"],
            choice=body.choice,
            correct=body.choice == item["truth"],
            rt_ms=body.rt_ms,
            loops=body.loops,
            frames_shown=body.frames_shown,
            fps=body.fps,
            client_ms=body.client_ms,
            submission_id=body.submission_id,
            response=body.response,
            attention_check=bool(item.get("attention_check")),
        )
        out: dict[str, Any] = {
            "stored": True,
            "duplicate": duplicate,
            "trial_index": row.trial_index,
            "answered": row.trial_index + 1,
        }
        if phase["feedback"]:
            out.update(correct=row.correct, truth=row.truth)
        return out

    @app.post("/api/questionnaire")
    def questionnaire(body: QuestionnaireBody, me: Me) -> dict[str, Any]:
        if set(body.difficulty) != set(config.classes):
            raise HTTPException(422, "difficulty needs one rating (1-3) for each class")
        i = next((k for k, p in enumerate(state.phases(me)) if p.kind == "questionnaire"), None)
        if i is None:
            raise HTTPException(404, "this study has no questionnaire")
        if me.phase_index < i:
            raise HTTPException(409, "the questionnaire comes later")
        answers = body.model_dump()
        answers["difficulty"] = json.dumps(answers["difficulty"], sort_keys=True)
        stored = store.save_questionnaire(me.id, answers)
        store.advance(me.id, i, phase_names=state.phase_names(me))
        out = _state(state, store.participant(me.id))
        out["duplicate"] = not stored
        return out


def _add_stimulus_routes(app: FastAPI, state: StudyApp) -> None:
    """A stimulus's description and its frame sheet, for the participant's plan only."""
    catalogue = state.catalogue

    def _stimulus(key: str, me: Participant) -> str:
        if len(key) != 20 or any(c not in "0123456789abcdef" for c in key):
            raise HTTPException(404, "no such stimulus")
        if key not in state.plan(me)["keys"] or key not in catalogue.by_key:
            raise HTTPException(404, "no such stimulus")
        return key

    @app.get("/api/stimuli/{key}.json")
    def stimulus_info(key: str, me: Me) -> dict[str, Any]:
        _, info = catalogue.sheet(_stimulus(key, me))
        return {**info.to_dict(), "url": f"/api/stimuli/{key}.png"}

    @app.get("/api/stimuli/{key}.png")
    def stimulus_sheet(key: str, me: Me) -> Response:
        png, _ = catalogue.sheet(_stimulus(key, me))
        return FileResponse(
            png,
            media_type="image/png",
            headers={"Cache-Control": "private, max-age=86400, immutable"},
        )


def _add_admin_routes(app: FastAPI, state: StudyApp) -> None:
    """The admin summary and the CSV exports (admin token)."""
    store = state.store

    # -- admin API ---------------------------------------------------------------
    @app.get("/api/admin/summary", dependencies=[Depends(admin)])
    def summary() -> dict[str, Any]:
        return _summary(state)

    @app.get("/api/admin/export/{table}.csv", dependencies=[Depends(admin)])
    def export_csv(table: str) -> Response:
        tables = export_tables(store)
        if table not in tables:
            raise HTTPException(404, f"tables: {', '.join(sorted(tables))}")
        return PlainTextResponse(
            tables[table],
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
        )


def create_app(
    config: StudyConfig,
    store: Store,
    catalogue: Catalogue,
    *,
    admin_token: str,
    allowed_hosts: Sequence[str] | None = None,
    max_body: int = MAX_BODY,
    limits: RateLimits | None = RateLimits(),
) -> FastAPI:
    """The ASGI app of one study (run it with uvicorn, or test it with TestClient).

    ``allowed_hosts`` (see :class:`HostGuard`; None accepts any ``Host``) and ``max_body``
    (bytes; larger request bodies get 413) limit what requests are served; ``limits``
    (:class:`RateLimits`; None: no limit) bounds new sessions per client address and answers
    per participant (HTTP 429 with ``Retry-After``; the page waits and resends).
    """
    state = StudyApp(config, store, catalogue, admin_token)
    session_limit = answer_limit = None
    if limits is not None and limits.sessions_per_minute > 0:
        session_limit = RateLimiter(
            burst=limits.sessions_burst, per_second=limits.sessions_per_minute / 60
        )
    if limits is not None and limits.answers_per_second > 0:
        answer_limit = RateLimiter(burst=limits.answers_burst, per_second=limits.answers_per_second)
    app = FastAPI(
        title=f"motionlab study: {config.title}",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.study = state

    if allowed_hosts is not None:
        app.add_middleware(HostGuard, allowed=allowed_hosts)
    app.add_middleware(Guard, max_body=max_body)  # body size, security headers (outermost)

    _add_error_handlers(app)
    _add_pages(app, catalogue)
    _add_session_routes(app, state, session_limit, answer_limit)
    _add_answer_routes(app, state, answer_limit)
    _add_stimulus_routes(app, state)
    _add_admin_routes(app, state)
    return app


# --------------------------------------------------------------------------------------
# helpers


def _expect_kind(state: StudyApp, me: Participant, i: int, kind: str) -> None:
    phases = state.phases(me)
    if i >= len(phases) or phases[i].kind != kind:
        raise HTTPException(422, f"phase {i} is not a {kind} phase")


def _check_can_leave(state: StudyApp, me: Participant, i: int) -> None:
    phase = state.phases(me)[i]
    if phase.kind == "consent" and me.consent_ms is None:
        raise HTTPException(409, "consent first (POST /api/consent)")
    if phase.kind in ("training", "test"):
        n = len(state.plan(me)["phases"][i]["items"])
        done = state.store.n_answered(me.id, i)
        if done < n:
            raise HTTPException(409, f"{done} of {n} trials answered")
    if phase.kind == "rest":
        started = state.store.phase_started_ms(me.id, i) or 0
        if now_ms() - started < phase.seconds * 1000 - REST_TOLERANCE_MS:
            raise HTTPException(409, "the rest is not over yet")
    if phase.kind == "questionnaire" and not state.store.has_questionnaire(me.id):
        raise HTTPException(409, "the questionnaire is not answered yet")
    if phase.kind == "thanks":
        raise HTTPException(409, "the study is over")


def _state(state: StudyApp, me: Participant | None) -> dict[str, Any]:
    if me is None:  # pragma: no cover - participants are never deleted
        raise HTTPException(401, "unknown participant")
    config = state.config
    plan = state.plan(me)
    i = me.phase_index
    phases = state.phases(me)
    phase = phases[i]
    planned = plan["phases"][i]
    view: dict[str, Any] = {
        "name": phase.name,
        "kind": phase.kind,
        "title": phase.title,
        "text": list(phase.text),
        "feedback": phase.feedback,
        "loop": phase.loop,
        "modality": phase.source,
    }
    if phase.kind == "familiarisation":
        view["items"] = [
            {"stimulus": it["stimulus"], "label": it["truth"]} for it in planned["items"]
        ]
    elif phase.kind in ("training", "test"):
        view["items"] = [{"stimulus": it["stimulus"]} for it in planned["items"]]
        view["answered"] = state.store.n_answered(me.id, i)
    elif phase.kind == "rest":
        started = state.store.phase_started_ms(me.id, i) or now_ms()
        view["seconds"] = phase.seconds
        view["remaining_ms"] = max(0, phase.seconds * 1000 - (now_ms() - started))
    elif phase.kind == "thanks":
        code = config.extra.get("completion_code")
        if code is not None:
            view["completion_code"] = code
        if "completion_url" in config.extra:
            view["completion_url"] = config.extra["completion_url"].replace(
                "{code}", quote(code or "", safe="")
            )
    return {
        "study": {
            "title": config.title,
            "classes": list(config.classes),
            "fps": {"min": config.fps_min, "max": config.fps_max, "default": config.fps_default},
            "keys": plan["answer_keys"],
            "requirements": config.requirements.to_dict(),
        },
        "participant": me.public_id,
        "pilot": bool(plan.get("pilot")),
        "phase_index": i,
        "phases": [{"name": p.name, "kind": p.kind, "title": p.title} for p in phases],
        "phase": view,
    }


def _summary(state: StudyApp) -> dict[str, Any]:
    store = state.store
    trials = store.all_trials()
    participants = store.all_participants()
    now = now_ms()
    per: dict[int, list] = {}
    for t in trials:
        per.setdefault(t.participant_id, []).append(t)
    rows = []
    for p in participants:
        ts = per.get(p.id, [])
        rows.append(
            {
                "participant": p.public_id,
                "external_id": p.external_id,
                "phase": state.phase_names(p)[p.phase_index],
                "trials": len(ts),
                "accuracy": (sum(t.correct for t in ts) / len(ts)) if ts else None,
                "created_ms": p.created_ms,
                "completed": p.completed_ms is not None,
                "expired": _expired(p, state.config, now),
                "pilot": p.pilot,
            }
        )
    exits = Counter(e.participant_id for e in store.all_events() if e.kind == "fullscreen_exit")
    checks = state.config.attention
    for row, p in zip(rows, participants, strict=True):
        row["fullscreen_exits"] = exits.get(p.id, 0)
        got = [t.correct for t in per.get(p.id, []) if t.attention_check]
        row["attention"] = sum(got) / len(got) if got else None
        row["excluded"] = bool(
            checks is not None and got and sum(got) / len(got) < checks.min_accuracy
        )
    by_modality: dict[str, list[bool]] = {}
    for t in trials:
        if t.phase_kind == "test" and not t.attention_check:
            by_modality.setdefault(t.modality, []).append(t.correct)
    return {
        "title": state.config.title,
        "participants": len(participants),
        "completed": sum(p.completed_ms is not None for p in participants),
        "expired": sum(r["expired"] for r in rows),
        "pilot": sum(r["pilot"] for r in rows),
        "excluded": sum(r["excluded"] for r in rows),
        "in_progress": sum(not r["completed"] and not r["expired"] for r in rows),
        "max_participants": state.config.max_participants,
        "open": not state.config.max_participants
        or sum(p.completed_ms is not None for p in participants) < state.config.max_participants,
        "trials": len(trials),
        "test_accuracy": {m: sum(v) / len(v) for m, v in sorted(by_modality.items())},
        "rows": rows,
        "questionnaires": len(store.all_questionnaires()),
    }


def build_app(
    config: StudyConfig,
    db_url: str,
    *,
    admin_token: str | None = None,
    cache_dir: Path | None = None,
) -> FastAPI:
    """Open the store and the catalogue and create the app (see :func:`create_app`)."""
    import tempfile

    store = Store(db_url)
    if cache_dir is None:
        cache_dir = Path(tempfile.gettempdir()) / "motionlab-study-cache"
    catalogue = Catalogue(config, cache_dir=cache_dir)
    return create_app(
        config, store, catalogue, admin_token=admin_token or secrets.token_urlsafe(24)
    )
