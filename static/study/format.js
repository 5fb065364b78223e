/* How the study pages write a study's parts: its objective with its direction, its progress,
 * a trial's parameters, and the objective's value (a percentage for an accuracy or F1). */

import { fmtMetric } from "../shared/format.js";

/** "val_loss (min)". */
export const fmtObjective = (study) => `${study.objective} (${study.direction})`;

/** The trials done of all: complete, pruned and failed ones count as done. */
export function doneCount(progress) {
  return progress.complete + progress.pruned + progress.fail;
}

/** "7 of 20 done: 4 complete, 2 pruned, 1 failed · 2 running · 1 waiting". */
export function fmtProgress(progress) {
  const done = `${doneCount(progress)} of ${progress.n_trials} done: ${progress.complete} complete, ${progress.pruned} pruned, ${progress.fail} failed`;
  return [done, `${progress.running} running`, progress.waiting ? `${progress.waiting} waiting` : ""].filter(Boolean).join(" · ");
}

/** A parameter's value: numbers with up to 4 significant digits, anything else as JSON. */
export function fmtParam(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : Number(value.toPrecision(4)).toString();
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The objective's value as its metric is written elsewhere. */
export const fmtValue = (study, value) => fmtMetric(study.objective, value);
