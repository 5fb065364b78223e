/* The run page's log: the worker's output streamed from /api/runs/{id}/log/events into the
 * log box, keeping its last 200,000 characters and scrolling to the end while "follow" is on. */

import { $ } from "../shared/dom.js";

const MAX_LOG_CHARS = 200000;

/** Open the log stream of run `runId`; `onData()` hears of each chunk. Returns the EventSource. */
export function followLog(runId, onData) {
  const pre = $("run-log");
  let started = false;
  const source = new EventSource(`/api/runs/${runId}/log/events`);
  source.addEventListener("log", (e) => {
    const { text } = JSON.parse(e.data);
    if (!started) { pre.textContent = ""; started = true; }
    pre.append(text);
    if (pre.textContent.length > MAX_LOG_CHARS) pre.textContent = pre.textContent.slice(-MAX_LOG_CHARS);
    if ($("log-follow").checked) pre.scrollTop = pre.scrollHeight;
    onData();
  });
  return source;
}
