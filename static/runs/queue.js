/* What the runs list says about a run's place in time: for a queued run its position, its
 * estimated start and buttons to move it to the top or bottom of the queue (POST
 * /api/runs/{id}/queue); why a run waits; why a run stopped early; its tags, each a link that
 * filters the list by it. */

import { h } from "../shared/dom.js";
import { fmtDuration, parseTime } from "../shared/format.js";

/** Seconds left of a running or queued run: real epochs once there are any, else the
 * estimate its "Check" gave (estimated_epoch_seconds); null when neither is known. */
export function secondsLeft(run, summary, inEpoch) {
  const perEpoch = (summary && summary.epoch_seconds) || run.estimated_epoch_seconds;
  if (!perEpoch) return null;
  return (run.max_epochs - run.epoch - (inEpoch || 0)) * perEpoch;
}

/** The line under a queued run's status: "#2 in queue · starts in ~3 min", and its moves. */
export function queueLine(run) {
  if (run.status !== "queued") return null;
  const parts = [];
  if (run.queue_position !== null && run.queue_position !== undefined) parts.push(`#${run.queue_position} in queue`);
  const startsAt = parseTime(run.estimated_start_at);
  if (startsAt) {
    const wait = (startsAt - new Date()) / 1000;
    parts.push(wait > 1 ? `starts in ~${fmtDuration(wait)}` : "starts next");
  }
  if (run.waiting_reason) parts.push(run.waiting_reason);
  return h("div", { class: "queue-line small-text muted" },
    h("span", { class: "queue-info", text: parts.join(" · ") }),
    // Icons only, named for screen readers: the list keeps its columns with many queued runs.
    h("button", { type: "button", class: "button secondary small queue-move", dataset: { position: "top", runId: run.id }, text: "⤒", title: "Start this run next", "aria-label": `Move run ${run.id} to the top of the queue` }),
    h("button", { type: "button", class: "button secondary small queue-move", dataset: { position: "bottom", runId: run.id }, text: "⤓", title: "Start this run after every other queued run", "aria-label": `Move run ${run.id} to the bottom of the queue` }));
}

/** Why the run ended before max_epochs of its own accord (early stopping). */
export function stopReasonLine(run) {
  return run.stop_reason ? h("div", { class: "stop-reason small-text", title: run.stop_reason, text: run.stop_reason }) : null;
}

/** The run's tags as chips; clicking one filters the list by it. */
export function tagChips(run) {
  if (!run.tags || !run.tags.length) return null;
  return h("span", { class: "tags" }, run.tags.map((tag) => h("button", { type: "button", class: "tag", dataset: { tag }, title: `Show runs tagged ${tag}`, text: tag })));
}

/** Move a queued run; resolves to an error message or null. */
export async function moveInQueue(runId, position) {
  const response = await fetch(`/api/runs/${runId}/queue`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ position }),
  });
  if (response.ok) return null;
  const body = await response.json().catch(() => null);
  return `Could not move run #${runId}: ${body && body.detail ? JSON.stringify(body.detail) : `HTTP ${response.status}`}`;
}
