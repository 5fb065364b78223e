/* The run page's uPlot charts — the epoch panels (every named metric, metric_panels.js), train
 * loss per step, and learning rate — with the series they draw. Each chart can be rebuilt (the
 * log-scale toggle changes its scales) and follows its box's width. uPlot is the global that the
 * vendored classic script static/vendor/uplot/uPlot.iife.min.js defines before the modules run. */

import { $ } from "../shared/dom.js";
import { createMetricPanels } from "./metric_panels.js";
import { makeSeries } from "./series.js";
import { themed } from "../shared/chart_theme.js";

const CHART_HEIGHT = 300;
const LR_CHART_HEIGHT = 200;

const legendValue = (digits) => (u, v) => (v === null || v === undefined ? "–" : v.toFixed(digits));
const legendExp = (u, v) => (v === null || v === undefined ? "–" : v.toExponential(3));
const legendInt = (u, v) => (v === null || v === undefined ? "–" : String(v));
const integerIncrs = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
const lossScale = (log) => (log ? { distr: 3, auto: true } : { auto: true });

function chartWidth(el) {
  return Math.max(320, el.clientWidth || el.parentElement.clientWidth || 800);
}

// {el, series, log, plot, height, build(), redraw()}; `spec(log)` gives the uPlot options.
function makeChart(el, series, spec, height) {
  const chart = { el, series, log: false, plot: null, height };
  chart.build = () => {
    if (chart.plot) chart.plot.destroy();
    chart.plot = new uPlot(themed({ width: chartWidth(el), height, ...spec(chart.log) }), series.data, el);
  };
  chart.redraw = () => chart.plot.setData(series.data);
  chart.build();
  return chart;
}

const stepSpec = (log) => ({
  scales: { x: { time: false }, loss: lossScale(log) },
  series: [
    { label: "step", value: legendInt },
    { label: "train loss", scale: "loss", stroke: "rgba(37, 99, 235, 0.35)", width: 1, value: legendValue(4) },
    { label: "smoothed", scale: "loss", stroke: "#1d4ed8", width: 2, value: legendValue(4) },
  ],
  axes: [{ label: "step", incrs: integerIncrs }, { scale: "loss", label: "loss" }],
});

const lrSpec = (log) => ({
  scales: { x: { time: false }, lr: lossScale(log) },
  series: [
    { label: "epoch", value: legendInt },
    { label: "lr (group 0)", scale: "lr", stroke: "#7c3aed", width: 2, value: legendExp },
  ],
  axes: [{ label: "epoch", incrs: integerIncrs }, { scale: "lr", label: "learning rate", size: 70, values: (u, ticks) => ticks.map((t) => t.toExponential(0)) }],
});

// Resize each chart to its box's new width (height changes are ignored).
function followWidths(charts) {
  if (!window.ResizeObserver) return;
  const widths = new Map();
  const observer = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const width = Math.round(entry.contentRect.width);
      if (!width || widths.get(entry.target) === width) continue;
      widths.set(entry.target, width);
      const chart = Object.values(charts).find((c) => c.el === entry.target);
      chart.plot.setSize({ width: Math.max(320, width), height: chart.height });
    }
  });
  Object.values(charts).forEach((c) => observer.observe(c.el));
}

/** The series and charts of the run page: {epochs, lrs, steps, charts: {epoch, step, lr}};
 * `epochs` is the group of epoch panels, which follows its own width. */
export function createCharts() {
  const epochs = createMetricPanels($("epoch-chart"));
  const lrs = makeSeries(["epoch", "lr"]);
  const steps = makeSeries(["step", "loss", "smoothed"]);
  const charts = {
    step: makeChart($("step-chart"), steps, stepSpec, CHART_HEIGHT),
    lr: makeChart($("lr-chart"), lrs, lrSpec, LR_CHART_HEIGHT),
  };
  followWidths(charts);
  return { epochs, lrs, steps, charts: { epoch: epochs, ...charts } };
}
