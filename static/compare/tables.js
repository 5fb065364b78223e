/* The compare page's tables: best metrics per run (the metric it monitors, its best value by the
 * run's mode and that epoch, the lowest validation loss, counting only a fork's own epochs), the
 * same as mean ± std over each seed group's runs, and the config fields that differ between the
 * runs; each run's cost (GPU-hours, energy) and the runs' total. A missing value reads "–"
 * everywhere. */

import { $, h } from "../shared/dom.js";
import { flatten } from "../shared/config_paths.js";
import { fmtMetric, fmtNum, MISSING } from "../shared/format.js";
import { fmtMeanStd, meanStd } from "../shared/seed_groups.js";
import { fmtCost } from "../shared/cost.js";

// The compared runs' summed cost; a figure no run has stays missing, not 0.
function totalCost(runs) {
  const sum = (key) => {
    const values = runs.map((run) => run[key]).filter((v) => v !== null && v !== undefined);
    return values.length ? values.reduce((a, b) => a + b, 0) : null;
  };
  return fmtCost(sum("gpu_hours"), sum("energy_wh"));
}

// {monitor, best (its epoch row), lowest (the row of the lowest val_loss)} of one loaded run.
function bestOf(l) {
  const own = l.epochs.filter((r) => !(l.run.fork_epoch !== null && r.epoch <= l.run.fork_epoch));
  const monitor = l.run.monitor || "val_accuracy";
  const sign = l.run.monitor_mode === "min" ? -1 : 1;
  const value = (r) => (r.metrics || {})[monitor] ?? null;
  const best = own.filter((r) => value(r) !== null)
    .reduce((a, r) => (a === null || sign * value(r) > sign * value(a) ? r : a), null);
  // A row without a val loss (a script that reports none) is never the lowest.
  const lowest = own.filter((r) => Number.isFinite(r.val_loss))
    .reduce((a, r) => (a === null || r.val_loss < a.val_loss ? r : a), null);
  return { monitor, best, bestValue: best && value(best), lowest };
}

/** The best-metrics table; `lines` (charts.js chartLines) give each run its line's colour. */
export function renderBest(loaded, lines) {
  const colorOf = new Map(lines.flatMap((line) => line.items.map((item) => [item, line.color])));
  const header = h("tr", {}, ["run", "status", "epochs", "monitor", "best", "at epoch", "lowest val loss", "forked from", "cost"].map((t) => h("th", { text: t })));
  const rows = loaded.map((l) => {
    const { monitor, best, bestValue, lowest } = bestOf(l);
    return h("tr", { "data-run-id": l.run.id },
      h("td", {}, h("span", { class: "swatch", style: `background:${colorOf.get(l)}` }), h("a", { href: `/runs/${l.run.id}`, text: `#${l.run.id} ${l.run.name}` })),
      h("td", {}, h("span", { class: `badge status-${l.run.status}`, text: l.run.status })),
      h("td", { text: `${l.run.epoch}/${l.run.max_epochs}` }),
      h("td", { class: "monitor", text: `${monitor} (${l.run.monitor_mode || "max"})` }),
      h("td", { class: "num best-value", text: fmtMetric(monitor, bestValue) }),
      h("td", { class: "num", text: best ? String(best.epoch) : MISSING }),
      h("td", { class: "num", text: fmtNum(lowest && lowest.val_loss) }),
      h("td", { text: l.run.parent_run_id !== null ? `#${l.run.parent_run_id} at epoch ${l.run.fork_epoch}` : MISSING }),
      h("td", { class: "num cost", text: fmtCost(l.run.gpu_hours, l.run.energy_wh) }),
    );
  });
  const total = h("tr", { class: "cost-total" }, h("th", { colspan: 8, text: "total cost" }),
    h("td", { class: "num cost", text: totalCost(loaded.map((l) => l.run)) }));
  $("best-table").replaceChildren(h("thead", {}, header), h("tbody", {}, rows), h("tfoot", {}, total));
}

/** Mean ± std over each seed group's runs: best monitored value, last epoch's value, lowest
 * validation loss; the card is hidden when the runs hold no seed group. */
export function renderGroups(lines) {
  const groups = lines.filter((line) => line.group);
  $("group-card").hidden = !groups.length;
  const header = h("tr", {}, ["seed group", "runs", "monitor", "best (mean ± std)", "last epoch (mean ± std)", "lowest val loss (mean ± std)"].map((t) => h("th", { text: t })));
  const rows = groups.map((line) => {
    const stats = line.items.map(bestOf);
    const monitor = stats[0].monitor;
    const last = line.items.map((l) => {
      const row = l.epochs[l.epochs.length - 1];
      return row ? (row.metrics || {})[monitor] ?? null : null;
    });
    const fmt = (v) => fmtMetric(monitor, v);
    return h("tr", { "data-group": line.items[0].run.group_name },
      h("td", {}, h("span", { class: "swatch", style: `background:${line.color}` }), line.label),
      h("td", { text: line.items.map((l) => `#${l.run.id}`).join(", ") }),
      h("td", { class: "monitor", text: monitor }),
      h("td", { class: "num group-best", text: fmtMeanStd(meanStd(stats.map((s) => s.bestValue)), fmt) }),
      h("td", { class: "num", text: fmtMeanStd(meanStd(last), fmt) }),
      h("td", { class: "num", text: fmtMeanStd(meanStd(stats.map((s) => s.lowest && s.lowest.val_loss)), (v) => fmtNum(v)) }),
    );
  });
  $("group-table").replaceChildren(h("thead", {}, header), h("tbody", {}, rows));
}

export function renderDiff(loaded) {
  const flats = loaded.map((l) => flatten(l.run.config));
  const keys = [...new Set(flats.flatMap(Object.keys))].sort();
  const differing = keys.filter((k) => new Set(flats.map((f) => f[k])).size > 1);
  $("diff-note").textContent = differing.length
    ? `${differing.length} of ${keys.length} config fields differ.` : "The configs are identical.";
  const header = h("tr", {}, h("th", { text: "field" }), loaded.map((l) => h("th", { text: `#${l.run.id}` })));
  const rows = differing.map((k) => h("tr", { "data-field": k }, h("td", { class: "field-name", text: k }),
    flats.map((f) => h("td", { class: "differs", text: f[k] === undefined || f[k] === "null" ? MISSING : f[k] }))));
  $("diff-table").replaceChildren(h("thead", {}, header), h("tbody", {}, rows));
}
