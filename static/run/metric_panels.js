/* The run page's epoch charts: every named metric the run records (each epoch row's `metrics`),
 * one uPlot panel per kind — losses, accuracies, F1 scores, errors (MAE and RMSE), R², and each
 * other metric (a plugin's) alone — so values of one scale share an axis. Panels appear as the
 * rows name their metrics; a row at or before the last epoch (a resumed run redoing an epoch)
 * replaces the tail. The group acts as one chart for the chart tools: the log-scale toggle (on
 * the loss and error panels), PNG (the panels stacked) and CSV (every metric by epoch). */

import { h } from "../shared/dom.js";
import { themed } from "../shared/chart_theme.js";

const HEIGHT = 240;
const COLORS = ["#2563eb", "#f97316", "#16a34a", "#7c3aed", "#dc2626", "#0891b2", "#ca8a04", "#db2777"];
const integerIncrs = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
const legendInt = (u, v) => (v === null || v === undefined ? "–" : String(v));
const legendValue = (u, v) => (v === null || v === undefined ? "–" : v.toFixed(4));
const legendPct = (u, v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);

// Kinds in the order their panels show; `match` takes a metric name without its split prefix.
const KINDS = [
  { key: "loss", title: "Loss", match: (base) => base === "loss", log: true },
  { key: "accuracy", title: "Accuracy", match: (base) => base === "accuracy", unit: true },
  { key: "f1", title: "F1", match: (base) => base.startsWith("f1"), unit: true },
  { key: "error", title: "Error (MAE, RMSE)", match: (base) => base === "mae" || base === "rmse", log: true },
  { key: "r2", title: "R²", match: (base) => base === "r2" },
];

const baseName = (name) => name.replace(/^(train|val)_/, "");

/** The panels for metric `names`, in KINDS order then the others by name order:
 * [{key, title, names, log, unit}]. */
export function panelsFor(names) {
  const panels = [];
  const others = [];
  for (const kind of KINDS) {
    const members = names.filter((n) => kind.match(baseName(n)));
    if (members.length) panels.push({ ...kind, names: members });
  }
  for (const name of names) {
    if (!KINDS.some((kind) => kind.match(baseName(name)))) others.push({ key: name, title: name, names: [name] });
  }
  return panels.concat(others);
}

function width(el) {
  return Math.max(320, el.clientWidth || el.parentElement.clientWidth || 800);
}

function spec(panel, log) {
  const scale = panel.unit ? { auto: false, range: [0, 1] } : log && panel.log ? { distr: 3, auto: true } : { auto: true };
  return {
    scales: { x: { time: false }, y: scale },
    series: [
      { label: "epoch", value: legendInt },
      ...panel.names.map((name, i) => ({
        label: name, scale: "y", stroke: COLORS[i % COLORS.length], width: 2,
        dash: name.startsWith("train_") ? [6, 4] : undefined,
        value: panel.unit ? legendPct : legendValue,
      })),
    ],
    axes: [{ label: "epoch", incrs: integerIncrs }, { scale: "y", label: panel.title }],
  };
}

/** The epoch charts in `root`: {series, names(), labels(), build(), redraw(), addRows(rows),
 * panels, canvases(), log, el}. `series.data` is [epochs, ...one column per name]. */
export function createMetricPanels(root) {
  let rows = [];  // the epoch rows, ascending
  let names = [];
  let panels = [];  // {...panel, el, plot}
  const series = { data: [[]], last: () => (rows.length ? rows[rows.length - 1].epoch : null) };
  const group = { el: root, log: false, series, get plot() { return panels.length ? panels[0].plot : null; } };

  const valueOf = (row, name) => {
    const v = row.metrics ? row.metrics[name] : row[name];
    return v === undefined ? null : v;
  };
  const columnOf = (name) => rows.map((row) => valueOf(row, name));

  function build() {
    panels.forEach((p) => p.plot.destroy());
    root.replaceChildren();
    panels = panelsFor(names).map((panel) => {
      const el = h("div", { class: "chart chart-small" });
      root.append(h("div", { class: "metric-panel", "data-panel": panel.key }, h("h3", { text: panel.title }), el));
      const data = [rows.map((r) => r.epoch), ...panel.names.map(columnOf)];
      return { ...panel, el, plot: new uPlot(themed({ width: width(el), height: HEIGHT, ...spec(panel, group.log) }), data, el) };
    });
    series.data = [rows.map((r) => r.epoch), ...names.map(columnOf)];
  }

  function redraw() {
    series.data = [rows.map((r) => r.epoch), ...names.map(columnOf)];
    panels.forEach((p) => p.plot.setData([series.data[0], ...p.names.map(columnOf)]));
  }

  function addRows(newRows) {
    for (const row of newRows) {
      rows = rows.filter((r) => r.epoch < row.epoch);
      rows.push(row);
    }
    const seen = Array.from(new Set(rows.flatMap((r) => Object.keys(r.metrics || {}))));
    if (seen.join() !== names.join()) {
      names = seen;
      build();
    } else {
      redraw();
    }
  }

  if (window.ResizeObserver) {
    new ResizeObserver(() => panels.forEach((p) => p.plot.setSize({ width: width(p.el), height: HEIGHT }))).observe(root);
  }
  return Object.assign(group, {
    build,
    redraw,
    addRows,
    names: () => names,
    labels: () => ["epoch", ...names],
    panels: () => panels.map((p) => ({ key: p.key, title: p.title, names: p.names })),
    canvases: () => panels.map((p) => p.plot.ctx.canvas),
  });
}
