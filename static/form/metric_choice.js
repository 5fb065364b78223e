/* The fields that name a metric of the run (`monitor`, early stopping's and the plateau
 * scheduler's `monitor`): a choice among the metric names of the task chosen in the form — the
 * task's own, which the schema lists under `ui.task_metrics` (and its default under
 * `ui.task_monitors`) — and `val_<name>` of each metric
 * plugin in the `metrics` rows; empty means the default. The choices follow the form: changing
 * the task or the metric rows offers that run's names. A name that is no longer offered after
 * such a change goes back to the default; a name the form was filled with that this task does
 * not record stays, marked, and the server's 422 says why. The schema hints these fields
 * `"ui": {"widget": "metric"}` (app/web/form_schema.py). */

import { h } from "../shared/dom.js";
import { fieldId, fieldShell, humanize } from "./widgets.js";
import { registerWidget } from "./widget_registry.js";

/** The metric names of `config` (the form's current values), given each task's own. */
export function metricNames(config, taskMetrics) {
  const task = (config && config.task) || "classification";
  const names = [...((taskMetrics || {})[task] || [])];
  for (const metric of (config && Array.isArray(config.metrics) ? config.metrics : [])) {
    if (metric && metric.name) names.push(`val_${metric.name}`);
  }
  return names;
}

function buildMetricChoice(ctx, schema, path, key, value, required) {
  const select = h("select", { id: fieldId(path), dataset: { path } });
  const hints = ctx.schema.ui || {};
  let current = value === undefined ? null : value;
  let offered = [];

  function fill() {
    const config = ctx.current();
    const names = metricNames(config, hints.task_metrics);
    if (current !== null && !names.includes(current) && offered.includes(current)) current = null;
    offered = names;
    const fallback = path === "monitor"
      ? `(default: ${(hints.task_monitors || {})[config.task || "classification"] || "the task's"})`
      : "(the run's monitor)";
    const options = [{ value: "", text: fallback }, ...names.map((n) => ({ value: n, text: n }))];
    if (current !== null && !names.includes(current)) options.push({ value: current, text: `${current} (not a metric of this run)` });
    select.replaceChildren(...options.map((o) => h("option", { value: o.value, text: o.text })));
    select.value = current === null ? "" : current;
  }

  select.addEventListener("change", () => { current = select.value === "" ? null : select.value; });
  // Any change elsewhere in the form (the task, a metric row) may change the names offered. A
  // detached select (its part hidden, kept for when it is shown again) waits for that.
  document.addEventListener("change", (event) => {
    if (select.isConnected && event.target !== select) fill();
  });
  select.addEventListener("focus", fill);
  fill();
  return {
    el: fieldShell(path, humanize(key, schema), select, schema.description || "", { required }),
    get: () => current,
  };
}

registerWidget("metric", buildMetricChoice);
