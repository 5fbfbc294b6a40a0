// ffsqlite dashboard: polls the server's JSON and redraws. No framework,
// no CDN: everything is embedded in the binary and works offline.
"use strict";
const $ = (sel) => document.querySelector(sel);
let selected = null;

// With FF_API_TOKEN set, open the dashboard as /#token=<token>: the token
// stays in this browser (localStorage) and is sent as a bearer header.
const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
if (hashToken) {
  localStorage.setItem("ffsqlite-token", hashToken);
  history.replaceState(null, "", location.pathname);
}
function api(path) {
  const token = localStorage.getItem("ffsqlite-token");
  const headers = token ? { Authorization: "Bearer " + token } : {};
  return fetch(path, { cache: "no-store", headers });
}

function ago(ms, now) {
  if (!ms) return "-";
  const d = Math.round((now - ms) / 1000);
  if (d < 0) return "in " + (-d) + "s";
  if (d < 60) return d + "s ago";
  if (d < 3600) return Math.floor(d / 60) + "m ago";
  return Math.floor(d / 3600) + "h ago";
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function renderStates(states) {
  const chips = Object.keys(states).sort().map((s) => {
    const div = document.createElement("div");
    div.className = "chip state-" + s;
    div.dataset.state = s;
    div.append(s);
    const b = document.createElement("b");
    b.textContent = states[s];
    div.append(b);
    return div;
  });
  $("#states").replaceChildren(...chips);
}

function renderExecutions(list, now) {
  $("#exec-count").textContent = "(" + list.length + " most recent)";
  fill($("#executions tbody"), list.map((e) => {
    const tr = document.createElement("tr");
    tr.dataset.id = e.execution_id;
    tr.dataset.state = e.public_state;
    tr.append(cell(e.execution_id), cell(e.lane_id), cell(e.execution_kind || ""),
      cell(e.public_state, "state state-" + e.public_state), cell(String(e.priority)),
      cell(String(e.attempts)), cell(ago(e.created_at_ms, now)));
    tr.onclick = () => { selected = e.execution_id; refreshDetail(); };
    return tr;
  }));
}

function renderBudgets(list) {
  $("#budgets").replaceChildren(...list.map((b) => {
    const div = document.createElement("div");
    div.className = "budget";
    const title = document.createElement("div");
    title.innerHTML = "<code></code> ";
    title.firstChild.textContent = b.budget_id;
    div.append(title);
    for (const d of b.dimensions || []) {
      const row = document.createElement("div");
      const limit = d.hard_limit || d.soft_limit || 0;
      const pct = limit ? Math.min(100, Math.round(100 * d.usage / limit)) : 0;
      const bar = document.createElement("span");
      bar.className = "bar" + (d.hard_limit && d.usage >= d.hard_limit ? " breach" : "");
      const fillEl = document.createElement("span");
      fillEl.style.width = pct + "%";
      bar.append(fillEl);
      row.append(d.dimension + " ", bar, " " + d.usage + (limit ? " / " + limit : ""));
      div.append(row);
    }
    return div;
  }));
}

function renderWorkers(list, now) {
  fill($("#workers tbody"), list.map((w) => {
    const tr = document.createElement("tr");
    tr.append(cell(w.worker_instance_id), cell(w.worker_id), cell((w.lanes || []).join(",")), cell(ago(w.last_heartbeat_ms, now)));
    return tr;
  }));
}

function renderScanners(list, now) {
  fill($("#scanners tbody"), list.map((s) => {
    const tr = document.createElement("tr");
    tr.append(cell(s.name), cell(String(s.ticks)), cell(String(s.processed)), cell(String(s.errors)), cell(ago(s.last_run_ms, now)));
    return tr;
  }));
}

async function refresh() {
  try {
    const res = await api("/ui/api/state");
    if (res.status === 401) throw new Error("401: open the dashboard as /#token=<FF_API_TOKEN>");
    if (!res.ok) throw new Error(res.status);
    const st = await res.json();
    $("#meta").textContent = st.database + " · SQLite " + st.sqlite_version + " · schema v" + st.schema_version;
    renderStates(st.states || {});
    renderExecutions(st.executions || [], st.now_ms);
    renderBudgets(st.budgets || []);
    renderWorkers(st.workers || [], st.now_ms);
    renderScanners(st.scanners || [], st.now_ms);
    document.body.dataset.loaded = "1";
    if (selected) refreshDetail();
  } catch (err) {
    $("#meta").textContent = "server unreachable: " + err;
  }
}

async function refreshDetail() {
  const res = await api("/ui/api/execution?id=" + encodeURIComponent(selected));
  if (!res.ok) return;
  const d = await res.json();
  $("#detail").hidden = false;
  $("#detail-id").textContent = selected;
  const vec = d.info.state_vector || {};
  fill($("#detail-vector tbody"), Object.keys(vec).map((k) => {
    const tr = document.createElement("tr");
    tr.append(cell(k), cell(vec[k], k === "public_state" ? "state-" + vec[k] : ""));
    return tr;
  }));
  fill($("#detail-attempts tbody"), (d.attempts || []).map((a) => {
    const tr = document.createElement("tr");
    tr.append(cell(String(a.attempt_index)), cell(a.attempt_type || ""), cell(a.worker_instance_id || ""),
      cell(String(a.lease_epoch)), cell(a.outcome || "running"), cell(ago(a.lease_expires_at_ms, d.now_ms)));
    return tr;
  }));
  $("#detail-events").replaceChildren(...(d.events || []).map((e) => {
    const li = document.createElement("li");
    li.textContent = e.outbox + " #" + e.event_id + " " + e.type + " " + ago(e.at_ms, d.now_ms);
    return li;
  }));
}

$("#detail-close").onclick = () => { selected = null; $("#detail").hidden = true; };
refresh();
setInterval(refresh, 1000);
