/* The run page's header card: name, status badge, "stopping…", epoch and whole-run progress bar
 * (with samples/s and ETA while running, a queued run's place and estimated start), the facts
 * (device, the monitored metric's best value and epoch, times, parent run, why it stopped early),
 * the run's error, and which action buttons show. `render` takes each new run object the API
 * or the event stream sends and updates only the text that changed. */

import { $, h, setText } from "../shared/dom.js";
import { fmtDuration, fmtMetric, fmtPlacement, fmtTime, parseTime } from "../shared/format.js";
import { stepsPerSecond } from "./pace.js";

export const TERMINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);

/** How much of the whole run is done, 0..1: finished epochs plus the running epoch's batches,
 * over the epochs asked for. A succeeded run is whole, even when early stopping ended it. */
export function runFraction(run) {
  if (run.status === "succeeded") return 1;
  const maxEpochs = run.max_epochs || 0;
  if (!maxEpochs) return 0;
  const progress = run.progress || { batch: 0, batches: 0 };
  const inEpoch = run.status === "running" && progress.batches ? Math.min(progress.batch || 0, progress.batches) / progress.batches : 0;
  return Math.min(1, ((run.epoch || 0) + inEpoch) / maxEpochs);
}

function renderProgress(run) {
  const fraction = runFraction(run);
  const percent = Math.round(fraction * 100);
  setText("run-epoch", `epoch ${run.epoch}/${run.max_epochs}`);
  setText("run-percent", `${percent}%`);
  const progress = run.progress || { batch: 0, batches: 0 };
  const done = run.status === "succeeded";
  const batches = progress.batches || 0;
  const batch = Math.min(progress.batch || 0, batches);
  const bar = $("progress-bar");
  bar.querySelector(".progress-fill").style.width = `${(fraction * 100).toFixed(1)}%`;
  bar.classList.toggle("done", done);
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(percent));
  bar.setAttribute("aria-valuetext", `${percent}% of ${run.max_epochs} epochs`);
  let progressText = "";
  if (batches && run.status === "running") {
    progressText = `batch ${batch}/${batches}`;
    const rate = stepsPerSecond();
    if (rate) {
      const batchSize = run.config && run.config.batch_size ? run.config.batch_size : 0;
      const left = (run.max_epochs - run.epoch) * batches - batch;
      progressText += ` · ${Math.round(rate * batchSize).toLocaleString("en-US")} samples/s · ETA ${fmtDuration(left / rate)}`;
    }
  }
  setText("progress-text", progressText || queueText(run));
}

// A queued run: its place and estimated start; a run before its first epoch: the Check's ETA.
function queueText(run) {
  const parts = [];
  if (run.status === "queued" && run.queue_position) parts.push(`#${run.queue_position} in the queue`);
  const startsAt = run.status === "queued" ? parseTime(run.estimated_start_at) : null;
  if (startsAt) parts.push(`starts ≈ ${startsAt.toLocaleTimeString()}`);
  if (run.status === "queued" && run.waiting_reason) parts.push(run.waiting_reason);
  if ((run.status === "queued" || run.status === "running") && run.epoch === 0 && run.estimated_epoch_seconds) {
    parts.push(`ETA ~${fmtDuration(run.max_epochs * run.estimated_epoch_seconds)} (Check estimate)`);
  }
  return parts.join(" · ");
}

function renderFacts(run) {
  setText("run-device", fmtPlacement(run));
  const waiting = run.status === "queued" && run.waiting_reason;
  $("run-waiting-wrap").hidden = !waiting;
  setText("run-waiting", waiting || "");
  const monitor = run.monitor || "val_accuracy";
  const best = run.best_metric ?? (monitor === "val_accuracy" ? run.best_val_accuracy : null);
  setText("run-best-label", `Best ${monitor}${run.monitor_mode ? ` (${run.monitor_mode})` : ""}`);
  const at = best !== null && best !== undefined && run.best_epoch ? ` at epoch ${run.best_epoch}` : "";
  setText("run-best", fmtMetric(monitor, best) + at);
  setText("run-created", fmtTime(run.created_at));
  setText("run-started", fmtTime(run.started_at));
  setText("run-finished", fmtTime(run.finished_at));
  $("run-stop-wrap").hidden = !run.stop_reason;
  setText("run-stop-reason", run.stop_reason || "");
  if (run.parent_run_id !== null && run.parent_run_id !== undefined) {
    $("run-parent-wrap").hidden = false;
    const label = `#${run.parent_run_id}` + (run.fork_epoch !== null && run.fork_epoch !== undefined ? ` at epoch ${run.fork_epoch}` : "");
    $("run-parent").replaceChildren(h("a", { href: `/runs/${run.parent_run_id}`, text: label }));
  }
}

/** The run's main action once it has ended: "extend" for a run that trained all its epochs
 * (more epochs are the only way on), "resume" for one stopped before them. */
export function mainAction(run) {
  if (!TERMINAL.has(run.status)) return null;
  return run.status === "succeeded" && run.epoch >= run.max_epochs ? "extend" : "resume";
}

function renderButtons(run, stopping) {
  const cancel = $("cancel-button");
  cancel.hidden = !(run.status === "queued" || run.status === "running");
  cancel.disabled = stopping;
  cancel.textContent = stopping ? "Stopping…" : "Cancel";
  const action = mainAction(run);
  $("resume-controls").hidden = !action;
  $("delete-button").hidden = !TERMINAL.has(run.status);
  const resume = $("resume-button");
  const epochs = $("resume-max-epochs");
  resume.dataset.action = action || "";
  resume.textContent = action === "extend" ? "Extend" : "Resume";
  setText("resume-epochs-label", action === "extend" ? "to epochs" : "max epochs");
  epochs.required = action === "extend";
  // Extending needs a new, higher limit: offer ten more epochs.
  if (action === "extend" && (epochs.value === "" || Number(epochs.value) <= run.max_epochs)) epochs.value = String(run.max_epochs + 10);
  if (action !== "extend" && epochs.dataset.offered === "1") epochs.value = "";
  epochs.dataset.offered = action === "extend" ? "1" : "";
}

/** The header: {render(run), current()}. `onFinished()` runs when the run reaches a terminal
 * status; `onChange(prev, run)` after every render. */
export function createHeader({ onFinished, onChange }) {
  let run = null;

  function render(next) {
    const prev = run;
    run = next;
    document.title = `${run.name} · torchdash`;
    setText("run-name", run.name);

    const badge = $("run-status");
    badge.textContent = run.status;
    badge.className = `badge status-${run.status}`;
    const stopping = Boolean(run.stop_requested) && !TERMINAL.has(run.status);
    $("run-stopping").hidden = !stopping;

    renderProgress(run);
    renderFacts(run);

    const errorEl = $("run-error");
    errorEl.hidden = !run.error;
    setText("run-error", run.error || "");

    renderButtons(run, stopping);
    // "live" only while the run can still change: an ended run's page is a record.
    $("live-indicator").hidden = TERMINAL.has(run.status);
    if (TERMINAL.has(run.status) && (!prev || !TERMINAL.has(prev.status))) onFinished();
    $("resume-max-epochs").placeholder = String(run.max_epochs);
    onChange(prev, run);
  }

  return { render, current: () => run };
}
