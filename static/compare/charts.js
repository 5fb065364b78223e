/* The compare page's uPlot charts: one per named metric any of the runs records (each epoch
 * row's `metrics`; validation metrics first), then the learning rate by epoch and the training
 * loss by step, one line per run on a shared axis; a fork's line starts at its parent's value at
 * the fork epoch. On the metric charts a seed group (runs of one group that differ only in their
 * seed, shared/seed_groups.js) is one line, its mean per epoch, inside a band of ± one standard
 * deviation. A log-scale switch redraws them. Charts are redrawn in place while their lines and
 * scale stay the same. uPlot is the global that the vendored classic script defines before the
 * modules run. */

import { $, h } from "../shared/dom.js";
import { fmtMetric, isFraction, MISSING } from "../shared/format.js";
import { themed } from "../shared/chart_theme.js";
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

// Beside the named metrics: the learning rate by epoch and the training loss by step.
const LR = "learning rate";
const STEPS = "train loss per step";

// A chart's element id: its name with anything but word characters as "-".
const chartId = (name) => `chart-${name.replace(/\W+/g, "-")}`;

// One box per chart in #compare-charts, rebuilt when the set of charts changes.
function layout(names) {
  if (names.join() === drawnNames) return;
  drawnNames = names.join();
  Object.keys(charts).forEach((name) => { charts[name].destroy(); delete charts[name]; });
  $("compare-charts").replaceChildren(...names.map((name) =>
    h("div", { "data-metric": name }, h("h2", { text: name }), h("div", { id: chartId(name), class: "chart" }))));
}

const valueAt = (item, metric) => new Map(item.epochs.map((r) => [r.epoch, (r.metrics || {})[metric] ?? null]));

// The data columns, series and bands of one metric's chart: a run's line, or a seed group's
// mean with its ± std edges and the band between them.
function metricParts(lines, metric, xs) {
  const columns = [];
  const series = [];
  const bands = [];
  const fmt = (u, v) => (v === null || v === undefined ? MISSING : fmtMetric(metric, v));
  for (const line of lines) {
    const maps = line.items.map((item) => valueAt(item, metric));
    const main = { label: line.label, stroke: line.color, width: 2, spanGaps: true, value: fmt, points: { show: true, size: 4 } };
    if (!line.group) {
      columns.push(xs.map((x) => (maps[0].has(x) ? maps[0].get(x) : null)));
      series.push(main);
      continue;
    }
    const stats = xs.map((x) => meanStd(maps.map((m) => (m.has(x) ? m.get(x) : null))));
    columns.push(stats.map((s) => (s ? s.mean : null)),
      stats.map((s) => (s ? s.mean + s.std : null)),
      stats.map((s) => (s ? s.mean - s.std : null)));
    const edge = { stroke: `${line.color}66`, width: 1, spanGaps: true, value: fmt, points: { show: false } };
    series.push(main, { ...edge, label: "+1 std" }, { ...edge, label: "−1 std" });
    const hi = series.length - 1;  // series indices count the x column first
    bands.push({ series: [hi, hi + 1], fill: `${line.color}33` });
  }
  return { columns, series, bands };
}

// x values shared by every run's line, and each run's y value at them (null: no point there).
function align(loaded, rowsOf, xOf, yOf) {
  const xs = [...new Set(loaded.flatMap((l) => rowsOf(l).map(xOf)))].sort((a, b) => a - b);
  return [xs, ...loaded.map((l) => {
    const byX = new Map(rowsOf(l).map((r) => [xOf(r), yOf(r) ?? null]));
    return xs.map((x) => (byX.has(x) ? byX.get(x) : null));
  })];
}

// One series per run, for the overlays (learning rate, step loss): seeds are not averaged there.
function runSeries(loaded, format, steps) {
  const fmt = (u, v) => (v === null || v === undefined ? MISSING : format(v));
  return loaded.map((l, j) => ({ label: `#${l.run.id} ${l.run.name}`, stroke: COLORS[j % COLORS.length], width: steps ? 1.5 : 2, spanGaps: true, value: fmt, points: { show: !steps, size: 4 } }));
}

/** The charts of `loaded` ([{run, epochs, steps}]) drawn as `lines`: [{name, x, data, series,
 * bands, fraction}]. */
function chartsOf(loaded, lines) {
  const xs = [...new Set(loaded.flatMap((l) => l.epochs.map((r) => r.epoch)))].sort((a, b) => a - b);
  const out = metricNames(loaded).map((metric) => {
    const { columns, series, bands } = metricParts(lines, metric, xs);
    return { name: metric, x: "epoch", data: [xs, ...columns], series, bands, fraction: isFraction(metric) };
  });
  if (loaded.some((l) => l.epochs.some((r) => r.lr !== null && r.lr !== undefined))) {
    const format = (v) => v.toExponential(3);
    out.push({ name: LR, x: "epoch", data: align(loaded, (l) => l.epochs, (r) => r.epoch, (r) => r.lr), series: runSeries(loaded, format, false), bands: [] });
  }
  if (loaded.some((l) => (l.steps || []).length)) {
    const format = (v) => v.toFixed(4);
    out.push({ name: STEPS, x: "step", data: align(loaded, (l) => l.steps || [], (r) => r.step, (r) => r.loss), series: runSeries(loaded, format, true), bands: [] });
  }
  return out;
}

// A log scale leaves out what it cannot draw (zero, negative); fractions keep their 0–1 axis.
const positive = (data) => [data[0], ...data.slice(1).map((ys) => ys.map((v) => (v !== null && v > 0 ? v : null)))];

/** Draw `loaded` ([{run, epochs, steps}]) as `lines` (chartLines) into the charts; `log` puts
 * every y axis but the fractions' on a log scale. */
export function drawCharts(loaded, lines, log = false) {
  const specs = chartsOf(loaded, lines);
  layout(specs.map((c) => c.name));
  const mode = log ? "log" : "linear";
  const signature = `${mode}:${lines.map((l) => `${l.label}:${l.items.length}`).join("|")}`;
  for (const chart of specs) {
    const logScale = log && !chart.fraction;
    const data = logScale ? positive(chart.data) : chart.data;
    const el = $(chartId(chart.name));
    el.dataset.bands = String(chart.bands.length);
    const existing = charts[chart.name];
    if (existing && existing.torchdashSignature === signature) {
      existing.setData(data);
      continue;
    }
    if (existing) existing.destroy();
    charts[chart.name] = new uPlot(themed({
      width: Math.max(320, el.clientWidth || 480),
      height: 260,
      scales: { x: { time: false }, y: logScale ? { distr: 3 } : { auto: true } },
      series: [
        { label: chart.x, value: (u, v) => (v === null || v === undefined ? MISSING : String(v)) },
        ...chart.series.map((s) => ({ ...s, scale: "y" })),
      ],
      bands: chart.bands,
      axes: [{ label: chart.x, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000] }, { scale: "y", label: chart.name, size: 60 }],
    }), data, el);
    charts[chart.name].torchdashSignature = signature;
    charts[chart.name].torchdashBands = chart.bands.length;
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
