/* Entry of one run's page: loads the run and its full metric history once, then follows the
 * run's Server-Sent Events and its log, appending new rows to the charts (no reload, no
 * re-fetch). Wires the header, charts, checkpoints, evaluation, Model card, actions, notes and
 * tags and the optimizer inspector together, and exposes `window.torchdash` (point counts, charts, the open
 * event sources and the last copied text) for the browser tests. */

import { $ } from "../shared/dom.js";
import { api } from "../shared/api.js";
import { createCharts } from "./charts.js";
import { wireChartTools } from "./chart_tools.js";
import { createMetricFeed, MAX_STEP_POINTS } from "./metrics.js";
import { noteSteps, startFreshnessClock, touch } from "./pace.js";
import { createHeader } from "./header.js";
import { createCost } from "./cost.js";
import { createCheckpoints } from "./checkpoints.js";
import { createModelCard } from "./model_card.js";
import { refreshEvaluation } from "./evaluation.js";
import { wireActions } from "./actions.js";
import { followLog } from "./log_view.js";
import { follow, setLive } from "./live.js";
import { startInspector } from "./inspector.js";
import { createSystemCharts } from "./system_charts.js";
import { createNotesTags } from "./notes_tags.js";

function main(page) {
  const runId = Number(page.dataset.runId);
  const plots = createCharts();
  const feed = createMetricFeed(runId, plots, noteSteps);
  wireChartTools(runId, plots.charts, feed.setSmoothing);

  const torchdash = {
    epochPoints: () => plots.epochs.series.data[0].length,
    epochPanels: () => plots.epochs.panels(),
    stepPoints: () => plots.steps.data[0].length,
    charts: plots.charts,
  };
  const system = createSystemCharts();
  torchdash.systemPoints = system.points;
  torchdash.gpuCharts = system.gpuCharts;
  window.torchdash = torchdash;
  startFreshnessClock();

  // Until a chart has points it says what will appear there, instead of showing bare axes.
  const emptyStates = [
    ["epoch-chart", "epoch-empty", torchdash.epochPoints],
    ["step-chart", "step-empty", torchdash.stepPoints],
    ["lr-chart", "lr-empty", () => plots.lrs.data[0].length],
  ];
  const showEmptyStates = () => {
    for (const [chartId, noteId, points] of emptyStates) {
      const empty = points() === 0;
      $(chartId).hidden = empty;
      $(noteId).hidden = !empty;
    }
  };
  showEmptyStates();

  let header = null;
  const getRun = () => (header ? header.current() : null);
  const checkpoints = createCheckpoints(runId, getRun);
  const evaluate = () => refreshEvaluation(runId);
  const notesTags = createNotesTags(runId);
  const modelCard = createModelCard({ getRun, onCopied: (text) => { torchdash.copied = text; } });
  const cost = createCost(runId);
  header = createHeader({
    onFinished: () => {
      evaluate();
      setTimeout(evaluate, 1500);  // the worker writes it just before its final status
    },
    onChange: (prev, run) => {
      modelCard.show(prev, run);
      notesTags.render(run);
      cost.render(run);
      if (!prev || prev.epoch !== run.epoch || prev.status !== run.status) checkpoints.refresh();
    },
  });
  wireActions({ runId, getRun, render: header.render });

  async function start() {
    try {
      header.render(await api("GET", `/api/runs/${runId}`));
      const metrics = await api("GET", `/api/runs/${runId}/metrics?max_points=${MAX_STEP_POINTS}`);
      feed.addEpochRows(metrics.epochs);
      feed.addStepRows(metrics.steps);
      showEmptyStates();
      system.addRows((await api("GET", `/api/runs/${runId}/system`)).samples);
      touch();
    } catch (err) {
      const box = $("run-not-found");
      box.textContent = err.status === 404 ? err.message : `Could not load the run: ${err.message}`;
      box.hidden = false;
      setLive(false, "offline");
      if (err.status === 404) return;
    }
    torchdash.source = follow(runId, plots.epochs.series.last() ?? 0, plots.steps.last() ?? 0, {
      run: (run) => { header.render(run); touch(); },
      epoch: (row) => { feed.addEpochRows([row]); showEmptyStates(); touch(); },
      steps: (rows) => { feed.addStepRows(rows); showEmptyStates(); touch(); },
      system: (rows) => system.addRows(rows),
    }, system.lastId());
    torchdash.logSource = followLog(runId, touch);
  }

  start();
  startInspector(runId);
}

const page = $("run-page");
if (page) main(page);
