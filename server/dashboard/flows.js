// ffsqlite dashboard, flows: lists the flows and draws the selected one
// as a picture of its DAG (SVG): a box per member coloured by its public
// state, an arrow per edge coloured by its state (pending, unsatisfied,
// satisfied, impossible), redrawn every second. The layout comes from
// /ui/api/flow (a column per layer); clicking a box opens the execution.
"use strict";
(() => {
  const q = (sel) => document.querySelector(sel);
  const SVG = "http://www.w3.org/2000/svg";
  const W = 230, H = 46, GX = 70, GY = 18, PAD = 12;
  let chosen = null;

  function request(path) {
    const token = localStorage.getItem("ffsqlite-token");
    return fetch(path, { cache: "no-store", headers: token ? { Authorization: "Bearer " + token } : {} });
  }

  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function td(text, cls) {
    const e = document.createElement("td");
    e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function summary(states) {
    return Object.keys(states || {}).sort().map((s) => s + " " + states[s]).join(", ") || "-";
  }

  // The empty state's command creates a flow (route 17).
  function example() {
    const token = localStorage.getItem("ffsqlite-token");
    const id = crypto.getRandomValues(new Uint8Array(16));
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    const h = Array.from(id, (x) => x.toString(16).padStart(2, "0")).join("");
    const uuid = h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
    let s = "curl -X POST '" + location.origin + "/v1/flows'";
    if (token) s += ' -H "Authorization: Bearer $FF_API_TOKEN"';
    return s + " -H 'Content-Type: application/json' -d '" +
      JSON.stringify({ flow_id: uuid, flow_kind: "dag", namespace: "dev", now: 0 }) + "'";
  }

  function renderList(flows) {
    const empty = q("#flows-empty");
    empty.hidden = flows.length !== 0;
    const pre = empty.querySelector("pre.cmd");
    if (!flows.length && !pre.textContent) pre.textContent = example();
    q("#flows").hidden = flows.length === 0;
    q("#flows tbody").replaceChildren(...flows.map((f) => {
      const tr = document.createElement("tr");
      tr.dataset.id = f.id;
      tr.dataset.state = f.public_flow_state;
      if (f.id === chosen) tr.className = "chosen";
      tr.append(td(f.id), td(f.public_flow_state, "state state-" + f.public_flow_state), td(String(f.graph_revision)),
        td(String(f.members)), td(String(f.edges)), td(summary(f.member_states)));
      tr.onclick = () => { chosen = f.id; refreshFlow(); };
      return tr;
    }));
  }

  function short(id) {
    const i = id.indexOf("}:");
    return i >= 0 ? id.slice(0, i + 2) + id.slice(i + 2, i + 10) + "…" : id;
  }

  function draw(d) {
    const box = q("#flow-view");
    box.hidden = false;
    box.dataset.id = d.flow.id;
    box.dataset.state = d.flow.public_flow_state;
    q("#flow-title").textContent = d.flow.id;
    q("#flow-meta").textContent = d.flow.public_flow_state + " · revision " + d.flow.graph_revision + " · " +
      d.nodes.length + " members · " + d.edges.length + " edges";
    const rows = Math.max(1, ...d.nodes.map((n) => n.order + 1));
    const width = PAD * 2 + Math.max(1, d.layers) * (W + GX) - GX;
    const height = PAD * 2 + rows * (H + GY) - GY;
    const svg = el("svg", { id: "flow-graph", width, height, viewBox: "0 0 " + width + " " + height, role: "img" });
    svg.append(el("title", {}, "DAG of flow " + d.flow.id));
    const defs = el("defs", {});
    for (const s of ["pending", "unsatisfied", "satisfied", "impossible"]) {
      const m = el("marker", { id: "arrow-" + s, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
      m.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow edge-" + s }));
      defs.append(m);
    }
    svg.append(defs);
    const pos = {};
    for (const n of d.nodes) {
      pos[n.id] = { x: PAD + n.layer * (W + GX), y: PAD + n.order * (H + GY) };
    }
    for (const e of d.edges) {
      const a = pos[e.from], b = pos[e.to];
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mid = (x1 + x2) / 2;
      const state = e.state || "pending";
      const p = el("path", {
        d: "M " + x1 + " " + y1 + " C " + mid + " " + y1 + ", " + mid + " " + y2 + ", " + (x2 - 2) + " " + y2,
        class: "edge edge-" + state, "marker-end": "url(#arrow-" + state + ")",
      });
      p.dataset.edge = e.id;
      p.dataset.state = state;
      p.dataset.from = e.from;
      p.dataset.to = e.to;
      p.append(el("title", {}, e.from + " → " + e.to + ": " + state + (e.data ? " (passes data " + e.data + ")" : "")));
      svg.append(p);
    }
    for (const n of d.nodes) {
      const { x, y } = pos[n.id];
      const g = el("g", { class: "node state-" + n.public_state, transform: "translate(" + x + "," + y + ")" });
      g.dataset.id = n.id;
      g.dataset.state = n.public_state;
      g.append(el("title", {}, n.id + "\n" + n.public_state + " · lane " + n.lane + (n.group ? "\n" + n.group : "")));
      g.append(el("rect", { width: W, height: H, rx: 6 }));
      g.append(el("text", { x: 8, y: 18, class: "node-id" }, short(n.id)));
      g.append(el("text", { x: 8, y: 36, class: "node-state" }, n.public_state + (n.group ? " · " + n.group : "")));
      g.onclick = () => {
        if (typeof window.openExecution === "function") window.openExecution(n.id);
      };
      svg.append(g);
    }
    q("#flow-graph-box").replaceChildren(svg);
  }

  async function refreshFlow() {
    if (!chosen) return;
    const id = chosen;
    try {
      const res = await request("/ui/api/flow?id=" + encodeURIComponent(id));
      if (!res.ok || id !== chosen) return;
      draw(await res.json());
    } catch (err) {
      // app.js reports an unreachable server.
    }
  }

  async function refresh() {
    try {
      const res = await request("/ui/api/flows");
      if (!res.ok) return;
      const d = await res.json();
      renderList(d.flows || []);
      document.body.dataset.flowsLoaded = "1";
    } catch (err) {
      return;
    }
    refreshFlow();
  }

  q("#flow-close").onclick = () => { chosen = null; q("#flow-view").hidden = true; };
  refresh();
  setInterval(refresh, 1000);
})();
