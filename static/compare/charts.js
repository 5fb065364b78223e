/* The compare page's four uPlot charts (validation and train loss and accuracy), one line per
 * run on a shared epoch axis; a fork's line starts at its parent's value at the fork epoch.
 * Charts are redrawn in place while the set of runs stays the same. uPlot is the global that the
 * vendored classic script defines before the modules run. */

import { $ } from "../shared/dom.js";
import { fmtPct } from "../shared/format.js";

export const COLORS = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#ca8a04", "#db2777"];
const METRICS = ["val_loss", "val_accuracy", "train_loss", "train_accuracy"];

const charts = {};

/** Draw `loaded` ([{run, epochs}]) into the charts. */
export function drawCharts(loaded) {
  const xs = [...new Set(loaded.flatMap((l) => l.epochs.map((r) => r.epoch)))].sort((a, b) => a - b);
  for (const metric of METRICS) {
    const data = [xs, ...loaded.map((l) => {
      const byEpoch = new Map(l.epochs.map((r) => [r.epoch, r[metric]]));
      return xs.map((x) => (byEpoch.has(x) ? byEpoch.get(x) : null));
    })];
    const el = $(`chart-${metric}`);
    const accuracy = metric.endsWith("accuracy");
    const fmt = (u, v) => (v === null || v === undefined ? "–" : accuracy ? fmtPct(v) : v.toFixed(4));
    const seriesCount = loaded.length + 1;
    if (charts[metric] && charts[metric].series.length === seriesCount) {
      charts[metric].setData(data);
      continue;
    }
    if (charts[metric]) charts[metric].destroy();
    charts[metric] = new uPlot({
      width: Math.max(320, el.clientWidth || 480),
      height: 260,
      scales: { x: { time: false } },
      series: [
        { label: "epoch", value: (u, v) => (v === null || v === undefined ? "–" : String(v)) },
        ...loaded.map((l, i) => ({ label: `#${l.run.id} ${l.run.name}`, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, value: fmt, points: { show: true, size: 4 } })),
      ],
      axes: [{ label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, { label: metric.replace("_", " ") }],
    }, data, el);
  }
}

/** How many points each run's line of `metric` has. */
export const pointCounts = (metric) => charts[metric].data.slice(1).map((s) => s.filter((v) => v !== null).length);
