/* Entry of a study's page: reads the study (GET /api/studies/{id}), draws its header and
 * progress, the best trial with its config, the trials table and the charts, and draws them
 * again with each state its event stream brings (live.js). The buttons steer it: add trials, trials
 * at once, stop, resume. With several seeds per trial, each trial's objective per epoch (mean
 * ± std over its seeds) is read from its runs' metrics. Exposes `window.torchdashStudy`
 * ({study(), live(), spread(number)}). */

import { $, h, setText } from "../shared/dom.js";
import { api } from "../shared/api.js";
import { meanStd, fmtMeanStd } from "../shared/seed_groups.js";
import { doneCount, fmtObjective, fmtParam, fmtProgress, fmtValue } from "./format.js";
import { renderTrials } from "./table.js";
import { drawIntermediate, drawObjective } from "./charts.js";
import { drawImportances, drawParallel } from "./parallel.js";
import { followStudy } from "./live.js";
import { fmtCostTotals } from "../shared/cost.js";

const page = $("study-page");
const studyId = Number(page && page.dataset.studyId);
let study = null;
const runEpochs = new Map();  // run id -> [{epoch, value}] of the objective
const readWhole = new Set();  // runs whose epochs were read after they ended: not read again

const FINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);

// With several seeds per trial, Optuna hears of a trial only when its runs end: the objective
// per epoch comes from the runs' own epoch rows (a finished run's are read once).
async function readSeedRuns() {
  if (!study || study.seeds < 2) return;
  // A run read while it still trained is read again: only a read made after it ended is whole.
  const wanted = study.trials.flatMap((t) => t.run_ids.map((id, i) => [id, FINAL.has(t.run_statuses[i])]))
    .filter(([id]) => !readWhole.has(id));
  await Promise.all(wanted.map(async ([id, ended]) => {
    const metrics = await api("GET", `/api/runs/${id}/metrics?max_points=3`);
    runEpochs.set(id, metrics.epochs.map((r) => ({ epoch: r.epoch, value: (r.metrics || {})[study.objective] ?? null })));
    if (ended) readWhole.add(id);
  }));
  for (const trial of study.trials) {
    const series = trial.run_ids.map((id) => new Map((runEpochs.get(id) || []).map((r) => [r.epoch, r.value])));
    const epochs = [...new Set(series.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
    trial.seed_stats = epochs.map((epoch) => ({ epoch, ...(meanStd(series.map((m) => m.get(epoch) ?? null)) || { mean: null, std: null }) }));
    if (!trial.intermediate_values.length) trial.intermediate_values = trial.seed_stats.map((r) => ({ epoch: r.epoch, value: r.mean }));
  }
}

/** {mean, std, n} of a trial's objective over its seeds' runs at their last epochs; null with
 * one seed. */
function spread(trial) {
  if (!study || study.seeds < 2) return null;
  return meanStd(trial.run_ids.map((id) => {
    const rows = runEpochs.get(id) || [];
    return rows.length ? rows[rows.length - 1].value : null;
  }));
}

function renderHeader() {
  setText("study-name", study.name);
  const badge = $("study-status");
  badge.className = `badge study-${study.status}`;
  badge.textContent = study.status;
  const done = doneCount(study.progress);
  const bar = $("study-progress");
  bar.setAttribute("aria-valuemax", String(study.progress.n_trials));
  bar.setAttribute("aria-valuenow", String(done));
  bar.querySelector(".progress-fill").style.width = `${study.progress.n_trials ? (100 * done) / study.progress.n_trials : 0}%`;
  bar.classList.toggle("done", study.status === "finished");
  setText("study-progress-text", fmtProgress(study.progress));
  setText("study-objective", fmtObjective(study));
  setText("study-sampler", study.sampler);
  setText("study-pruner", study.pruner);
  setText("study-parallelism", study.parallelism === null ? `${study.effective_parallelism} (free slots)` : String(study.parallelism));
  setText("study-seeds", String(study.seeds));
  const group = $("study-group");
  group.textContent = study.group_name;
  group.href = `/?q=${encodeURIComponent(study.group_name)}`;
  const reason = $("study-stop-reason");
  reason.hidden = !study.stop_reason;
  reason.textContent = study.stop_reason || "";
  $("stop-study-button").hidden = study.status !== "running";
  $("resume-study-button").hidden = study.status !== "stopped";
}

function renderBest() {
  const best = study.best_trial;
  const box = $("best-trial");
  if (!best) {
    box.replaceChildren(h("p", { class: "muted", text: "No trial has finished yet." }));
    return;
  }
  const trial = study.trials.find((t) => t.number === best.number);
  const s = trial ? spread(trial) : null;
  box.replaceChildren(
    h("p", { class: "best-line" }, "Trial ", h("a", { href: `/runs/${best.run_ids[0]}`, text: `#${best.number}` }), ": ",
      h("strong", { id: "best-value", text: s ? fmtMeanStd(s, (v) => fmtValue(study, v)) : fmtValue(study, best.value) }),
      ` ${study.objective}`, best.run_ids.length > 1 ? ` (mean of ${best.run_ids.length} seeds)` : ""),
    h("table", { class: "data-table best-params" }, h("tbody", {}, Object.entries(best.params).map(([field, value]) =>
      h("tr", { "data-field": field }, h("td", { class: "field-name", text: field }), h("td", { class: "num", text: fmtParam(value) }))))),
    h("p", {}, h("a", { class: "button secondary small", href: `/?from=${best.run_ids[0]}#new-run`, text: "Run this config again" }),
      " ", best.run_ids.length > 1 ? h("a", { class: "button secondary small", href: `/compare?ids=${best.run_ids.join(",")}`, text: "Compare its seeds" }) : ""),
    h("details", {}, h("summary", { text: "Its config" }), h("pre", { class: "config-json", text: JSON.stringify(best.config, null, 2) })),
  );
}

// The trials' summed cost: one aggregate of their stored totals on the server.
async function renderCost() {
  try {
    setText("study-cost", fmtCostTotals(await api("GET", `/api/costs?study_id=${studyId}`)));
  } catch {
    setText("study-cost", "–");
  }
}

function render() {
  renderHeader();
  renderCost();
  renderBest();
  renderTrials(study, spread);
  drawObjective(study);
  drawIntermediate(study);
  drawParallel(study);
  drawImportances(study);
}

// Draw a new state of the study (from a read or from its event stream).
async function show(detail) {
  study = detail;
  await readSeedRuns();
  render();
}

async function reload() {
  try {
    await show(await api("GET", `/api/studies/${studyId}`));
  } catch (err) {
    const box = $("study-not-found");
    box.hidden = false;
    box.replaceChildren(err.status === 404 ? `Study ${studyId} not found. ` : `Could not load the study: ${err.message} `, h("a", { href: "/studies", text: "All studies" }));
  }
}

// The steering buttons: each posts, then the page reads the study again.
function wireActions() {
  const act = (id, method, url, body) => $(id).addEventListener("click", async () => {
    $("action-error").textContent = "";
    $(id).disabled = true;
    try {
      await api(method, url, body());
      await reload();
    } catch (err) {
      $("action-error").textContent = err.message;
    } finally {
      $(id).disabled = false;
    }
  });
  act("add-trials-button", "POST", `/api/studies/${studyId}/trials`, () => ({ n: Number($("add-trials-n").value) }));
  act("parallelism-button", "PATCH", `/api/studies/${studyId}`, () => ({ parallelism: $("parallelism-n").value.trim() === "" ? null : Number($("parallelism-n").value) }));
  act("stop-study-button", "POST", `/api/studies/${studyId}/stop`, () => ({}));
  act("resume-study-button", "POST", `/api/studies/${studyId}/resume`, () => ({}));
}

if (page) {
  wireActions();
  reload().then(() => {
    const live = followStudy(studyId, (detail) => show(detail).catch((err) => { $("action-error").textContent = err.message; }),
      reload, () => study !== null && study.status !== "running");
    window.torchdashStudy = { study: () => study, live: live.mode, spread: (n) => spread(study.trials.find((t) => t.number === n)) };
  });
}
