/* The sums under the runs table: the cost of the ticked runs (every page's), and of each sweep
 * group (a study's trials share its group) shown on this page, all of its runs. The server
 * sums its stored totals (GET /api/costs), so a group spread over many pages is summed whole. */

import { h } from "../shared/dom.js";
import { fmtCostTotals } from "../shared/cost.js";

const MAX_GROUPS = 5; // the groups a page shows first; more would crowd the line

async function totals(query) {
  const response = await fetch(`/api/costs?${new URLSearchParams(query)}`);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

/** `update(selectedIds, runs)` redraws the sums into `box`. */
export function createCostSums(box) {
  let asked = 0;

  async function update(selectedIds, runs) {
    const ticket = ++asked;
    const groups = [...new Set(runs.map((run) => run.group_name).filter(Boolean))].slice(0, MAX_GROUPS);
    const ids = [...selectedIds].sort((a, b) => a - b);
    try {
      const [selection, ...sums] = await Promise.all([
        ids.length ? totals({ ids: ids.join(",") }) : null,
        ...groups.map((group) => totals({ group })),
      ]);
      if (ticket !== asked) return; // a newer update is on its way
      const lines = [];
      if (selection && selection.runs_with_gpu_hours) {
        lines.push(h("span", { class: "cost-sum", "data-sum": "selection", text: `Selected (${selection.runs}): ${fmtCostTotals(selection)}` }));
      }
      sums.forEach((sum, i) => {
        if (sum.runs_with_gpu_hours) {
          lines.push(h("span", { class: "cost-sum", "data-sum": "group", "data-group": groups[i], text: `${groups[i]} (${sum.runs} runs): ${fmtCostTotals(sum)}` }));
        }
      });
      box.replaceChildren(...lines);
      box.hidden = lines.length === 0;
    } catch {
      box.hidden = true; // the table itself says when the server cannot be reached
    }
  }

  return { update };
}
