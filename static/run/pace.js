/* How fast the run trains and how fresh the page is: recent step events give the steps per
 * second behind the header's samples/s and ETA, and every update received restarts the
 * "updated N s ago" note beside the live indicator. */

import { setText } from "../shared/dom.js";

const speedSamples = [];  // [time ms, global step] of recent step events
let lastUpdate = null;

/** Remember the newest step row, for the speed over the last 15 s. */
export function noteSteps(lastRow) {
  speedSamples.push([Date.now(), lastRow.step]);
  while (speedSamples.length > 2 && Date.now() - speedSamples[0][0] > 15000) speedSamples.shift();
}

/** Steps per second over the recent samples; null before there are two that differ. */
export function stepsPerSecond() {
  if (speedSamples.length < 2) return null;
  const [t0, s0] = speedSamples[0];
  const [t1, s1] = speedSamples[speedSamples.length - 1];
  return t1 > t0 && s1 > s0 ? ((s1 - s0) * 1000) / (t1 - t0) : null;
}

function showUpdated() {
  if (lastUpdate === null) return;
  const seconds = Math.round((Date.now() - lastUpdate) / 1000);
  setText("run-updated", seconds < 1 ? "updated just now" : `updated ${seconds} s ago`);
}

/** An update arrived now. */
export function touch() { lastUpdate = Date.now(); showUpdated(); }

/** Keep the "updated N s ago" note current, once a second. */
export function startFreshnessClock() { setInterval(showUpdated, 1000); }
