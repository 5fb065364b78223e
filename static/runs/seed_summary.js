/* The runs table's seed groups: after the last shown run of each seed group (runs of one group
 * whose configs differ only in seed and name: "Repeat with k seeds", Run again ×k, a study
 * trial's seeds), a summary row lists the best of the metric they monitor as mean ± std over
 * the shown runs that have one. The row spans the table's columns around its Best column, so
 * columns added to the table keep it in place. */

import { h } from "../shared/dom.js";
import { fmtMetric } from "../shared/format.js";
import { fmtMeanStd, meanStd, seedGroups } from "../shared/seed_groups.js";

/** The best value of the metric `run` monitors, as its row shows it. */
export function bestOf(run) {
  const monitor = run.monitor || "val_accuracy";
  return run.best_metric ?? (monitor === "val_accuracy" ? run.best_val_accuracy : null);
}

function summaryRow(runs, columns, bestIndex) {
  const monitor = runs[0].monitor || "val_accuracy";
  const stats = meanStd(runs.map(bestOf));
  const ids = runs.map((run) => `#${run.id}`).join(", ");
  const over = stats ? `${stats.n} of ${runs.length}` : `none of ${runs.length}`;
  const cells = [
    h("td", { class: "select-col" }),
    h("td", { colspan: bestIndex - 1, class: "seed-summary-label" },
      h("span", { class: "seed-summary-name", text: `Seed group of ${runs.length}` }),
      h("span", { class: "muted", text: ` ${ids}` })),
    h("td", { class: "num best-col seed-best", title: `mean ± std of the best ${monitor} over ${over} runs` },
      h("span", { class: "metric-name muted", text: `${monitor} ` }),
      fmtMeanStd(stats, (v) => fmtMetric(monitor, v))),
  ];
  if (columns - bestIndex - 1 > 0) cells.push(h("td", { colspan: columns - bestIndex - 1 }));
  return h("tr", { class: "seed-summary", "data-seed-group": runs[0].group_name }, ...cells);
}

/** `rows` (one per run of `runs`, in order) with a summary row after each seed group's last
 * shown run; `header` is the table's header row. */
export function withSeedSummaries(rows, runs, header) {
  const cells = [...header.cells];
  const bestIndex = cells.findIndex((th) => th.dataset.sort === "best");
  if (bestIndex < 1) return rows;
  const { groups } = seedGroups(runs.map((run) => ({ run })));
  const after = new Map(groups.map((g) => [g.items[g.items.length - 1].run.id, g.items.map((i) => i.run)]));
  return rows.flatMap((row, index) => {
    const group = after.get(runs[index].id);
    return group ? [row, summaryRow(group, cells.length, bestIndex)] : [row];
  });
}
