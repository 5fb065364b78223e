/* Parallel coordinates of the study's parameters against its objective, drawn as SVG: one
 * vertical axis per searched field (a log range on a log scale, choices evenly spaced) and one
 * for the objective, and one line per complete trial across them, coloured from the best trial
 * (dark) to the worst (light). Pruned and failed trials have no final value and no line. And
 * the importances: one bar per parameter, its share of the objective's variance (fANOVA). */

import { $, h } from "../shared/dom.js";
import { fmtParam, fmtValue } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const W = 560;
const H = 280;
const PAD = { top: 34, bottom: 26, side: 48 };

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  if (tag === "text" || tag === "title") el.textContent = children.join("");
  else el.append(...children);
  return el;
}

// An axis: {label, pos(value) -> 0..1 from the bottom, ticks: [[value text, 0..1]]}.
function axisOf(label, values, entry) {
  const known = values.filter((v) => v !== null && v !== undefined);
  if (entry && entry.type === "choice") {
    const choices = (entry.choices || []).map((c) => JSON.stringify(c));
    const at = (v) => (choices.length > 1 ? choices.indexOf(JSON.stringify(v)) / (choices.length - 1) : 0.5);
    return { label, pos: at, ticks: (entry.choices || []).map((c) => [fmtParam(c), at(c)]) };
  }
  const log = Boolean(entry && entry.log);
  const t = (v) => (log ? Math.log10(v) : v);
  let lo = entry && entry.low !== null && entry.low !== undefined ? entry.low : Math.min(...known);
  let hi = entry && entry.high !== null && entry.high !== undefined ? entry.high : Math.max(...known);
  if (!known.length && !entry) { lo = 0; hi = 1; }
  const span = t(hi) - t(lo);
  const pos = (v) => (span > 0 ? (t(v) - t(lo)) / span : 0.5);
  return { label, pos, ticks: [[lo, 0], [hi, 1]], numeric: true };
}

/** Draw `study`'s complete trials across its parameters and objective. */
export function drawParallel(study) {
  const box = $("parallel-coords");
  const trials = study.trials.filter((t) => t.state === "complete" && t.value !== null);
  box.dataset.lines = String(trials.length);
  if (!trials.length) {
    box.replaceChildren(h("p", { class: "muted", text: "Drawn once a trial has completed." }));
    return;
  }
  const axes = [
    ...study.space.map((entry) => ({ ...axisOf(entry.field, trials.map((t) => t.params[entry.field]), entry), get: (t) => t.params[entry.field] })),
    { ...axisOf(study.objective, trials.map((t) => t.value), null), get: (t) => t.value, objective: true },
  ];
  const x = (i) => PAD.side + (axes.length > 1 ? (i * (W - 2 * PAD.side)) / (axes.length - 1) : (W - 2 * PAD.side) / 2);
  const y = (p) => PAD.top + (1 - p) * (H - PAD.top - PAD.bottom);
  const values = trials.map((t) => t.value);
  const best = study.direction === "min" ? Math.min(...values) : Math.max(...values);
  const worst = study.direction === "min" ? Math.max(...values) : Math.min(...values);
  // 0 for the best trial, 1 for the worst: dark blue to light grey-blue.
  const rank = (v) => (best === worst ? 0 : Math.abs(v - best) / Math.abs(worst - best));
  const colour = (v) => `hsl(220, ${Math.round(80 - 50 * rank(v))}%, ${Math.round(35 + 45 * rank(v))}%)`;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Parallel coordinates of the parameters against the objective", class: "parallel-svg" });
  // Worst first, so the best trials are drawn on top.
  for (const t of [...trials].sort((a, b) => rank(b.value) - rank(a.value))) {
    const points = axes.map((axis, i) => `${x(i).toFixed(1)},${y(axis.pos(axis.get(t))).toFixed(1)}`).join(" ");
    svg.append(s("polyline", { points, fill: "none", stroke: colour(t.value), "stroke-width": 1.6, "data-trial": t.number },
      s("title", {}, `#${t.number}: ${fmtValue(study, t.value)}`)));
  }
  axes.forEach((axis, i) => {
    svg.append(s("line", { x1: x(i), x2: x(i), y1: y(0), y2: y(1), stroke: "#64748b", "stroke-width": 1 }));
    svg.append(s("text", { x: x(i), y: 14, "text-anchor": "middle", class: axis.objective ? "axis-label objective" : "axis-label" }, axis.label.split(".").pop()));
    for (const [value, p] of axis.ticks) {
      const text = axis.objective ? fmtValue(study, value) : fmtParam(value);
      svg.append(s("text", { x: x(i) + 4, y: y(p) + (p === 0 ? 12 : p === 1 ? -4 : 4), class: "tick-label" }, text));
    }
  });
  box.replaceChildren(svg);
}

/** One bar per parameter: its importance, largest first. */
export function drawImportances(study) {
  const box = $("importances");
  const entries = Object.entries(study.importances || {}).sort((a, b) => b[1] - a[1]);
  box.dataset.bars = String(entries.length);
  if (!entries.length) {
    box.replaceChildren(h("p", { class: "muted", text: "Computed once two trials have finished with different values." }));
    return;
  }
  box.replaceChildren(h("ul", { class: "importance-bars" }, entries.map(([field, share]) => h("li", { "data-field": field },
    h("span", { class: "importance-name", text: field }),
    h("span", { class: "importance-track" }, h("span", { class: "importance-fill", style: `width:${(share * 100).toFixed(1)}%` })),
    h("span", { class: "num", text: `${(share * 100).toFixed(1)}%` })))));
}
