// motionlab study: the admin dashboard. The admin token is read from the URL fragment
// (/admin#token=...), which browsers never send to the server, and sent as a Bearer header.
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function get(path) {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${token}` }, cache: "no-store" });
  if (!res.ok) throw new Error(`${res.status}`);
  return res;
}

async function download(table) {
  const blob = await (await get(`/api/admin/export/${table}.csv`)).blob();
  const a = h("a", { href: URL.createObjectURL(blob), download: `${table}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
}

const pct = (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)} %`);

async function load() {
  const main = document.getElementById("main");
  let s;
  try {
    s = await (await get("/api/admin/summary")).json();
  } catch (e) {
    main.replaceChildren(h("p", {}, "Not authorised: open the admin link printed by `motionlab study serve` (…/admin#token=…)."));
    return;
  }
  document.getElementById("title").textContent = `Dashboard: ${s.title}`;
  const stats = h("div", { class: "stats" },
    h("div", { class: "stat" }, h("b", {}, s.participants), "participants"),
    h("div", { class: "stat" }, h("b", {}, s.completed), s.max_participants ? `completed of ${s.max_participants}` : "completed"),
    h("div", { class: "stat" }, h("b", {}, s.in_progress), "in progress"),
    h("div", { class: "stat" }, h("b", {}, s.expired), "expired"),
    h("div", { class: "stat", id: "open" }, h("b", {}, s.open ? "open" : "closed"), "to new participants"),
    h("div", { class: "stat" }, h("b", {}, s.trials), "answers stored"),
    h("div", { class: "stat" }, h("b", {}, s.questionnaires), "questionnaires"),
    ...Object.entries(s.test_accuracy).map(([m, a]) => h("div", { class: "stat" }, h("b", {}, pct(a)), `test accuracy, ${m}`)),
  );
  const rows = s.rows.map((r) => h("tr", {},
    h("td", {}, r.participant), h("td", {}, r.external_id || ""), h("td", {}, r.phase),
    h("td", {}, r.trials), h("td", {}, pct(r.accuracy)),
    h("td", {}, new Date(r.created_ms).toISOString().replace("T", " ").slice(0, 19)),
    h("td", {}, r.completed ? "yes" : r.expired ? "expired" : "")));
  main.replaceChildren(
    stats,
    h("div", { class: "row" }, ["trials", "questionnaires", "participants", "phases", "events"].map((t) =>
      h("button", { onclick: () => download(t) }, `${t}.csv`))),
    h("table", {}, h("thead", {}, h("tr", {}, ["participant", "external id", "phase", "answers", "accuracy", "started (UTC)", "completed"].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows)),
  );
}

load();
setInterval(load, 10000);
