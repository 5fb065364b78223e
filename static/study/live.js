/* Live updates of the study page: the study's Server-Sent Events (/api/studies/{id}/events)
 * bring the whole study (a `study` event, shaped as GET /api/studies/{id}) whenever it changes;
 * where that stream cannot be opened (or is closed for good), the page polls instead while the
 * study runs. The live indicator says which: "live" or "polling". */

import { $ } from "../shared/dom.js";

const POLL_MS = 2000;

function setLive(on, text) {
  const el = $("live-indicator");
  el.className = `live ${on ? "on" : "off"}`;
  el.textContent = text;
}

/** Hand each new state of study `studyId` to `show(study)`; `reload()` reads it when the stream
 * is out of reach, until `finished()` says it is over. Returns {mode()}: "sse" or "poll". */
export function followStudy(studyId, show, reload, finished) {
  let mode = "sse";
  let pending = null;
  const soon = () => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; reload(); }, 200);
  };
  const poll = async () => {
    await reload();
    if (finished()) { setLive(false, "finished"); return; }
    setTimeout(poll, POLL_MS);
  };
  const source = new EventSource(`/api/studies/${studyId}/events`);
  source.addEventListener("open", () => setLive(true, "live"));
  source.addEventListener("study", (e) => show(JSON.parse(e.data)));
  // An event without the study in it still means something changed: read it again.
  source.addEventListener("message", soon);
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) { setLive(false, "reconnecting…"); return; }
    if (mode === "poll") return;
    mode = "poll";
    setLive(!finished(), finished() ? "finished" : "polling");
    if (!finished()) setTimeout(poll, POLL_MS);
  });
  return { mode: () => mode, close: () => source.close() };
}
