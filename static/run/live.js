/* Live updates of the run page: the run's Server-Sent Events (/api/runs/{id}/events) — a new
 * run object, an epoch row, or a batch of step rows — handed to the page, and the header's
 * live indicator (live, reconnecting…, disconnected, offline). */

import { $ } from "../shared/dom.js";

/** Show the connection state in the live indicator. */
export function setLive(on, text) {
  const el = $("live-indicator");
  el.className = `live ${on ? "on" : "off"}`;
  el.textContent = text;
}

/** Follow run `runId`'s events after epoch `sinceEpoch`, step `sinceStep` and system row
 * `sinceSystem`. `handlers` has run(run), epoch(row), steps(rows) and system(rows). Returns the
 * EventSource. */
export function follow(runId, sinceEpoch, sinceStep, handlers, sinceSystem = 0) {
  const since = `since_epoch=${sinceEpoch}&since_step=${sinceStep}&since_system=${sinceSystem}`;
  const source = new EventSource(`/api/runs/${runId}/events?${since}`);
  source.addEventListener("open", () => setLive(true, "live"));
  source.addEventListener("error", () => setLive(false, source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting…"));
  source.addEventListener("run", (e) => handlers.run(JSON.parse(e.data)));
  source.addEventListener("epoch", (e) => handlers.epoch(JSON.parse(e.data)));
  source.addEventListener("steps", (e) => handlers.steps(JSON.parse(e.data)));
  if (handlers.system) source.addEventListener("system", (e) => handlers.system(JSON.parse(e.data)));
  return source;
}
