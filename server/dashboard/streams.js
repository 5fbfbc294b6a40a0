// The execution page's live stream view: tails the current attempt's
// stream through route 16 (long-poll, woken by each append) and shows
// the frames as they arrive, until the stream closes or another
// execution is opened. Uses api() and $ from app.js.
"use strict";
let streamTail = null; // {id, idx, stop} of the running tail

function streamURL(id, idx) {
  return "/v1/executions/" + encodeURIComponent(id) + "/attempts/" + idx + "/stream/tail";
}

function streamFrameItem(f) {
  const li = document.createElement("li");
  li.dataset.frame = f.id;
  const fields = f.fields || {};
  const head = document.createElement("span");
  head.className = "muted";
  head.textContent = f.id + " " + (fields.frame_type || "") + (fields.mode && fields.mode !== "durable" ? " (" + fields.mode + ")" : "") + " ";
  const body = document.createElement("code");
  body.textContent = fields.payload || "";
  li.append(head, body);
  return li;
}

function streamStatus(text, state) {
  const meta = $("#stream-meta");
  meta.textContent = text;
  meta.dataset.state = state;
}

// streamView (called by refreshDetail) starts tailing attempt idx of
// execution id unless that tail already runs.
function streamView(id, idx) {
  if (streamTail && streamTail.id === id && streamTail.idx === idx) return;
  if (streamTail) streamTail.stop = true;
  const tail = { id, idx, stop: false };
  streamTail = tail;
  $("#detail-stream").replaceChildren();
  $("#detail-stream-box").dataset.attempt = String(idx);
  streamStatus("attempt " + idx + " · waiting for frames", "open");
  (async () => {
    let after = "0-0";
    let count = 0;
    while (!tail.stop && selected === id) {
      let page;
      try {
        const res = await api(streamURL(id, idx) + "?block_ms=25000&limit=200&after=" + encodeURIComponent(after));
        if (res.status === 429) { await new Promise((r) => setTimeout(r, 1000)); continue; }
        if (!res.ok) { streamStatus("attempt " + idx + " · tail failed: " + res.status, "error"); return; }
        page = await res.json();
      } catch (err) {
        streamStatus("attempt " + idx + " · tail failed: " + err, "error");
        return;
      }
      if (tail.stop) return;
      const list = $("#detail-stream");
      for (const f of page.frames) {
        list.append(streamFrameItem(f));
        after = f.id;
        count++;
      }
      if (page.closed_at) {
        streamStatus("attempt " + idx + " · " + count + " frames · closed " + page.closed_reason, "closed");
        $("#detail-stream-box").dataset.closed = page.closed_reason;
        return;
      }
      streamStatus("attempt " + idx + " · " + count + " frames · live", "open");
    }
  })();
}
