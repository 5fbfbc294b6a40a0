// ffsqlite dashboard: polls the server's JSON and redraws. No framework,
// no CDN: everything is embedded in the binary and works offline.
"use strict";
const $ = (sel) => document.querySelector(sel);
let selected = null;
let shownPriorityFor = null; // the execution whose priority the input holds

// With FF_API_TOKEN set, open the dashboard as /#token=<token>: the token
// stays in this browser (localStorage) and is sent as a bearer header, on
// reads and on the action buttons alike.
const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
if (hashToken) {
  localStorage.setItem("ffsqlite-token", hashToken);
  history.replaceState(null, "", location.pathname);
}
const token = () => localStorage.getItem("ffsqlite-token");

function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (token()) headers.Authorization = "Bearer " + token();
  return fetch(path, Object.assign({ cache: "no-store" }, opts, { headers }));
}

// uuid is a random (v4) UUID; crypto.randomUUID needs a secure context,
// getRandomValues does not.
function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
}

// curl is a command line that calls this server; with a token it sends
// $FF_API_TOKEN (the token itself is never printed).
function curl(method, path, body) {
  let s = "curl -X " + method + " '" + location.origin + path + "'";
  if (token()) s += ' -H "Authorization: Bearer $FF_API_TOKEN"';
  if (body !== undefined) s += " -H 'Content-Type: application/json' -d '" + JSON.stringify(body) + "'";
  return s;
}

// The empty states' commands, made once per page so they stay put.
const examples = {
  execution: () => curl("POST", "/v1/executions", {
    execution_id: "{fp:0}:" + uuid(), namespace: "dev", lane_id: "default", execution_kind: "hello",
    input_payload: [123, 125], priority: 0, creator_identity: "curl", partition_id: 0, now: 0,
  }),
  budget: () => curl("POST", "/v1/budgets", {
    budget_id: uuid(), scope_type: "namespace", scope_id: "dev", enforcement_mode: "strict",
    on_hard_limit: "fail", on_soft_limit: "warn", reset_interval_ms: 0, dimensions: ["tokens"],
    hard_limits: [1000], soft_limits: [800], now: 0,
  }),
  worker: () => curl("POST", "/v1/worker/claim", {
    worker_id: "my-worker", worker_instance_id: "my-worker-1", lane_id: "default", lease_ttl_ms: 30000, block_ms: 10000,
  }),
};

function showEmpty(id, empty, example) {
  const box = $(id);
  box.hidden = !empty;
  const pre = box.querySelector("pre.cmd");
  if (empty && pre && !pre.textContent) pre.textContent = examples[example]();
}

function ago(ms, now) {
  if (!ms) return "-";
  const d = Math.round((now - ms) / 1000);
  if (d < 0) return "in " + (-d) + "s";
  if (d < 60) return d + "s ago";
  if (d < 3600) return Math.floor(d / 60) + "m ago";
  return Math.floor(d / 3600) + "h ago";
}

function when(ms, now) {
  return ago(ms, now) + " (" + new Date(ms).toISOString() + ")";
}

function bytes(n) {
  return n === 1 ? "1 byte" : n + " bytes";
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
  $("#exec-count").textContent = list.length ? "(" + list.length + " most recent)" : "";
  showEmpty("#executions-empty", list.length === 0, "execution");
  $("#executions").hidden = list.length === 0;
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

const budgetLabels = { soft_breach: "soft limit passed", breach: "hard limit breached" };
const dimensionLabels = { over_soft: "over the soft limit", at_hard: "at the hard limit" };

function renderBudgets(list) {
  showEmpty("#budgets-empty", list.length === 0, "budget");
  $("#budgets").replaceChildren(...list.map((b) => {
    const div = document.createElement("div");
    div.className = "budget status-" + b.status;
    div.dataset.id = b.budget_id;
    div.dataset.status = b.status;
    const title = document.createElement("div");
    const code = document.createElement("code");
    code.textContent = b.budget_id;
    title.append(code);
    if (budgetLabels[b.status]) {
      const badge = document.createElement("span");
      badge.className = "badge " + b.status;
      badge.textContent = budgetLabels[b.status];
      title.append(" ", badge);
    }
    if (b.breach_count || b.soft_breach_count) {
      const counts = document.createElement("span");
      counts.className = "muted";
      counts.textContent = " " + b.breach_count + " hard / " + b.soft_breach_count + " soft breaches";
      title.append(counts);
    }
    div.append(title);
    for (const d of b.dimensions || []) {
      const row = document.createElement("div");
      row.className = "dim " + d.status;
      row.dataset.dim = d.dimension;
      row.dataset.status = d.status;
      const limit = d.hard_limit || d.soft_limit || 0;
      const pct = limit ? Math.min(100, Math.round(100 * d.usage / limit)) : 0;
      const bar = document.createElement("span");
      bar.className = "bar " + d.status;
      const fillEl = document.createElement("span");
      fillEl.style.width = pct + "%";
      bar.append(fillEl);
      const limits = [];
      if (d.soft_limit) limits.push("soft " + d.soft_limit);
      if (d.hard_limit) limits.push("hard " + d.hard_limit);
      row.append(d.dimension + " ", bar, " " + d.usage + (limits.length ? " (" + limits.join(", ") + ")" : ""));
      if (dimensionLabels[d.status]) {
        const badge = document.createElement("span");
        badge.className = "badge " + d.status;
        badge.textContent = dimensionLabels[d.status];
        row.append(" ", badge);
      }
      div.append(row);
    }
    return div;
  }));
}

function renderWorkers(list, now) {
  showEmpty("#workers-empty", list.length === 0, "worker");
  $("#workers").hidden = list.length === 0;
  fill($("#workers tbody"), list.map((w) => {
    const tr = document.createElement("tr");
    tr.dataset.id = w.worker_instance_id;
    tr.dataset.status = w.status;
    if (w.status === "expired") tr.className = "expired";
    const status = w.status === "expired" ? "expired " + ago(w.expires_at_ms, now) : "alive, expires " + ago(w.expires_at_ms, now);
    tr.append(cell(w.worker_instance_id), cell(w.worker_id), cell((w.lanes || []).join(",")), cell(ago(w.last_heartbeat_ms, now)),
      cell(status, "status-" + w.status));
    return tr;
  }));
}

function renderScanners(list, now) {
  $("#scanners-empty").hidden = list.length !== 0;
  $("#scanners").hidden = list.length === 0;
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

function summaryRows(s, now) {
  const rows = [];
  const add = (field, label, value) => {
    const tr = document.createElement("tr");
    tr.dataset.field = field;
    tr.append(cell(label), cell(value));
    rows.push(tr);
  };
  if (s.failure_class || s.failure_reason) {
    add("failure", "failure", (s.failure_class ? s.failure_class + ": " : "") + (s.failure_reason || ""));
  }
  if (s.delay_until_ms) add("delay", "runs again", when(s.delay_until_ms, now));
  if (s.deadline_at_ms) add("deadline", "deadline", when(s.deadline_at_ms, now));
  add("result", "result", s.result_size === null || s.result_size === undefined ? "none" : bytes(s.result_size));
  add("payload", "input", bytes(s.payload_size));
  add("retries", "retries / replays", s.retry_count + " / " + s.replay_count);
  if (s.cancellation_reason) add("cancellation", "cancelled", s.cancellation_reason);
  if (s.progress) add("progress", "progress", s.progress.pct + "% " + s.progress.message + " (" + ago(s.progress.updated_at_ms, now) + ")");
  return rows;
}

async function refreshDetail() {
  const id = selected;
  const res = await api("/ui/api/execution?id=" + encodeURIComponent(id));
  if (!res.ok || id !== selected) return;
  const d = await res.json();
  $("#detail").hidden = false;
  $("#detail").dataset.id = id;
  $("#detail-id").textContent = id;
  const vec = d.info.state_vector || {};
  const terminal = vec.lifecycle_phase === "terminal";
  $("#act-cancel").disabled = terminal;
  $("#act-replay").disabled = !terminal;
  $("#act-priority").disabled = d.info.public_state !== "waiting";
  $("#act-priority").title = d.info.public_state === "waiting" ? "PUT /v1/executions/{id}/priority" : "only a waiting execution's priority can change";
  if (shownPriorityFor !== id) {
    $("#act-priority-value").value = d.info.priority;
    shownPriorityFor = id;
  }
  fill($("#detail-summary tbody"), summaryRows(d.summary || {}, d.now_ms));
  fill($("#detail-vector tbody"), Object.keys(vec).map((k) => {
    const tr = document.createElement("tr");
    tr.append(cell(k), cell(vec[k], k === "public_state" ? "state-" + vec[k] : ""));
    return tr;
  }));
  fill($("#detail-attempts tbody"), (d.attempts || []).map((a) => {
    const tr = document.createElement("tr");
    const failure = a.failure_class ? a.failure_class + (a.failure_reason ? ": " + a.failure_reason : "") : "";
    tr.append(cell(String(a.attempt_index)), cell(a.attempt_type || ""), cell(a.worker_instance_id || ""),
      cell(String(a.lease_epoch)), cell(a.outcome || "running"), cell(failure), cell(ago(a.lease_expires_at_ms, d.now_ms)));
    return tr;
  }));
  const events = (d.events || []).map((e) => {
    const li = document.createElement("li");
    li.textContent = e.outbox + " #" + e.event_id + " " + e.type + " " + ago(e.at_ms, d.now_ms);
    return li;
  });
  if (!events.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "no events yet";
    events.push(li);
  }
  $("#detail-events").replaceChildren(...events);
  streamView(id, d.info.current_attempt_index); // streams.js
}

// act calls one REST route for the selected execution and shows what it
// answered: the result, or the error envelope's message.
async function act(name, method, suffix, body) {
  const id = selected;
  const status = $("#act-status");
  status.textContent = name + "…";
  delete status.dataset.result;
  const opts = { method };
  if (body !== undefined) {
    opts.headers = { "Content-Type": "application/json" };
    opts.body = JSON.stringify(body);
  }
  const res = await api("/v1/executions/" + encodeURIComponent(id) + suffix, opts);
  const text = await res.text();
  let msg = text;
  try {
    const v = JSON.parse(text);
    msg = res.ok ? (typeof v === "string" ? v : Object.keys(v)[0] || text) : v.error || text;
  } catch (e) { /* not JSON: show it as is */ }
  status.textContent = name + ": " + (res.ok ? msg : "error " + res.status + ": " + msg);
  status.dataset.result = res.ok ? "ok" : "error";
  status.dataset.action = name;
  await refresh();
  await refreshDetail();
}

$("#act-cancel").onclick = () => act("cancel", "POST", "/cancel",
  { execution_id: selected, reason: "cancelled from the dashboard", now: Date.now() });
$("#act-replay").onclick = () => act("replay", "POST", "/replay");
$("#act-priority").onclick = () => {
  const v = Number($("#act-priority-value").value);
  if (!Number.isInteger(v)) {
    $("#act-status").textContent = "priority: a whole number, please";
    return;
  }
  act("priority", "PUT", "/priority", { new_priority: v });
};
$("#detail-close").onclick = () => { selected = null; shownPriorityFor = null; $("#detail").hidden = true; };
// openExecution shows an execution's detail (the flow picture's boxes
// call it).
function openExecution(id) {
  selected = id;
  refreshDetail();
}
refresh();
setInterval(refresh, 1000);
