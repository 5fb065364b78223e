/* Feeding metric rows into the run page's charts: epoch rows (every named metric, learning
 * rate) and step rows (train loss, smoothed by the slider's weight). The step chart holds a
 * downsampled history plus the live tail; when the tail grows long, the history is fetched again
 * downsampled by the server, so the chart never holds too much. */

import { api } from "../shared/api.js";
import { smooth } from "./series.js";

export const MAX_STEP_POINTS = 2000;

/** {addEpochRows, addStepRows, setSmoothing} for the series and charts of `createCharts`.
 * `onSteps(lastRow)` hears of every batch of step rows added. */
export function createMetricFeed(runId, { epochs, lrs, steps, charts }, onSteps) {
  let smoothing = 0.8;
  let redownsampling = false;

  function addEpochRows(rows) {
    if (!rows || !rows.length) return;
    epochs.addRows(rows);
    for (const r of rows) lrs.push(r.epoch, [r.lr]);
    charts.lr.redraw();
  }

  function addStepRows(rows, replace) {
    if (replace) steps.clear();
    if (!rows || !rows.length) { if (replace) charts.step.redraw(); return; }
    for (const r of rows) steps.push(r.step, [r.loss === null || r.loss === undefined ? null : Number(r.loss), null]);
    smooth(steps, smoothing);
    charts.step.redraw();
    onSteps(rows[rows.length - 1]);
    if (steps.data[0].length > 3 * MAX_STEP_POINTS && !redownsampling) redownsample();
  }

  async function redownsample() {
    redownsampling = true;
    try {
      const metrics = await api("GET", `/api/runs/${runId}/metrics?since_epoch=999999999&max_points=${MAX_STEP_POINTS}`);
      const last = steps.last();
      const tail = [];  // rows that arrived while fetching stay
      for (let i = 0; i < steps.data[0].length; i += 1) {
        const step = steps.data[0][i];
        if (metrics.steps.length && step > metrics.steps[metrics.steps.length - 1].step) tail.push({ step, loss: steps.data[1][i] });
      }
      if (last !== null) addStepRows(metrics.steps.concat(tail), true);
    } finally {
      redownsampling = false;
    }
  }

  function setSmoothing(weight) {
    smoothing = weight;
    smooth(steps, smoothing);
    charts.step.redraw();
  }

  return { addEpochRows, addStepRows, setSmoothing };
}
