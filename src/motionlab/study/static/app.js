// motionlab study: the participant's single-page app.
//
// Stimuli arrive as one lossless PNG "frame sheet" each and are drawn on a canvas, one
// sheet cell per frame, by requestAnimationFrame at the frame rate of the slider: exact
// pixels (no lossy <video>) and frame timing from the display's own clock. The response
// time runs from the rAF timestamp of the first displayed frame to the click, both on the
// performance.now() time base. Each answer is kept in localStorage until the server has
// stored it, so neither a lost connection nor a reload loses it; the server stores a
// resent answer once.
"use strict";

const TOKEN_KEY = "motionlab.study.token";
const PENDING_KEY = "motionlab.study.pending";
const FPS_KEY = "motionlab.study.fps";

let token = localStorage.getItem(TOKEN_KEY);
let study = null; // the "study" part of the last state
let clientInfo = null; // the browser checks' measurements, sent with a new session
const sheets = new Map(); // stimulus key -> Promise<{info, bitmap}>

// -- small helpers ----------------------------------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false && v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const main = () => document.getElementById("main");
function show(...nodes) { main().replaceChildren(...nodes); }
function status(text) {
  const el = document.getElementById("status");
  el.textContent = text || "";
  el.classList.toggle("show", Boolean(text));
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

class HttpError extends Error {
  constructor(status, detail) { super(`${status}: ${detail}`); this.status = status; this.detail = detail; }
}

// fetch with the session token; network errors, 5xx and 429 (rate limit: wait as told) are
// retried with back-off (forever for writes, which are idempotent on the server), other 4xx
// are thrown.
async function api(method, path, body, { retries = Infinity } = {}) {
  let delay = 300;
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: Object.assign(
          { Accept: "application/json" },
          token ? { Authorization: `Bearer ${token}` } : {},
          body !== undefined ? { "Content-Type": "application/json" } : {},
        ),
        body: body !== undefined ? JSON.stringify(body) : undefined,
        cache: "no-store",
      });
    } catch (err) {
      res = null;
    }
    if (res && res.status < 500 && res.status !== 429) {
      status("");
      const data = (res.headers.get("content-type") || "").includes("json") ? await res.json() : await res.text();
      if (!res.ok) throw new HttpError(res.status, data && data.detail ? JSON.stringify(data.detail) : data);
      return data;
    }
    if (attempt >= retries) throw new HttpError(res ? res.status : 0, "no connection");
    if (res && res.status === 429) {
      const after = Number(res.headers.get("retry-after")) || 1;
      await sleep(after * 1000);
      continue;
    }
    status("Connection problem — retrying…");
    await sleep(delay);
    delay = Math.min(delay * 2, 5000);
  }
}

// -- stimuli ----------------------------------------------------------------------------
function loadSheet(key) {
  if (!sheets.has(key)) {
    const p = (async () => {
      const info = await api("GET", `/api/stimuli/${key}.json`, undefined, { retries: 20 });
      let res;
      for (let i = 0; ; i++) {
        try { res = await fetch(info.url, { headers: { Authorization: `Bearer ${token}` } }); } catch (e) { res = null; }
        if (res && res.ok) break;
        if (i > 20) throw new Error("could not load the stimulus");
        await sleep(500);
      }
      const blob = await res.blob();
      // no colour management, no premultiplication: the canvas gets the file's exact RGB
      const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
      return { info, bitmap };
    })();
    p.catch(() => sheets.delete(key));
    sheets.set(key, p);
    // Keep the clip on screen and the next one or two: a decoded sheet of a long clip can
    // take ~100 MB; the oldest (already answered) is released.
    while (sheets.size > 3) {
      const oldest = sheets.keys().next().value;
      const old = sheets.get(oldest);
      sheets.delete(oldest);
      old.then((s) => s.bitmap.close(), () => {});
    }
  }
  return sheets.get(key);
}

class Player {
  // Plays a frame sheet in a loop on `canvas` at `fps`. Frame n of the loop is shown from
  // t0 + n * 1000 / fps on (t0: the rAF timestamp of the first frame). A change of fps
  // keeps the current frame and continues from it at the new rate. With loop = false the
  // clip plays once and its last frame stays on screen.
  constructor(canvas, sheet, fps, loop = true) {
    this.loop = loop;
    this.canvas = canvas;
    this.info = sheet.info;
    this.bitmap = sheet.bitmap;
    this.fps = fps;
    canvas.width = this.info.width;
    canvas.height = this.info.height;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.ctx.imageSmoothingEnabled = false;
    this.anchorTs = null; // rAF time at which frame `anchorFrame` was due
    this.anchorFrame = 0;
    this.firstTs = null;
    this.shown = -1; // absolute frame count last drawn
    this.framesShown = 0;
    this.raf = null;
    this.onFirstFrame = null;
  }
  start(onFirstFrame) {
    this.onFirstFrame = onFirstFrame;
    this.raf = requestAnimationFrame((ts) => this.tick(ts));
  }
  position(ts) { return this.anchorFrame + Math.floor(((ts - this.anchorTs) * this.fps) / 1000); }
  tick(ts) {
    if (this.anchorTs === null) this.anchorTs = ts;
    let abs = Math.max(this.position(ts), this.shown < 0 ? 0 : this.shown);
    if (!this.loop) abs = Math.min(abs, this.info.frames - 1);
    if (abs !== this.shown) {
      const i = abs % this.info.frames;
      const r = Math.floor(i / this.info.cols), c = i % this.info.cols;
      const w = this.info.width, hgt = this.info.height;
      this.ctx.drawImage(this.bitmap, c * w, r * hgt, w, hgt, 0, 0, w, hgt);
      this.shown = abs;
      this.framesShown += 1;
      this.canvas.dataset.frame = String(i);
      this.canvas.dataset.loops = String(Math.floor(abs / this.info.frames));
      if (this.firstTs === null) {
        this.firstTs = ts;
        if (this.onFirstFrame) this.onFirstFrame(ts);
      }
    }
    this.raf = requestAnimationFrame((t) => this.tick(t));
  }
  setFps(fps) {
    if (this.anchorTs !== null) {
      this.anchorFrame = Math.max(this.shown, 0);
      this.anchorTs = performance.now();
    }
    this.fps = fps;
  }
  get loops() { return Math.max(0, Math.floor(this.shown / this.info.frames)); }
  stop() { if (this.raf !== null) cancelAnimationFrame(this.raf); this.raf = null; }
  // Hold the current frame (full screen left); resume() goes on from it.
  pause() { if (this.raf !== null) { this.stop(); this.paused = true; } }
  resume() {
    if (!this.paused) return;
    this.paused = false;
    this.anchorFrame = Math.max(this.shown, 0);
    this.anchorTs = null; // the next frame's timestamp
    this.raf = requestAnimationFrame((ts) => this.tick(ts));
  }
}

let player = null;
function stopPlayer() { if (player) player.stop(); player = null; }

// The answer keys of the trial on screen (null elsewhere): one listener for the page, the
// current trial's handler swapped in and out.
let keyHandler = null;
document.addEventListener("keydown", (e) => { if (keyHandler && !fullscreenGate()) keyHandler(e); });

// -- browser checks and full screen --------------------------------------------------------
// Measured before the session: window size, refresh rate (30 animation frames), WebGL.
function measureRefresh(frames = 30) {
  return new Promise((resolve) => {
    const t = [];
    const f = (ts) => { t.push(ts); if (t.length <= frames) requestAnimationFrame(f); else resolve((1000 * frames) / (t[frames] - t[0])); };
    requestAnimationFrame(f);
  });
}
async function browserChecks(req) {
  let webgl = false;
  try { webgl = Boolean(document.createElement("canvas").getContext("webgl")); } catch (e) { webgl = false; }
  const info = {
    width: window.innerWidth, height: window.innerHeight, refresh_hz: Math.round(10 * await measureRefresh()) / 10,
    webgl, screen_width: screen.width || 0, screen_height: screen.height || 0, pixel_ratio: window.devicePixelRatio || 1,
  };
  const why = [];
  if (info.width < req.min_width || info.height < req.min_height) {
    why.push(`Your browser window is ${info.width} x ${info.height} pixels; this study needs at least ${req.min_width} x ${req.min_height}. Make the window larger (or use a larger screen) and reload.`);
  }
  if (info.refresh_hz < req.min_refresh_hz) {
    why.push(`Your screen shows about ${Math.round(info.refresh_hz)} images a second; this study needs ${req.min_refresh_hz}. Close other programs or use another screen, and reload.`);
  }
  if (req.webgl && !info.webgl) why.push("Your browser does not support WebGL, which this study needs. Try another browser.");
  return { info, why };
}

// Full screen: the page learns from state.study.requirements whether the study requires it.
let currentTrial = null; // {phase_index, trial_index} of the clip on screen
function fullscreenGate() { return document.getElementById("fullscreen-gate"); }
function needsFullscreen() {
  return study && study.requirements && study.requirements.fullscreen && !document.fullscreenElement
    && document.body.dataset.kind !== "thanks";
}
function showFullscreenGate(left) {
  if (fullscreenGate()) return;
  const button = h("button", {
    class: "primary", id: "fullscreen",
    onclick: () => document.documentElement.requestFullscreen().catch(() => {}),
  }, left ? "Return to full screen" : "Enter full screen");
  document.body.append(h("div", { id: "fullscreen-gate", class: "gate" }, h("div", {},
    h("h2", {}, left ? "You left full screen" : "This study runs in full screen"),
    h("p", {}, left ? "The clip is paused. Return to full screen to go on." : "Please switch to full screen to begin."),
    button)));
}
document.addEventListener("fullscreenchange", () => {
  if (!study || !study.requirements || !study.requirements.fullscreen) return;
  const at = currentTrial || { phase_index: Number(document.body.dataset.phaseIndex) || 0, trial_index: null };
  const kind = document.fullscreenElement ? "fullscreen_enter" : "fullscreen_exit";
  if (document.body.dataset.kind !== "thanks") {
    api("POST", "/api/events", { kind, phase_index: at.phase_index, trial_index: at.trial_index, client_ms: Date.now() }, { retries: 3 }).catch(() => {});
  }
  if (document.fullscreenElement) {
    const gate = fullscreenGate();
    if (gate) gate.remove();
    if (player) player.resume();
  } else if (needsFullscreen()) {
    if (player) player.pause();
    showFullscreenGate(true);
  }
});

function currentFps() {
  const f = Number(sessionStorage.getItem(FPS_KEY));
  return f >= study.fps.min && f <= study.fps.max ? f : study.fps.default;
}

function fpsSlider() {
  const value = h("span", { class: "fps-value" }, `${currentFps()} fps`);
  const input = h("input", {
    type: "range", min: study.fps.min, max: study.fps.max, step: 1, value: currentFps(),
    "aria-label": "playback speed (frames per second)", id: "fps",
    oninput: (e) => {
      const f = Number(e.target.value);
      sessionStorage.setItem(FPS_KEY, String(f));
      value.textContent = `${f} fps`;
      if (player) player.setFps(f);
    },
  });
  return h("div", { class: "fps" }, h("span", {}, "Speed"), input, value);
}

// -- pages --------------------------------------------------------------------------------
function render(state) {
  stopPlayer();
  keyHandler = null;
  study = state.study;
  document.title = study.title;
  const n = state.phases.length;
  document.getElementById("progress-bar").style.width = `${(100 * state.phase_index) / Math.max(1, n - 1)}%`;
  document.body.dataset.phase = state.phase.name;
  document.body.dataset.pilot = state.pilot ? "1" : "";
  document.getElementById("title").textContent = state.pilot ? `${study.title} (pilot run)` : study.title;
  document.body.dataset.kind = state.phase.kind;
  document.body.dataset.phaseIndex = String(state.phase_index);
  currentTrial = null;
  if (needsFullscreen()) showFullscreenGate(false);
  else if (fullscreenGate() && state.phase.kind === "thanks") fullscreenGate().remove();
  const page = {
    consent: consentPage, instructions: instructionsPage, familiarisation: familiarisationPage,
    training: trialPage, test: trialPage, rest: restPage, questionnaire: questionnairePage,
    thanks: thanksPage,
  }[state.phase.kind];
  page(state);
}

// A 409/422 means the page is behind the server (e.g. the study is open in a second tab
// that has moved on): show where the participant really is (or, after a 410, that the
// session expired).
async function resync(err) {
  if (err instanceof HttpError && (err.status === 409 || err.status === 410 || err.status === 422)) {
    await refresh();
    return;
  }
  throw err;
}

async function advance(state) {
  try {
    render(await api("POST", "/api/advance", { phase_index: state.phase_index }));
  } catch (e) {
    await resync(e);
  }
}

function consentPage(state) {
  const box = h("input", { type: "checkbox", id: "agree", onchange: () => { go.disabled = !box.checked; } });
  const go = h("button", {
    class: "primary", id: "consent", disabled: true,
    onclick: async () => {
      go.disabled = true;
      try {
        render(await api("POST", "/api/consent", { phase_index: state.phase_index, agree: true }));
      } catch (e) {
        await resync(e);
      }
    },
  }, "Start");
  show(
    h("h2", {}, state.phase.title),
    ...state.phase.text.map((t) => h("p", {}, t)),
    h("div", { class: "row" }, box, h("label", { for: "agree" }, "I have read this and agree to take part.")),
    h("div", { class: "row" }, go),
  );
}

function instructionsPage(state) {
  const slides = state.phase.text.length ? state.phase.text : [""];
  let k = Number(sessionStorage.getItem("motionlab.slide")) || 0;
  if (k >= slides.length) k = 0;
  const draw = () => {
    sessionStorage.setItem("motionlab.slide", String(k));
    const last = k === slides.length - 1;
    show(
      h("h2", {}, state.phase.title),
      h("p", { class: "muted" }, `${k + 1} / ${slides.length}`),
      h("p", { class: "slide" }, slides[k]),
      h("div", { class: "row" },
        h("button", { id: "back", disabled: k === 0, onclick: () => { k -= 1; draw(); } }, "Back"),
        h("button", {
          class: "primary", id: "next",
          onclick: async () => {
            if (!last) { k += 1; draw(); return; }
            sessionStorage.removeItem("motionlab.slide");
            await advance(state);
          },
        }, last ? "Begin" : "Next")),
    );
  };
  draw();
}

function stage(canvas) {
  return h("div", { class: "stage" }, canvas, fpsSlider());
}

async function familiarisationPage(state) {
  const items = state.phase.items;
  let k = Number(sessionStorage.getItem("motionlab.fam")) || 0;
  if (k >= items.length) k = 0;
  const draw = async () => {
    sessionStorage.setItem("motionlab.fam", String(k));
    stopPlayer();
    const item = items[k];
    const canvas = h("canvas", { class: "stimulus", id: "stimulus", "data-stimulus": item.stimulus });
    const next = h("button", {
      class: "primary", id: "next",
      onclick: async () => {
        if (k + 1 < items.length) { k += 1; await draw(); return; }
        sessionStorage.removeItem("motionlab.fam");
        await advance(state);
      },
    }, k + 1 < items.length ? "Next example" : "Continue");
    show(
      h("h2", {}, state.phase.title),
      h("p", { class: "muted" }, `Example ${k + 1} of ${items.length}: this is the action`),
      h("p", { class: "label", id: "label" }, item.label),
      stage(canvas),
      h("div", { class: "row" }, next),
    );
    const sheet = await loadSheet(item.stimulus);
    if (items[k + 1]) loadSheet(items[k + 1].stimulus);
    player = new Player(canvas, sheet, currentFps());
    player.start();
    if (fullscreenGate()) player.pause();
  };
  await draw();
}

function loadPending() {
  try { return JSON.parse(localStorage.getItem(PENDING_KEY) || "null"); } catch (e) { return null; }
}

async function submit(answer) {
  localStorage.setItem(PENDING_KEY, JSON.stringify(answer));
  try {
    return await api("POST", "/api/trials", answer);
  } finally {
    localStorage.removeItem(PENDING_KEY);
  }
}

async function trialPage(state) {
  const phase = state.phase;
  const items = phase.items;
  let t = phase.answered;
  const runTrial = async () => {
    stopPlayer();
    if (t >= items.length) { await advance(state); return; }
    const item = items[t];
    currentTrial = { phase_index: state.phase_index, trial_index: t };
    const canvas = h("canvas", { class: "stimulus", id: "stimulus", "data-stimulus": item.stimulus });
    const feedback = h("p", { class: "feedback", id: "feedback" });
    let answered = false;
    const keys = study.keys || [];
    const buttons = study.classes.map((c, i) =>
      h("button", { class: "choice", "data-choice": c, disabled: true, onclick: (e) => choose(c, e, "click") },
        ...(keys[i] ? [h("kbd", { class: "key" }, keys[i].toUpperCase()), " "] : []), c));
    // A key press answers like a click; its response time comes from the key event.
    keyHandler = (e) => {
      if (e.repeat || e.ctrlKey || e.altKey || e.metaKey) return;
      const i = keys.indexOf(String(e.key).toLowerCase());
      if (i < 0 || buttons[i].disabled) return;
      e.preventDefault();
      choose(study.classes[i], e, "key");
    };
    const choose = async (choice, event, response) => {
      if (answered || !player || player.firstTs === null) return;
      answered = true;
      keyHandler = null;
      const clickTs = event && event.timeStamp > 0 ? event.timeStamp : performance.now();
      const answer = {
        phase_index: state.phase_index, trial_index: t, stimulus: item.stimulus, choice,
        rt_ms: Math.max(0, clickTs - player.firstTs), loops: player.loops,
        frames_shown: player.framesShown, fps: player.fps, client_ms: Date.now(),
        submission_id: uuid(), response,
      };
      buttons.forEach((b) => { b.disabled = true; });
      let res;
      try {
        res = await submit(answer);
      } catch (e) {
        await resync(e);
        return;
      }
      t += 1;
      if (phase.feedback) {
        stopPlayer();
        feedback.textContent = res.correct ? `Correct: it was ${res.truth}.` : `Wrong: it was ${res.truth}.`;
        feedback.className = `feedback ${res.correct ? "ok" : "bad"}`;
        const next = h("button", { class: "primary", id: "next", onclick: runTrial },
          t < items.length ? "Next" : "Continue");
        feedback.after(h("div", { class: "row" }, next));
        next.focus();
      } else {
        await runTrial();
      }
    };
    show(
      h("h2", {}, phase.title),
      h("p", { class: "muted", id: "counter" }, `Clip ${t + 1} of ${items.length}. Which action is it?`),
      stage(canvas),
      h("div", { class: "choices" }, buttons),
      feedback,
    );
    const sheet = await loadSheet(item.stimulus);
    if (items[t + 1]) loadSheet(items[t + 1].stimulus);
    player = new Player(canvas, sheet, currentFps(), phase.loop !== false);
    player.start(() => buttons.forEach((b) => { b.disabled = false; }));
    if (fullscreenGate()) player.pause();
  };
  await runTrial();
}

function restPage(state) {
  const end = performance.now() + state.phase.remaining_ms;
  const clock = h("div", { class: "countdown", id: "countdown" });
  const go = h("button", { class: "primary", id: "next", disabled: true, onclick: async () => {
    go.disabled = true;
    try { await advance(state); } catch (e) { if (e.status === 409) await refresh(); else throw e; }
  } }, "Continue");
  show(
    h("h2", {}, state.phase.title),
    h("p", {}, "Take a short break: look away from the screen, relax your eyes. The study continues when the countdown is over."),
    clock, h("div", { class: "row" }, go),
  );
  const tick = () => {
    const left = Math.max(0, end - performance.now());
    const s = Math.ceil(left / 1000);
    clock.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    if (left <= 0) { go.disabled = false; return; }
    if (document.body.contains(clock)) setTimeout(tick, 250);
  };
  tick();
}

function radios(name, legend, options) {
  return h("fieldset", {}, h("legend", {}, legend),
    options.map(([value, text]) => h("label", {},
      h("input", { type: "radio", name, value, required: true }), ` ${text}`)));
}

function questionnairePage(state) {
  const yes = [["yes", "yes"], ["no", "no"]];
  const unsure = [["yes", "yes"], ["no", "no"], ["unsure", "don't know"]];
  const scale = [1, 2, 3, 4, 5].map((v) => [String(v), String(v)]);
  const form = h("form", { id: "questionnaire" },
    radios("colour_vision_deficiency", "Do you have a colour vision deficiency?", unsure),
    radios("short_sighted", "Are you short-sighted?", unsure),
    radios("owns_glasses", "Do you own glasses or contact lenses?", yes),
    radios("wearing_glasses", "Are you wearing them now?", yes),
    radios("sees_monitor_sharply", "Do you see the monitor sharply?", yes),
    radios("familiarity_computer_vision", "How familiar are you with computer vision? (1 = not at all, 5 = very)", scale),
    radios("familiarity_action_recognition", "How familiar are you with action recognition? (1 = not at all, 5 = very)", scale),
    h("p", {}, h("b", {}, "How difficult was each action to recognise? (1 = easy, 3 = hard)")),
    study.classes.map((c, i) => radios(`difficulty_${i}`, c, [["1", "1 easy"], ["2", "2"], ["3", "3 hard"]])),
    h("fieldset", {}, h("legend", {}, "Remarks (optional)"),
      h("textarea", { name: "remarks", maxlength: 4000, id: "remarks" })),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit", id: "submit" }, "Submit")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const body = {
      colour_vision_deficiency: f.get("colour_vision_deficiency"),
      short_sighted: f.get("short_sighted"),
      owns_glasses: f.get("owns_glasses"),
      wearing_glasses: f.get("wearing_glasses"),
      sees_monitor_sharply: f.get("sees_monitor_sharply"),
      familiarity_computer_vision: Number(f.get("familiarity_computer_vision")),
      familiarity_action_recognition: Number(f.get("familiarity_action_recognition")),
      difficulty: Object.fromEntries(study.classes.map((c, i) => [c, Number(f.get(`difficulty_${i}`))])),
      remarks: String(f.get("remarks") || ""),
    };
    form.querySelector("button[type=submit]").disabled = true;
    try {
      render(await api("POST", "/api/questionnaire", body));
    } catch (e) {
      await resync(e);
    }
  });
  show(h("h2", {}, state.phase.title), form);
}

function thanksPage(state) {
  show(
    h("h2", {}, state.phase.title),
    ...state.phase.text.map((t) => h("p", { id: "thanks" }, t)),
    state.phase.completion_code ? h("p", {}, "Completion code: ", h("b", { id: "code" }, state.phase.completion_code)) : null,
    state.phase.completion_url ? h("p", {}, h("a", { id: "complete", href: state.phase.completion_url }, "Return to the recruitment site")) : null,
  );
  // A recruitment platform (Prolific, ...) learns of the completion from this redirect.
  if (state.phase.completion_url) setTimeout(() => { location.href = state.phase.completion_url; }, 1500);
}

// -- start ------------------------------------------------------------------------------
async function newSession() {
  // The participant id from the link: Prolific's PROLIFIC_PID, or pid; the link's other
  // parameters (STUDY_ID, SESSION_ID, ...) are stored with the participant.
  const params = new URLSearchParams(location.search);
  const pid = params.get("PROLIFIC_PID") || params.get("pid");
  const body = pid && /^[A-Za-z0-9_.:@-]{1,128}$/.test(pid) ? { external_id: pid } : {};
  const extra = {};
  for (const [k, v] of params) {
    if (k === "PROLIFIC_PID" || k === "pid" || k === "pilot" || Object.keys(extra).length >= 16) continue;
    if (/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(k) && /^[A-Za-z0-9_.:@-]{0,128}$/.test(v)) extra[k] = v;
  }
  if (Object.keys(extra).length) body.url_params = extra;
  const pilot = params.get("pilot");
  if (pilot) body.pilot = pilot;
  if (clientInfo) body.client_info = clientInfo;
  let res;
  try {
    res = await api("POST", "/api/session", body);
  } catch (e) {
    if (e.status === 409) {
      show(h("h2", {}, "Already started"),
        h("p", { id: "refused" }, "This participant id has already started the study, in another browser or tab. Please continue there; each person takes part once."));
      throw new Stopped();
    }
    if (e.status === 403 && pilot) {
      show(h("h2", {}, "Not a pilot link"), h("p", { id: "refused" }, "Ask the experimenter for the pilot link."));
      throw new Stopped();
    }
    if (e.status === 403) {
      show(h("h2", {}, "The study is closed"),
        h("p", { id: "refused" }, "It has all the participants it needs. Thank you for your interest."));
      throw new Stopped();
    }
    throw e;
  }
  token = res.token;
  localStorage.setItem(TOKEN_KEY, token);
  localStorage.removeItem(PENDING_KEY);
}

async function refresh() {
  let state;
  try {
    state = await api("GET", "/api/state");
  } catch (e) {
    if (e.status === 410) {
      show(h("h2", {}, "Session expired"),
        h("p", { id: "refused" }, "This session ran past the study's time limit and has ended. Your answers so far are stored."));
      throw new Stopped();
    }
    if (e.status !== 401) throw e;
    // unknown token (e.g. a new database): start afresh, browser checks first
    token = null;
    localStorage.removeItem(TOKEN_KEY);
    await boot();
    return;
  }
  // An answer given just before a reload or a lost connection is sent again first.
  const pending = loadPending();
  if (pending && pending.phase_index === state.phase_index && state.phase.answered !== undefined
      && pending.trial_index >= state.phase.answered) {
    try { await submit(pending); } catch (e) { /* 4xx: it no longer fits; drop it */ }
    state = await api("GET", "/api/state");
  }
  localStorage.removeItem(PENDING_KEY);
  render(state);
}

async function boot() {
  if (!token) {
    const info = await api("GET", "/api/study");
    document.getElementById("title").textContent = info.title;
    const checks = await browserChecks(info.requirements);
    if (checks.why.length) {
      // not counted: no session is made
      show(h("h2", {}, "This browser cannot run the study"), ...checks.why.map((w) => h("p", { class: "check-failed" }, w)));
      document.body.dataset.kind = "checks-failed";
      return;
    }
    clientInfo = checks.info;
    await newSession();
  }
  await refresh();
}

// Thrown when the page has said all there is to say (nothing more to do, no error to show).
class Stopped extends Error {}

window.addEventListener("unhandledrejection", (e) => {
  if (e.reason instanceof Stopped) return;
  status(`Something went wrong (${e.reason && e.reason.message ? e.reason.message : e.reason}). Reload the page to continue where you left off.`);
});
boot();
