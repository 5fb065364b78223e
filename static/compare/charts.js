/* The compare page's uPlot charts: one per named metric any of the runs records (each epoch
 * row's `metrics`; validation metrics first), then the learning rate by epoch and the training
 * loss by step, one line per run on a shared axis; a fork's line starts at its parent's value at
 * the fork epoch. A log-scale switch redraws them. Charts are redrawn in place while the set
 * of runs and metrics stays the same. uPlot is the global that the vendored classic script
 * defines before the modules run. */

import { $, h } from "../shared/dom.js";
import { fmtMetric, isFraction, MISSING } from "../shared/format.js";
import { themed } from "../shared/chart_theme.js";

export const COLORS = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#ca8a04", "#db2777"];

const charts = {};
let drawnNames = "";

/** Every metric name of the loaded runs' epoch rows: validation ones first, in order seen. */
export function metricNames(loaded) {
  const names = [...new Set(loaded.flatMap((l) => l.epochs.flatMap((r) => Object.keys(r.metrics || {}))))];
  return [...names.filter((n) => !n.startsWith("train_")), ...names.filter((n) => n.startsWith("train_"))];
}

// Beside the named metrics: the learning rate by epoch and the training loss by step.
const LR = "learning rate";
const STEPS = "train loss per step";

// One box per chart in #compare-charts, rebuilt when the set of charts changes.
function layout(names) {
  if (names.join() === drawnNames) return;
  drawnNames = names.join();
  Object.keys(charts).forEach((name) => { charts[name].destroy(); delete charts[name]; });
  $("compare-charts").replaceChildren(...names.map((name, i) =>
    h("div", { "data-metric": name }, h("h2", { text: name }), h("div", { id: `chart-${i}`, class: "chart" }))));
}

// x values shared by every run's line, and each run's y value at them (null: no point there).
function align(loaded, rowsOf, xOf, yOf) {
  const xs = [...new Set(loaded.flatMap((l) => rowsOf(l).map(xOf)))].sort((a, b) => a - b);
  return [xs, ...loaded.map((l) => {
    const byX = new Map(rowsOf(l).map((r) => [xOf(r), yOf(r) ?? null]));
    return xs.map((x) => (byX.has(x) ? byX.get(x) : null));
  })];
}

/** The charts of `loaded` ([{run, epochs, steps}]): [{name, x, data, format}]. */
function chartsOf(loaded) {
  const epochRows = (l) => l.epochs;
  const byEpoch = (r) => r.epoch;
  const out = metricNames(loaded).map((metric) => ({
    name: metric, x: "epoch", data: align(loaded, epochRows, byEpoch, (r) => (r.metrics || {})[metric]),
    format: (v) => fmtMetric(metric, v), fraction: isFraction(metric),
  }));
  if (loaded.some((l) => l.epochs.some((r) => r.lr !== null && r.lr !== undefined))) {
    out.push({ name: LR, x: "epoch", data: align(loaded, epochRows, byEpoch, (r) => r.lr), format: (v) => v.toExponential(3) });
  }
  if (loaded.some((l) => (l.steps || []).length)) {
    out.push({ name: STEPS, x: "step", data: align(loaded, (l) => l.steps || [], (r) => r.step, (r) => r.loss), format: (v) => v.toFixed(4) });
  }
  return out;
}

// A log scale leaves out what it cannot draw (zero, negative); fractions keep their 0–1 axis.
const positive = (data) => [data[0], ...data.slice(1).map((ys) => ys.map((v) => (v !== null && v > 0 ? v : null)))];

/** Draw `loaded` into the charts; `log` puts every y axis but the fractions' on a log scale. */
export function drawCharts(loaded, log = false) {
  const specs = chartsOf(loaded);
  layout(specs.map((c) => c.name));
  const mode = log ? "log" : "linear";
  specs.forEach((chart, i) => {
    const logScale = log && !chart.fraction;
    const data = logScale ? positive(chart.data) : chart.data;
    const el = $(`chart-${i}`);
    const fmt = (u, v) => (v === null || v === undefined ? MISSING : chart.format(v));
    const seriesCount = loaded.length + 1;
    const existing = charts[chart.name];
    if (existing && existing.series.length === seriesCount && existing.torchdashMode === mode) {
      existing.setData(data);
      return;
    }
    if (existing) existing.destroy();
    charts[chart.name] = new uPlot(themed({
      width: Math.max(320, el.clientWidth || 480),
      height: 260,
      scales: { x: { time: false }, y: logScale ? { distr: 3 } : { auto: true } },
      series: [
        { label: chart.x, value: (u, v) => (v === null || v === undefined ? MISSING : String(v)) },
        ...loaded.map((l, j) => ({ label: `#${l.run.id} ${l.run.name}`, scale: "y", stroke: COLORS[j % COLORS.length], width: chart.x === "step" ? 1.5 : 2, spanGaps: true, value: fmt, points: { show: chart.x !== "step", size: 4 } })),
      ],
      axes: [{ label: chart.x, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000] }, { scale: "y", label: chart.name, size: 60 }],
    }), data, el);
    charts[chart.name].torchdashMode = mode;
  });
}

/** How many points each run's line of `metric` has. */
export const pointCounts = (metric) => charts[metric].data.slice(1).map((s) => s.filter((v) => v !== null).length);

/** The metrics charted, in order. */
export const chartedMetrics = () => Object.keys(charts);
