/* The study page's uPlot charts: the objective against the trial number (complete trials, the
 * best so far as a step line, and a pruned trial's last value), and the objective after each
 * epoch of every trial — a pruned trial's line is dashed in its own colour and ends, with a
 * marker, at the epoch it was stopped; a trial of several seeds is its mean inside a ± std band.
 * Charts are rebuilt when their lines change and updated in
 * place otherwise. Both are themed (shared/chart_theme.js): axes readable in the light and the
 * dark theme, and a data table under each. uPlot is the global the vendored classic script
 * defines. */

import { $ } from "../shared/dom.js";
import { themed } from "../shared/chart_theme.js";
import { fmtValue } from "./format.js";

const COMPLETE = "#2563eb";
const PRUNED = "#dc2626";
const OTHER = "#94a3b8";  // running, waiting or failed
const charts = {};

const width = (el) => Math.max(320, el.clientWidth || 480);

function place(name, el, opts, data, signature) {
  if (charts[name] && charts[name].torchdashSignature === signature) {
    charts[name].setData(data);
    return;
  }
  if (charts[name]) charts[name].destroy();
  charts[name] = new uPlot(themed(opts), data, el);
  charts[name].torchdashSignature = signature;
}

/** Complete trials' objective by trial number, the best so far, pruned trials' last value. */
export function drawObjective(study) {
  const el = $("chart-objective");
  const trials = [...study.trials].sort((a, b) => a.number - b.number);
  const xs = trials.map((t) => t.number);
  const sign = study.direction === "min" ? 1 : -1;
  let best = null;
  const bestSoFar = trials.map((t) => {
    if (t.state === "complete" && t.value !== null && (best === null || sign * t.value < sign * best)) best = t.value;
    return best;
  });
  const lastOf = (t) => {
    const values = t.intermediate_values.filter((v) => v.value !== null);
    return values.length ? values[values.length - 1].value : null;
  };
  const fmt = (u, v) => (v === null || v === undefined ? "–" : fmtValue(study, v));
  const dots = { show: true, size: 7 };
  const data = [xs,
    trials.map((t) => (t.state === "complete" ? t.value : null)),
    bestSoFar,
    trials.map((t) => (t.state === "pruned" ? lastOf(t) : null))];
  el.dataset.points = String(data[1].filter((v) => v !== null).length);
  place("objective", el, {
    width: width(el),
    height: 260,
    scales: { x: { time: false } },
    series: [
      { label: "trial", value: (u, v) => (v === null || v === undefined ? "–" : `#${v}`) },
      { label: study.objective, stroke: COMPLETE, width: 0, paths: () => null, points: { ...dots, fill: COMPLETE }, value: fmt },
      { label: "best so far", stroke: "#16a34a", width: 2, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false }, spanGaps: true, value: fmt },
      { label: "pruned (last value)", stroke: PRUNED, width: 0, paths: () => null, points: { ...dots, fill: "#fff" }, value: fmt },
    ],
    axes: [{ label: "trial", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, { label: study.objective }],
  }, data, "objective");
}

/** One line per trial of its objective after each epoch. */
export function drawIntermediate(study) {
  const el = $("chart-intermediate");
  const trials = [...study.trials].filter((t) => t.intermediate_values.length).sort((a, b) => a.number - b.number);
  const xs = [...new Set(trials.flatMap((t) => t.intermediate_values.map((v) => v.epoch)))].sort((a, b) => a - b);
  const columns = trials.map((t) => {
    const byEpoch = new Map(t.intermediate_values.map((v) => [v.epoch, v.value]));
    return xs.map((x) => (byEpoch.has(x) ? byEpoch.get(x) : null));
  });
  el.dataset.lines = String(trials.length);
  el.dataset.prunedLines = String(trials.filter((t) => t.state === "pruned").length);
  const fmt = (u, v) => (v === null || v === undefined ? "–" : fmtValue(study, v));
  const series = [];
  const bands = [];
  const data = [xs];
  trials.forEach((t, i) => {
    const stroke = t.state === "pruned" ? PRUNED : t.state === "complete" ? COMPLETE : OTHER;
    const pruned = t.state === "pruned";
    // A pruned line shows its points, so its last one marks where it was stopped.
    series.push({ label: `#${t.number}${pruned ? ` pruned @${t.pruned_epoch ?? "?"}` : ""}`, stroke, width: pruned ? 1.5 : 1.25,
      dash: pruned ? [6, 4] : undefined, spanGaps: false, value: fmt,
      points: pruned ? { show: true, size: 6, fill: "#fff" } : { show: false } });
    data.push(columns[i]);
    if (!t.seed_stats || !t.seed_stats.length) return;
    // A trial of several seeds: its mean inside a ± std band over its runs.
    const byEpoch = new Map(t.seed_stats.map((r) => [r.epoch, r]));
    const edge = (sign) => xs.map((x) => (byEpoch.has(x) && byEpoch.get(x).mean !== null ? byEpoch.get(x).mean + sign * byEpoch.get(x).std : null));
    const side = { stroke: `${stroke}55`, width: 1, value: fmt, points: { show: false } };
    series.push({ ...side, label: `#${t.number} +1 std` }, { ...side, label: `#${t.number} −1 std` });
    data.push(edge(1), edge(-1));
    bands.push({ series: [series.length - 1, series.length], fill: `${stroke}22` });
  });
  el.dataset.bands = String(bands.length);
  const signature = trials.map((t) => `${t.number}:${t.state}:${bands.length}`).join(",");
  place("intermediate", el, {
    width: width(el),
    height: 260,
    scales: { x: { time: false } },
    legend: { show: trials.length <= 30 },
    series: [{ label: "epoch", value: (u, v) => (v === null || v === undefined ? "–" : String(v)) }, ...series],
    bands,
    axes: [{ label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, { label: study.objective }],
  }, data, signature);
}
