/* One row of the home page's runs table: select box, id, name, sweep group and tags, status
 * badge (with a queued run's place and moves, or why a run stopped early), progress bar with ETA, the best value of the metric the run monitors (named), a validation-loss sparkline, duration,
 * cost (GPU-hours and energy), device and age. Also the per-run values (progress, duration) that
 * sorting uses. */

import { h } from "../shared/dom.js";
import { fmtDuration, fmtMetric, fmtPlacement, MISSING, parseTime, relativeTime } from "../shared/format.js";
import { queueLine, secondsLeft, stopReasonLine, tagChips } from "./queue.js";
import { fmtEnergy, fmtGpuHours } from "../shared/cost.js";

/** Seconds the run has trained (so far, while running); null before it started. */
export function duration(run) {
  const start = parseTime(run.started_at);
  if (!start) return null;
  const end = run.status === "running" ? new Date() : parseTime(run.finished_at);
  return end ? (end - start) / 1000 : null;
}

/** Fraction of the run done and seconds left, from the mean epoch time so far (or the
 * checked estimate before the first epoch). */
export function progressOf(run, summary) {
  const batches = run.progress ? run.progress.batches : 0;
  const inEpoch = batches && run.status === "running" ? run.progress.batch / batches : 0;
  const done = run.status === "succeeded" ? 1 : Math.min(1, (run.epoch + inEpoch) / run.max_epochs);
  const eta = run.status === "running" || run.status === "queued" ? secondsLeft(run, summary, inEpoch) : null;
  return { done, eta, estimated: !(summary && summary.epoch_seconds) };
}

function sparkline(values) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("viewBox", "0 0 100 24");
  svg.setAttribute("preserveAspectRatio", "none");
  const finite = (values || []).filter(Number.isFinite);
  if (finite.length < 2) return svg;
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const points = finite.map((v, i) => `${(i / (finite.length - 1)) * 100},${22 - ((v - lo) / (hi - lo || 1)) * 20}`);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.join(" "));
  svg.append(line);
  const title = document.createElementNS(ns, "title");
  title.textContent = `val loss ${finite[0].toFixed(3)} → ${finite[finite.length - 1].toFixed(3)}`;
  svg.append(title);
  return svg;
}

function statusBadge(run) {
  const text = run.stop_requested && run.status === "running" ? "stopping…" : run.status;
  return h("span", { class: `badge status-${run.status}`, title: run.error || run.status, text });
}

/** The <tr> of `run`; `selected` says whether its box is ticked, `onSelect(checked)` hears of
 * a change. */
export function runRow(run, summary, selected, onSelect) {
  const created = parseTime(run.created_at);
  const monitor = run.monitor || "val_accuracy";
  const best = run.best_metric ?? (monitor === "val_accuracy" ? run.best_val_accuracy : null);
  const { done, eta, estimated } = progressOf(run, summary);
  const box = h("input", { type: "checkbox", class: "run-select", "aria-label": `select run ${run.id}`, checked: selected });
  box.addEventListener("change", () => onSelect(box.checked));
  return h("tr", { "data-run-id": run.id, class: selected ? "selected" : null },
    h("td", { class: "select-col" }, box),
    h("td", { class: "num" }, h("a", { href: `/runs/${run.id}`, text: `#${run.id}` })),
    h("td", { class: "name-col" }, h("a", { href: `/runs/${run.id}`, text: run.name }),
      run.group_name ? h("span", { class: "group-tag", title: "sweep group", text: run.group_name }) : null,
      tagChips(run)),
    // A queued run's waiting reason is part of its queue line: said once.
    h("td", { class: "status-col" }, statusBadge(run), queueLine(run), stopReasonLine(run)),
    h("td", { class: "epoch" },
      h("span", { class: "mini-progress", title: `${(done * 100).toFixed(0)}%` }, h("span", { style: `width:${(done * 100).toFixed(1)}%` })),
      ` ${run.epoch}/${run.max_epochs}`,
      eta !== null ? h("span", { class: "eta muted", title: estimated ? "from the Check estimate" : "from the epochs so far", text: ` · ${run.status === "queued" ? "takes" : "ETA"} ${estimated ? "~" : ""}${fmtDuration(eta)}` }) : null),
    h("td", { class: "num best-col", title: `best ${monitor}${run.best_epoch ? ` at epoch ${run.best_epoch}` : ""}` },
      h("span", { class: "metric-name muted", text: `${monitor} ` }), fmtMetric(monitor, best)),
    h("td", {}, sparkline(summary ? summary.val_loss : [])),
    h("td", { class: "num" }, fmtDuration(duration(run))),
    // GPU-hours over energy, two short lines: the list keeps every column at laptop widths.
    h("td", { class: "num cost-col", title: "GPU-hours and the GPUs' energy (NVML power); – where not measured" },
      run.gpu_hours === null || run.gpu_hours === undefined ? MISSING : fmtGpuHours(run.gpu_hours),
      run.energy_wh === null || run.energy_wh === undefined ? null : h("span", { class: "cost-energy muted", text: fmtEnergy(run.energy_wh) })),
    h("td", { class: "placement" }, fmtPlacement(run)),
    h("td", { title: created ? created.toLocaleString() : "" }, created ? relativeTime(created) : "–"),
  );
}
