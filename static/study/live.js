/* Live updates of the study page: the study's Server-Sent Events (/api/studies/{id}/events)
 * say when something changed, and the page reads the study again; where that stream cannot be
 * opened (or closes), the page polls instead while the study runs. The live indicator says
 * which: "live" or "polling". */

import { $ } from "../shared/dom.js";

const POLL_MS = 2000;

function setLive(on, text) {
  const el = $("live-indicator");
  el.className = `live ${on ? "on" : "off"}`;
  el.textContent = text;
}

/** Call `reload()` whenever study `studyId` changes, until `finished()` says it is over.
 * Returns {mode()}: "sse" or "poll". */
export function followStudy(studyId, reload, finished) {
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
  // Any event of the stream means something changed: the page reads the whole study again.
  for (const name of ["message", "study", "trial", "progress", "epoch", "run"]) source.addEventListener(name, soon);
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) { setLive(false, "reconnecting…"); return; }
    if (mode === "poll") return;
    mode = "poll";
    setLive(!finished(), finished() ? "finished" : "polling");
    if (!finished()) setTimeout(poll, POLL_MS);
  });
  return { mode: () => mode, close: () => source.close() };
}
