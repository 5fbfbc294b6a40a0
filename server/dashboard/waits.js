// ffsqlite dashboard, durable waits: lists the open waitpoints (what each
// suspended execution waits on) and delivers a signal from the browser. It
// reads the waitpoint's token through route 6 only when sending, then
// posts route 9 exactly as any client would.
"use strict";
(() => {
  const q = (sel) => document.querySelector(sel);
  let target = null;

  function request(method, path, body) {
    const token = localStorage.getItem("ffsqlite-token");
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const init = { method, cache: "no-store", headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  }

  function td(text, cls) {
    const el = document.createElement("td");
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  // short keeps long ids readable in the table; the full text is the
  // cell's tooltip.
  function short(text) {
    const el = td(text.length > 20 ? text.slice(0, 18) + "…" : text);
    el.title = text;
    return el;
  }

  function until(ms, now) {
    if (!ms) return "-";
    const d = Math.round((ms - now) / 1000);
    return d >= 0 ? "in " + d + "s" : (-d) + "s ago";
  }

  function execPath(id) {
    return "/v1/executions/" + encodeURIComponent(id);
  }

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function render(list, now) {
    q("#waits-count").textContent = "(" + list.length + " open waitpoints)";
    q("#waitpoints tbody").replaceChildren(...list.map((w) => {
      const tr = document.createElement("tr");
      tr.dataset.waitpoint = w.waitpoint_id;
      tr.dataset.execution = w.execution_id;
      tr.dataset.state = w.state;
      const names = w.required_signal_names || [];
      const btn = document.createElement("button");
      btn.textContent = "signal…";
      btn.className = "signal-open";
      btn.onclick = (ev) => {
        ev.stopPropagation();
        target = w;
        q("#signal-target").textContent = w.waitpoint_key + " of " + w.execution_id;
        q("#signal-name").value = names.find((n) => !n.startsWith("__")) || "";
        q("#signal-result").textContent = "";
        delete q("#signal-result").dataset.outcome;
        q("#signal-form").hidden = false;
      };
      const action = document.createElement("td");
      action.append(btn);
      tr.append(td(w.execution_id), td(w.public_state, "state state-" + w.public_state), short(w.waitpoint_id),
        short(w.waitpoint_key), td(names.length ? names.join(", ") : "any"), td(w.token_kid), td(w.token_fingerprint),
        td(String(w.signal_count)), td(until(w.expires_at_ms, now)), action);
      return tr;
    }));
  }

  async function refresh() {
    try {
      const res = await request("GET", "/ui/api/waits");
      if (!res.ok) return;
      const d = await res.json();
      render(d.waitpoints || [], d.now_ms);
    } catch (err) {
      // app.js reports an unreachable server.
    }
  }

  // The payload field is sent as the signal's bytes (UTF-8).
  async function deliver(ev) {
    ev.preventDefault();
    if (!target) return;
    const out = q("#signal-result");
    const show = (outcome, text) => { out.dataset.outcome = outcome; out.textContent = text; };
    try {
      const tr = await request("GET", execPath(target.execution_id) + "/waitpoints/" + target.waitpoint_id + "/token");
      const tok = await tr.json();
      if (!tr.ok) return show("error", tok.error || String(tr.status));
      const body = {
        execution_id: target.execution_id, waitpoint_id: target.waitpoint_id, signal_id: uuid(),
        signal_name: q("#signal-name").value, signal_category: "dashboard", source_type: "human",
        source_identity: "dashboard", target_scope: "execution", waitpoint_token: tok.token, now: Date.now(),
      };
      const payload = q("#signal-payload").value;
      if (payload !== "") {
        body.payload = [...new TextEncoder().encode(payload)];
        body.payload_encoding = "json";
      }
      const res = await request("POST", execPath(target.execution_id) + "/signal", body);
      const d = await res.json();
      if (!res.ok) return show("error", d.error || String(res.status));
      if (d.Accepted) return show(d.Accepted.effect, "accepted: " + d.Accepted.effect);
      show("duplicate", "duplicate of " + d.Duplicate.existing_signal_id);
    } catch (err) {
      show("error", String(err));
    }
    refresh();
  }

  q("#signal-form").onsubmit = deliver;
  q("#signal-cancel").onclick = () => { target = null; q("#signal-form").hidden = true; };
  refresh();
  setInterval(refresh, 1000);
})();
