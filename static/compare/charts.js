/* The compare page's uPlot charts: one per named metric any of the runs records (each epoch
 * row's `metrics`; validation metrics first), one line per run on a shared epoch axis; a fork's
 * line starts at its parent's value at the fork epoch. A seed group (runs of one group that
 * differ only in their seed, shared/seed_groups.js) is one line, its mean per epoch, inside a
 * band of ± one standard deviation. Charts are redrawn in place while their lines stay the same.
 * uPlot is the global that the vendored classic script defines before the modules run. */

import { $, h } from "../shared/dom.js";
import { fmtMetric } from "../shared/format.js";
import { meanStd, seedGroups } from "../shared/seed_groups.js";

export const COLORS = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#ca8a04", "#db2777"];

const charts = {};
let drawnNames = "";

/** Every metric name of the loaded runs' epoch rows: validation ones first, in order seen. */
export function metricNames(loaded) {
  const names = [...new Set(loaded.flatMap((l) => l.epochs.flatMap((r) => Object.keys(r.metrics || {}))))];
  return [...names.filter((n) => !n.startsWith("train_")), ...names.filter((n) => n.startsWith("train_"))];
}

/** The lines to draw: [{label, color, items, group}] — a run alone, or a seed group (`group`
 * true, `items` its runs) at the place of its first run. */
export function chartLines(loaded) {
  const { groups } = seedGroups(loaded);
  const groupOf = new Map(groups.flatMap((g) => g.items.map((item) => [item, g])));
  const lines = [];
  const placed = new Set();
  for (const item of loaded) {
    const g = groupOf.get(item);
    if (!g) lines.push({ label: `#${item.run.id} ${item.run.name}`, items: [item], group: false });
    else if (!placed.has(g)) {
      placed.add(g);
      lines.push({ label: `${g.name} (mean of ${g.items.length} seeds)`, items: g.items, group: true });
    }
  }
  lines.forEach((line, i) => { line.color = COLORS[i % COLORS.length]; });
  return lines;
}

// One box per metric in #compare-charts, rebuilt when the set of metrics changes.
function layout(names) {
  if (names.join() === drawnNames) return;
  drawnNames = names.join();
  Object.keys(charts).forEach((name) => { charts[name].destroy(); delete charts[name]; });
  $("compare-charts").replaceChildren(...names.map((name) =>
    h("div", { "data-metric": name }, h("h2", { text: name }), h("div", { id: `chart-${name}`, class: "chart" }))));
}

const valueAt = (item, metric) => new Map(item.epochs.map((r) => [r.epoch, (r.metrics || {})[metric] ?? null]));

// The data columns, series and bands of one metric's chart.
function chartParts(lines, metric, xs) {
  const columns = [];
  const series = [];
  const bands = [];
  const fmt = (u, v) => (v === null || v === undefined ? "–" : fmtMetric(metric, v));
  for (const line of lines) {
    const maps = line.items.map((item) => valueAt(item, metric));
    if (!line.group) {
      columns.push(xs.map((x) => (maps[0].has(x) ? maps[0].get(x) : null)));
      series.push({ label: line.label, stroke: line.color, width: 2, spanGaps: true, value: fmt, points: { show: true, size: 4 } });
      continue;
    }
    const stats = xs.map((x) => meanStd(maps.map((m) => (m.has(x) ? m.get(x) : null))));
    columns.push(stats.map((s) => (s ? s.mean : null)),
      stats.map((s) => (s ? s.mean + s.std : null)),
      stats.map((s) => (s ? s.mean - s.std : null)));
    const edge = { stroke: `${line.color}66`, width: 1, spanGaps: true, value: fmt, points: { show: false } };
    series.push({ label: line.label, stroke: line.color, width: 2, spanGaps: true, value: fmt, points: { show: true, size: 4 } },
      { ...edge, label: "+1 std" }, { ...edge, label: "−1 std" });
    const hi = series.length - 1;  // series indices count the x column first
    bands.push({ series: [hi, hi + 1], fill: `${line.color}33` });
  }
  return { columns, series, bands };
}

/** Draw `loaded` ([{run, epochs}]) as `lines` (chartLines) into the charts. */
export function drawCharts(loaded, lines) {
  const xs = [...new Set(loaded.flatMap((l) => l.epochs.map((r) => r.epoch)))].sort((a, b) => a - b);
  const names = metricNames(loaded);
  layout(names);
  const signature = lines.map((l) => `${l.label}:${l.items.length}`).join("|");
  for (const metric of names) {
    const { columns, series, bands } = chartParts(lines, metric, xs);
    const data = [xs, ...columns];
    const el = $(`chart-${metric}`);
    el.dataset.bands = String(bands.length);
    if (charts[metric] && charts[metric].torchdashSignature === signature) {
      charts[metric].setData(data);
      continue;
    }
    if (charts[metric]) charts[metric].destroy();
    charts[metric] = new uPlot({
      width: Math.max(320, el.clientWidth || 480),
      height: 260,
      scales: { x: { time: false } },
      series: [{ label: "epoch", value: (u, v) => (v === null || v === undefined ? "–" : String(v)) }, ...series],
      bands,
      axes: [{ label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, { label: metric }],
    }, data, el);
    charts[metric].torchdashSignature = signature;
    charts[metric].torchdashBands = bands.length;
  }
}

/** How many points each line of `metric` has (a seed group: its mean line). */
export const pointCounts = (metric) => {
  const chart = charts[metric];
  return chart.data.slice(1).filter((s, i) => !/^[+−]1 std$/.test(chart.series[i + 1].label))
    .map((s) => s.filter((v) => v !== null).length);
};

/** How many ± std bands the chart of `metric` draws. */
export const bandCount = (metric) => charts[metric].torchdashBands;

/** The metrics charted, in order. */
export const chartedMetrics = () => Object.keys(charts);
