/* torchdash: one run's page. Loads the run and its full metric history once, then follows the
 * run's Server-Sent Events and appends new rows to the charts (no reload, no re-fetch). */
(function () {
  "use strict";

  const page = document.getElementById("run-page");
  if (!page) return;
  const runId = Number(page.dataset.runId);
  const $ = (id) => document.getElementById(id);
  const TERMINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
  const CHART_HEIGHT = 300;

  // --- helpers -------------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else el.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  // The server writes UTC; an ISO string without a zone is read as UTC, not local time.
  function parseTime(iso) {
    if (!iso) return null;
    const date = new Date(/([zZ]|[+-]\d\d:?\d\d)$/.test(iso) ? iso : iso + "Z");
    return Number.isNaN(date.getTime()) ? null : date;
  }
  const fmtTime = (iso) => { const d = parseTime(iso); return d ? d.toLocaleString() : "–"; };
  const fmtNum = (v, digits = 4) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
  const fmtPct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
  function fmtBytes(n) {
    if (n === null || n === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  }

  async function api(method, url, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const detail = data && data.detail !== undefined ? data.detail : response.statusText;
      const message = Array.isArray(detail) ? detail.map((d) => d.msg).join("; ") : String(detail);
      const err = new Error(message || `HTTP ${response.status}`);
      err.status = response.status;
      throw err;
    }
    return data;
  }

  // --- charts --------------------------------------------------------------------------------

  // Columnar series that only grow at the end; a row at or before the last x (a resumed run
  // redoing an epoch, or a replayed event) replaces the tail instead of breaking x order.
  function makeSeries(columns) {
    const data = columns.map(() => []);
    return {
      data,
      last: () => (data[0].length ? data[0][data[0].length - 1] : null),
      push(x, values) {
        const xs = data[0];
        if (xs.length && x <= xs[xs.length - 1]) {
          let keep = xs.length;
          while (keep > 0 && xs[keep - 1] >= x) keep -= 1;
          data.forEach((col) => { col.length = keep; });
        }
        xs.push(x);
        values.forEach((v, i) => data[i + 1].push(v === undefined ? null : v));
      },
    };
  }

  const epochs = makeSeries(["epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy"]);
  const steps = makeSeries(["step", "loss", "smoothed"]);
  // Debiased exponential moving average, as TensorBoard draws it.
  const SMOOTHING = 0.8;
  let emaSum = 0;
  let emaCount = 0;
  function smooth(loss) {
    if (loss === null || !Number.isFinite(loss)) return null;
    emaSum = SMOOTHING * emaSum + (1 - SMOOTHING) * loss;
    emaCount += 1;
    return emaSum / (1 - SMOOTHING ** emaCount);
  }

  const legendValue = (digits) => (u, v) => (v === null || v === undefined ? "–" : v.toFixed(digits));
  const legendPct = (u, v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
  const integerIncrs = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

  function chartWidth(el) {
    return Math.max(320, el.clientWidth || el.parentElement.clientWidth || 800);
  }

  function makeEpochChart(el) {
    return new uPlot({
      width: chartWidth(el),
      height: CHART_HEIGHT,
      scales: { x: { time: false }, loss: { auto: true }, acc: { auto: false, range: [0, 1] } },
      series: [
        { label: "epoch", value: (u, v) => (v === null || v === undefined ? "–" : String(v)) },
        { label: "train loss", scale: "loss", stroke: "#2563eb", width: 2, value: legendValue(4) },
        { label: "val loss", scale: "loss", stroke: "#f97316", width: 2, value: legendValue(4) },
        { label: "train acc", scale: "acc", stroke: "#93c5fd", width: 1.5, dash: [6, 4], value: legendPct },
        { label: "val acc", scale: "acc", stroke: "#16a34a", width: 2, value: legendPct },
      ],
      axes: [
        { label: "epoch", incrs: integerIncrs },
        { scale: "loss", label: "loss" },
        { scale: "acc", side: 1, label: "accuracy", grid: { show: false }, values: (u, ticks) => ticks.map((t) => t.toFixed(1)) },
      ],
    }, epochs.data, el);
  }

  function makeStepChart(el) {
    return new uPlot({
      width: chartWidth(el),
      height: CHART_HEIGHT,
      scales: { x: { time: false }, loss: { auto: true } },
      series: [
        { label: "step", value: (u, v) => (v === null || v === undefined ? "–" : String(v)) },
        { label: "train loss", scale: "loss", stroke: "rgba(37, 99, 235, 0.35)", width: 1, value: legendValue(4) },
        { label: "smoothed", scale: "loss", stroke: "#1d4ed8", width: 2, value: legendValue(4) },
      ],
      axes: [{ label: "step", incrs: integerIncrs }, { scale: "loss", label: "loss" }],
    }, steps.data, el);
  }

  const epochChartEl = $("epoch-chart");
  const stepChartEl = $("step-chart");
  const epochChart = makeEpochChart(epochChartEl);
  const stepChart = makeStepChart(stepChartEl);

  if (window.ResizeObserver) {
    const widths = new Map();
    const observer = new ResizeObserver((entries) => {
      for (const entry of entries) {
        const width = Math.round(entry.contentRect.width);
        if (!width || widths.get(entry.target) === width) continue;  // height changes: ignore
        widths.set(entry.target, width);
        const chart = entry.target === epochChartEl ? epochChart : stepChart;
        chart.setSize({ width: Math.max(320, width), height: CHART_HEIGHT });
      }
    });
    observer.observe(epochChartEl);
    observer.observe(stepChartEl);
  }

  function addEpochRows(rows) {
    if (!rows || !rows.length) return;
    for (const r of rows) epochs.push(r.epoch, [r.train_loss, r.val_loss, r.train_accuracy, r.val_accuracy]);
    epochChart.setData(epochs.data);
  }

  function addStepRows(rows) {
    if (!rows || !rows.length) return;
    for (const r of rows) {
      const loss = r.loss === null || r.loss === undefined ? null : Number(r.loss);
      const rewinds = steps.last() !== null && r.step <= steps.last();
      steps.push(r.step, [loss, null]);
      if (rewinds) {
        // A resumed run redid some steps: recompute the smoothed curve over what is kept.
        emaSum = 0;
        emaCount = 0;
        const [, losses, smoothed] = steps.data;
        for (let i = 0; i < losses.length; i += 1) smoothed[i] = smooth(losses[i]);
      } else {
        steps.data[2][steps.data[2].length - 1] = smooth(loss);
      }
    }
    stepChart.setData(steps.data);
  }

  window.torchdash = {
    epochPoints: () => epochs.data[0].length,
    stepPoints: () => steps.data[0].length,
  };

  // --- the run header ------------------------------------------------------------------------

  let run = null;
  let configShown = false;

  function setText(id, text) {
    const el = $(id);
    if (el.textContent !== text) el.textContent = text;
  }

  function renderRun(next) {
    const prev = run;
    run = next;
    document.title = `${run.name} · torchdash`;
    setText("run-name", run.name);

    const badge = $("run-status");
    badge.textContent = run.status;
    badge.className = `badge status-${run.status}`;
    const stopping = Boolean(run.stop_requested) && !TERMINAL.has(run.status);
    $("run-stopping").hidden = !stopping;

    setText("run-epoch", `epoch ${run.epoch}/${run.max_epochs}`);
    const progress = run.progress || { batch: 0, batches: 0 };
    const done = run.status === "succeeded";
    const batches = progress.batches || 0;
    const batch = done ? batches : Math.min(progress.batch || 0, batches);
    const fraction = done ? 1 : batches ? batch / batches : 0;
    const bar = $("progress-bar");
    bar.querySelector(".progress-fill").style.width = `${(fraction * 100).toFixed(1)}%`;
    bar.classList.toggle("done", done);
    bar.setAttribute("aria-valuemax", String(batches));
    bar.setAttribute("aria-valuenow", String(batch));
    setText("progress-text", batches && run.status === "running" ? `batch ${batch}/${batches}` : "");

    setText("run-device", run.device || "–");
    setText("run-best", fmtPct(run.best_val_accuracy));
    setText("run-created", fmtTime(run.created_at));
    setText("run-started", fmtTime(run.started_at));
    setText("run-finished", fmtTime(run.finished_at));
    if (run.parent_run_id !== null && run.parent_run_id !== undefined) {
      $("run-parent-wrap").hidden = false;
      const label = `#${run.parent_run_id}` + (run.fork_epoch !== null && run.fork_epoch !== undefined ? ` at epoch ${run.fork_epoch}` : "");
      $("run-parent").replaceChildren(h("a", { href: `/runs/${run.parent_run_id}`, text: label }));
    }

    const errorEl = $("run-error");
    errorEl.hidden = !run.error;
    setText("run-error", run.error || "");

    const cancel = $("cancel-button");
    cancel.hidden = !(run.status === "queued" || run.status === "running");
    cancel.disabled = stopping;
    cancel.textContent = stopping ? "Stopping…" : "Cancel";
    $("resume-controls").hidden = !TERMINAL.has(run.status);
    $("resume-max-epochs").placeholder = String(run.max_epochs);

    setText("run-params", run.parameter_count === null || run.parameter_count === undefined
      ? "–" : Number(run.parameter_count).toLocaleString("en-US"));
    setText("run-classes", run.class_names && run.class_names.length ? run.class_names.join(", ") : "–");
    if (run.model_summary) setText("model-summary", run.model_summary);
    if (!configShown && run.config) {
      setText("run-config", JSON.stringify(run.config, null, 2));
      configShown = true;
    }

    if (!prev || prev.epoch !== run.epoch || prev.status !== run.status) refreshCheckpoints();
  }

  // --- checkpoints ---------------------------------------------------------------------------

  let checkpointsBusy = false;
  let checkpointsAgain = false;

  async function refreshCheckpoints() {
    if (checkpointsBusy) { checkpointsAgain = true; return; }
    checkpointsBusy = true;
    try {
      do {
        checkpointsAgain = false;
        renderCheckpoints(await api("GET", `/api/runs/${runId}/checkpoints`));
      } while (checkpointsAgain);
    } catch (err) {
      const tbody = $("checkpoints-table").querySelector("tbody");
      tbody.replaceChildren(h("tr", { class: "empty-row" }, h("td", { colspan: 7, text: `Could not load checkpoints: ${err.message}` })));
    } finally {
      checkpointsBusy = false;
    }
  }

  function renderCheckpoints(list) {
    const tbody = $("checkpoints-table").querySelector("tbody");
    if (!list || !list.length) {
      tbody.replaceChildren(h("tr", { class: "empty-row" }, h("td", { colspan: 7, text: "No checkpoints yet." })));
      return;
    }
    tbody.replaceChildren(...list.map((c) => h("tr", {},
      h("td", { class: "num", text: String(c.epoch) }),
      h("td", { text: c.complete ? "complete" : `partial (${c.batches_done} batches)` }),
      h("td", { class: "num", text: fmtNum(c.val_loss) }),
      h("td", { class: "num", text: fmtPct(c.val_accuracy) }),
      h("td", { class: "num", text: fmtBytes(c.size_bytes) }),
      h("td", { text: fmtTime(c.created_at) }),
      h("td", {},
        h("a", { href: c.model_url, download: "", text: "model" }),
        h("a", { href: c.optimizer_url, download: "", text: "optimizer" })),
    )));
  }

  // --- actions -------------------------------------------------------------------------------

  const actionError = $("action-error");

  $("cancel-button").addEventListener("click", async () => {
    actionError.textContent = "";
    $("cancel-button").disabled = true;
    try {
      renderRun(await api("POST", `/api/runs/${runId}/cancel`));
    } catch (err) {
      actionError.textContent = err.message;
      $("cancel-button").disabled = false;
    }
  });

  $("resume-button").addEventListener("click", async () => {
    actionError.textContent = "";
    const input = $("resume-max-epochs");
    const body = {};
    if (input.value.trim() !== "") body.max_epochs = Number(input.value);
    $("resume-button").disabled = true;
    try {
      renderRun(await api("POST", `/api/runs/${runId}/resume`, body));
      input.value = "";
    } catch (err) {
      actionError.textContent = err.message;
      if (err.status === 409 && run && run.epoch >= run.max_epochs && input.value.trim() === "") {
        // Finished at max_epochs: offer more epochs to train.
        input.value = String(run.max_epochs + 10);
        input.focus();
        input.select();
      }
    } finally {
      $("resume-button").disabled = false;
    }
  });

  // --- live updates --------------------------------------------------------------------------

  function setLive(on, text) {
    const el = $("live-indicator");
    el.className = `live ${on ? "on" : "off"}`;
    el.textContent = text;
  }

  function follow() {
    const since = `since_epoch=${epochs.last() ?? 0}&since_step=${steps.last() ?? 0}`;
    const source = new EventSource(`/api/runs/${runId}/events?${since}`);
    source.addEventListener("open", () => setLive(true, "live"));
    source.addEventListener("error", () => setLive(false, source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting…"));
    source.addEventListener("run", (e) => renderRun(JSON.parse(e.data)));
    source.addEventListener("epoch", (e) => addEpochRows([JSON.parse(e.data)]));
    source.addEventListener("steps", (e) => addStepRows(JSON.parse(e.data)));
    return source;
  }

  async function start() {
    try {
      renderRun(await api("GET", `/api/runs/${runId}`));
      const metrics = await api("GET", `/api/runs/${runId}/metrics`);
      addEpochRows(metrics.epochs);
      addStepRows(metrics.steps);
    } catch (err) {
      const box = $("run-not-found");
      box.textContent = err.status === 404 ? err.message : `Could not load the run: ${err.message}`;
      box.hidden = false;
      setLive(false, "offline");
      if (err.status === 404) return;
    }
    window.torchdash.source = follow();
  }

  start();
})();
