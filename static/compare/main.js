/* Entry of the compare page: loads each run named in the page (and, for a fork, its parent's
 * row at the fork epoch), then draws the charts and tables; re-fetched every 3 s while any run
 * still trains. Exposes `window.torchdashCompare` ({runs, points(metric), bands(metric),
 * metrics()}) once drawn. */

import { $ } from "../shared/dom.js";
import { bandCount, chartLines, chartedMetrics, drawCharts, pointCounts } from "./charts.js";
import { renderBest, renderDiff, renderGroups } from "./tables.js";

const ACTIVE = new Set(["queued", "running"]);

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// {run, epochs}: epochs include the parent's row at the fork point for a forked run.
async function load(id) {
  const [run, metrics] = await Promise.all([getJson(`/api/runs/${id}`), getJson(`/api/runs/${id}/metrics?max_points=3`)]);
  let rows = metrics.epochs;
  if (run.parent_run_id !== null && run.fork_epoch !== null) {
    try {
      const parent = await getJson(`/api/runs/${run.parent_run_id}/metrics?since_epoch=${run.fork_epoch - 1}&max_points=3`);
      const origin = parent.epochs.find((r) => r.epoch === run.fork_epoch);
      if (origin) rows = [origin, ...rows.filter((r) => r.epoch > run.fork_epoch)];
    } catch (err) { /* the parent was deleted: draw the fork from its own first epoch */ }
  }
  return { run, epochs: rows };
}

function showError(message) {
  $("compare-error").textContent = message;
  $("compare-error").hidden = false;
}

async function refresh(runIds) {
  try {
    const loaded = await Promise.all(runIds.map(load));
    const lines = chartLines(loaded);
    drawCharts(loaded, lines);
    window.torchdashCompare = { runs: loaded.map((l) => l.run.id), points: pointCounts, bands: bandCount, metrics: chartedMetrics };
    renderBest(loaded, lines);
    renderGroups(lines);
    renderDiff(loaded);
    if (loaded.some((l) => ACTIVE.has(l.run.status))) setTimeout(() => refresh(runIds), 3000);
  } catch (err) {
    showError(`Could not load the runs: ${err.message}`);
  }
}

if ($("compare-page")) {
  const runIds = JSON.parse($("compare-run-ids").textContent);
  if (runIds.length < 2) showError("Select at least two runs in the runs list to compare them.");
  else refresh(runIds);
}
