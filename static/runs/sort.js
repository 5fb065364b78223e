/* Sorting the runs table by the column header clicked: the value each column sorts by, and the
 * direction a column starts in (text columns ascending, the rest descending). */

import { duration, progressOf } from "./row.js";

// The run's best monitored value, signed so that better is larger whatever its mode: a run of
// val_loss (min) and one of val_accuracy (max) both sort best first when descending.
function orientedBest(run) {
  const value = run.best_metric ?? run.best_val_accuracy;
  if (value === null || value === undefined) return -Infinity;
  return run.monitor_mode === "min" ? -value : value;
}

function sortValue(key, run, summary) {
  switch (key) {
    case "name": return run.name.toLowerCase();
    case "status": return run.status;
    case "progress": return progressOf(run, summary).done;
    case "best": return orientedBest(run);
    case "sparkline": { const v = (summary ? summary.val_loss : []).filter(Number.isFinite); return v.length ? v[v.length - 1] : Infinity; }
    case "duration": return duration(run) ?? -1;
    case "cost": return run.gpu_hours ?? -1;
    case "device": return run.device || "";
    case "created": return run.created_at;
    default: return run.id;
  }
}

/** A sorted copy of `runs` by column `key`; `summaries` maps run id → summary. */
export function sortRuns(runs, summaries, key, desc) {
  return runs.slice().sort((a, b) => {
    const va = sortValue(key, a, summaries[a.id]);
    const vb = sortValue(key, b, summaries[b.id]);
    const order = va < vb ? -1 : va > vb ? 1 : 0;
    return desc ? -order : order;
  });
}

/** Whether a newly chosen sort column starts descending. */
export const startsDescending = (key) => !["name", "status", "device"].includes(key);
