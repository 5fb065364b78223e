/* The run page's evaluation for the tasks past classification: multilabel — a table of each
 * label's precision, recall, F1 and support, with micro and macro averages; regression — a table
 * of each target's MAE, RMSE and R², then per target a predicted-vs-true scatter (with the line
 * where they are equal) and a histogram of the residuals, drawn with the vendored uPlot (the
 * global of its classic script). */

import { $, h } from "../shared/dom.js";
import { fmtNum } from "../shared/format.js";
import { themed } from "../shared/chart_theme.js";

const PLOT_HEIGHT = 260;
const num = (digits) => (u, v) => (v === null || v === undefined ? "–" : Number(v).toPrecision(digits));

function plotWidth(el) {
  return Math.max(260, el.clientWidth || el.parentElement.clientWidth || 420);
}

/** Multilabel: the per-label table (#label-scores). */
export function renderLabelScores(evaluation) {
  const row = (name, s, cls, support = "", predicted = "") => h("tr", { class: cls },
    h("td", { text: name }), h("td", { class: "num", text: fmtNum(s.precision, 3) }), h("td", { class: "num", text: fmtNum(s.recall, 3) }),
    h("td", { class: "num", text: fmtNum(s.f1, 3) }), h("td", { class: "num", text: String(support) }), h("td", { class: "num", text: String(predicted) }));
  const averages = evaluation.averages ? [row("micro average", evaluation.averages.micro, "average"), row("macro average", evaluation.averages.macro, "average")] : [];
  $("label-scores").replaceChildren(
    h("tr", {}, ...["label", "precision", "recall", "F1", "support", "predicted"].map((t, i) => h("th", { class: i ? "num" : null, text: t }))),
    ...evaluation.labels.map((l) => row(l.name, l, null, l.support, l.predicted)),
    ...averages,
  );
  $("evaluation-labels").hidden = false;
}

// The scatter: points sorted by their true value (uPlot's x must ascend), on equal x and y
// ranges, so the line true = predicted is the diagonal.
function scatterPlot(el, name, scatter) {
  const order = scatter.true.map((_, i) => i).sort((a, b) => scatter.true[a] - scatter.true[b]);
  const xs = order.map((i) => scatter.true[i]);
  const ys = order.map((i) => scatter.predicted[i]);
  const all = xs.concat(ys);
  let low = Math.min(...all), high = Math.max(...all);
  if (!(high > low)) { low -= 0.5; high += 0.5; }
  const pad = (high - low) * 0.04;
  const range = () => [low - pad, high + pad];
  return new uPlot(themed({
    width: plotWidth(el), height: PLOT_HEIGHT,
    scales: { x: { time: false, range }, y: { range } },
    legend: { show: false },
    series: [
      { label: `true ${name}`, value: num(4) },
      { label: "predicted", stroke: "rgba(37, 99, 235, 0.8)", paths: () => null, points: { show: true, size: 4, width: 1, fill: "rgba(37, 99, 235, 0.35)" }, value: num(4) },
      { label: "true = predicted", stroke: "#9ca3af", width: 1, dash: [5, 4], points: { show: false } },
    ],
    axes: [{ label: "true" }, { label: "predicted" }],
  }), [xs, ys, xs], el);
}

function histogramPlot(el, residuals) {
  const centers = residuals.counts.map((_, i) => (residuals.edges[i] + residuals.edges[i + 1]) / 2);
  const first = residuals.edges[0], last = residuals.edges[residuals.edges.length - 1];
  return new uPlot(themed({
    width: plotWidth(el), height: PLOT_HEIGHT,
    scales: { x: { time: false, range: () => [first, last] }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
    legend: { show: false },
    series: [
      { label: "residual", value: num(4) },
      { label: "samples", stroke: "#f97316", fill: "rgba(249, 115, 22, 0.45)", paths: uPlot.paths.bars({ size: [1, Infinity], gap: 1 }), points: { show: false } },
    ],
    axes: [{ label: "true − predicted" }, { label: "samples" }],
  }), [centers, residuals.counts], el);
}

const plots = [];  // uPlot instances on the page, destroyed when the panel is drawn again

/** Regression: the per-target table (#target-errors) and plots (#target-plots). */
export function renderRegression(evaluation) {
  $("target-errors").replaceChildren(
    h("tr", {}, ...["target", "MAE", "RMSE", "R²", "samples"].map((t, i) => h("th", { class: i ? "num" : null, text: t }))),
    ...evaluation.targets.map((t) => h("tr", {},
      h("td", { text: t.name }), h("td", { class: "num", text: fmtNum(t.mae) }), h("td", { class: "num", text: fmtNum(t.rmse) }),
      h("td", { class: "num", text: fmtNum(t.r2) }), h("td", { class: "num", text: String(t.count) }))),
  );
  plots.splice(0).forEach((plot) => plot.destroy());
  const boxes = [];
  for (const target of evaluation.targets.filter((t) => t.scatter && t.residuals)) {
    const scatter = h("div", { class: "eval-chart scatter-chart", "aria-label": `${target.name}: predicted against true` });
    const histogram = h("div", { class: "eval-chart residual-chart", "aria-label": `${target.name}: residual histogram` });
    boxes.push(h("div", { class: "target-plot", dataset: { target: target.name } },
      h("h3", { text: target.name }),
      h("div", { class: "target-plot-pair" }, scatter, histogram)));
    const draw = () => {
      if (typeof uPlot === "undefined") return;
      if (target.scatter.true.length) plots.push(scatterPlot(scatter, target.name, target.scatter));
      if (target.residuals.counts.length) plots.push(histogramPlot(histogram, target.residuals));
    };
    boxes[boxes.length - 1].draw = draw;
  }
  $("target-plots").replaceChildren(...boxes);
  $("evaluation-targets").hidden = false;
  boxes.forEach((box) => box.draw());  // once in the page, so the boxes have their widths
}
