/* The compare page's uPlot charts: one per named metric any of the runs records (each epoch
 * row's `metrics`; validation metrics first), one line per run on a shared epoch axis; a fork's
 * line starts at its parent's value at the fork epoch. Charts are redrawn in place while the set
 * of runs and metrics stays the same. uPlot is the global that the vendored classic script
 * defines before the modules run. */

import { $, h } from "../shared/dom.js";
import { fmtMetric } from "../shared/format.js";
import { themed } from "../shared/chart_theme.js";

export const COLORS = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#ca8a04", "#db2777"];

const charts = {};
let drawnNames = "";

/** Every metric name of the loaded runs' epoch rows: validation ones first, in order seen. */
export function metricNames(loaded) {
  const names = [...new Set(loaded.flatMap((l) => l.epochs.flatMap((r) => Object.keys(r.metrics || {}))))];
  return [...names.filter((n) => !n.startsWith("train_")), ...names.filter((n) => n.startsWith("train_"))];
}

// One box per metric in #compare-charts, rebuilt when the set of metrics changes.
function layout(names) {
  if (names.join() === drawnNames) return;
  drawnNames = names.join();
  Object.keys(charts).forEach((name) => { charts[name].destroy(); delete charts[name]; });
  $("compare-charts").replaceChildren(...names.map((name) =>
    h("div", { "data-metric": name }, h("h2", { text: name }), h("div", { id: `chart-${name}`, class: "chart" }))));
}

/** Draw `loaded` ([{run, epochs}]) into the charts. */
export function drawCharts(loaded) {
  const xs = [...new Set(loaded.flatMap((l) => l.epochs.map((r) => r.epoch)))].sort((a, b) => a - b);
  const names = metricNames(loaded);
  layout(names);
  for (const metric of names) {
    const data = [xs, ...loaded.map((l) => {
      const byEpoch = new Map(l.epochs.map((r) => [r.epoch, (r.metrics || {})[metric] ?? null]));
      return xs.map((x) => (byEpoch.has(x) ? byEpoch.get(x) : null));
    })];
    const el = $(`chart-${metric}`);
    const fmt = (u, v) => (v === null || v === undefined ? "–" : fmtMetric(metric, v));
    const seriesCount = loaded.length + 1;
    if (charts[metric] && charts[metric].series.length === seriesCount) {
      charts[metric].setData(data);
      continue;
    }
    if (charts[metric]) charts[metric].destroy();
    charts[metric] = new uPlot(themed({
      width: Math.max(320, el.clientWidth || 480),
      height: 260,
      scales: { x: { time: false } },
      series: [
        { label: "epoch", value: (u, v) => (v === null || v === undefined ? "–" : String(v)) },
        ...loaded.map((l, i) => ({ label: `#${l.run.id} ${l.run.name}`, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, value: fmt, points: { show: true, size: 4 } })),
      ],
      axes: [{ label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, { label: metric }],
    }), data, el);
  }
}

/** How many points each run's line of `metric` has. */
export const pointCounts = (metric) => charts[metric].data.slice(1).map((s) => s.filter((v) => v !== null).length);

/** The metrics charted, in order. */
export const chartedMetrics = () => Object.keys(charts);
