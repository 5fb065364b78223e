/* A run's cost in the words people read: GPU-hours to three significant digits and energy in
 * Wh or kWh; "–" where it was not measured (a CPU run has no GPU-hours; a GPU that reports no
 * power, no energy). Used by the runs list, the run page, compare and the study page. */

import { MISSING } from "./format.js";

const missing = (v) => v === null || v === undefined || !Number.isFinite(v);

export function fmtGpuHours(hours) {
  if (missing(hours)) return MISSING;
  return `${hours < 100 ? Number(hours.toPrecision(3)) : hours.toFixed(0)} GPU-h`;
}

export function fmtEnergy(wh) {
  if (missing(wh)) return MISSING;
  if (wh < 1) return `${(wh * 1000).toFixed(0)} mWh`;
  if (wh < 1000) return `${wh < 100 ? wh.toFixed(1) : wh.toFixed(0)} Wh`;
  return `${(wh / 1000).toFixed(wh < 100000 ? 2 : 0)} kWh`;
}

/** "0.52 GPU-h · 140 Wh", "0.52 GPU-h" (no power reading) or "–" (a CPU run). */
export function fmtCost(gpuHours, energyWh) {
  if (missing(gpuHours) && missing(energyWh)) return MISSING;
  return missing(energyWh) ? fmtGpuHours(gpuHours) : `${fmtGpuHours(gpuHours)} · ${fmtEnergy(energyWh)}`;
}

/** The line of a sum from GET /api/costs: its totals, and how many runs it leaves out. */
export function fmtCostTotals(totals) {
  const text = fmtCost(totals.gpu_hours, totals.energy_wh);
  const unmeasured = totals.runs_with_gpu_hours - totals.runs_with_energy;
  return unmeasured > 0 && totals.energy_wh !== null ? `${text} (energy of ${totals.runs_with_energy} of ${totals.runs_with_gpu_hours} GPU runs)` : text;
}
