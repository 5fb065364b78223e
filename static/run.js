/* torchdash: one run's page. Loads the run and its full metric history once, then follows the
 * run's Server-Sent Events and appends new rows to the charts (no reload, no re-fetch). */
(function () {
  "use strict";

  const page = document.getElementById("run-page");
  if (!page) return;
  const runId = Number(page.dataset.runId);
  const { $, h } = window.dom;
  const TERMINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
  const CHART_HEIGHT = 300;

  // --- helpers -------------------------------------------------------------------------------


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
  const lrs = makeSeries(["epoch", "lr"]);
  const steps = makeSeries(["step", "loss", "smoothed"]);
  // Debiased exponential moving average, as TensorBoard draws it; the slider sets its weight.
  let smoothing = 0.8;
  function smoothAll() {
    const [, losses, smoothed] = steps.data;
    let sum = 0;
    let count = 0;
    for (let i = 0; i < losses.length; i += 1) {
      const loss = losses[i];
      if (loss === null || !Number.isFinite(loss)) { smoothed[i] = null; continue; }
      sum = smoothing * sum + (1 - smoothing) * loss;
      count += 1;
      smoothed[i] = smoothing === 0 ? loss : sum / (1 - smoothing ** count);
    }
  }

  const legendValue = (digits) => (u, v) => (v === null || v === undefined ? "–" : v.toFixed(digits));
  const legendExp = (u, v) => (v === null || v === undefined ? "–" : v.toExponential(3));
  const legendPct = (u, v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
  const legendInt = (u, v) => (v === null || v === undefined ? "–" : String(v));
  const integerIncrs = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

  function chartWidth(el) {
    return Math.max(320, el.clientWidth || el.parentElement.clientWidth || 800);
  }

  // Each chart can be rebuilt (a log-scale toggle changes its scales); `spec(log)` gives options.
  function makeChart(el, series, spec, height) {
    const chart = { el, series, log: false, plot: null, height };
    chart.build = () => {
      if (chart.plot) chart.plot.destroy();
      chart.plot = new uPlot({ width: chartWidth(el), height, ...spec(chart.log) }, series.data, el);
    };
    chart.redraw = () => chart.plot.setData(series.data);
    chart.build();
    return chart;
  }

  const lossScale = (log) => (log ? { distr: 3, auto: true } : { auto: true });

  const epochChart = makeChart($("epoch-chart"), epochs, (log) => ({
    scales: { x: { time: false }, loss: lossScale(log), acc: { auto: false, range: [0, 1] } },
    series: [
      { label: "epoch", value: legendInt },
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
  }), CHART_HEIGHT);

  const stepChart = makeChart($("step-chart"), steps, (log) => ({
    scales: { x: { time: false }, loss: lossScale(log) },
    series: [
      { label: "step", value: legendInt },
      { label: "train loss", scale: "loss", stroke: "rgba(37, 99, 235, 0.35)", width: 1, value: legendValue(4) },
      { label: "smoothed", scale: "loss", stroke: "#1d4ed8", width: 2, value: legendValue(4) },
    ],
    axes: [{ label: "step", incrs: integerIncrs }, { scale: "loss", label: "loss" }],
  }), CHART_HEIGHT);

  const lrChart = makeChart($("lr-chart"), lrs, (log) => ({
    scales: { x: { time: false }, lr: lossScale(log) },
    series: [
      { label: "epoch", value: legendInt },
      { label: "lr (group 0)", scale: "lr", stroke: "#7c3aed", width: 2, value: legendExp },
    ],
    axes: [{ label: "epoch", incrs: integerIncrs }, { scale: "lr", label: "learning rate", size: 70, values: (u, ticks) => ticks.map((t) => t.toExponential(0)) }],
  }), 200);

  const charts = { epoch: epochChart, step: stepChart, lr: lrChart };

  if (window.ResizeObserver) {
    const widths = new Map();
    const observer = new ResizeObserver((entries) => {
      for (const entry of entries) {
        const width = Math.round(entry.contentRect.width);
        if (!width || widths.get(entry.target) === width) continue;  // height changes: ignore
        widths.set(entry.target, width);
        const chart = Object.values(charts).find((c) => c.el === entry.target);
        chart.plot.setSize({ width: Math.max(320, width), height: chart.height });
      }
    });
    Object.values(charts).forEach((c) => observer.observe(c.el));
  }

  // Chart tools: log scale, PNG (the canvas on white) and CSV (the chart's own columns).
  function download(name, url) {
    const a = h("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
  }
  document.querySelectorAll(".chart-tools").forEach((tools) => {
    const chart = charts[tools.dataset.chart];
    tools.querySelector(".log-toggle").addEventListener("change", (e) => { chart.log = e.target.checked; chart.build(); });
    tools.querySelector(".png-button").addEventListener("click", () => {
      const source = chart.plot.ctx.canvas;
      const canvas = h("canvas", { width: source.width, height: source.height });
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(source, 0, 0);
      download(`run${runId}-${tools.dataset.chart}.png`, canvas.toDataURL("image/png"));
    });
    tools.querySelector(".csv-button").addEventListener("click", () => {
      const names = chart.plot.series.map((s) => s.label);
      const rows = [names.join(",")];
      const data = chart.series.data;
      for (let i = 0; i < data[0].length; i += 1) rows.push(data.map((col) => (col[i] ?? "")).join(","));
      const blob = new Blob([rows.join("\n") + "\n"], { type: "text/csv" });
      download(`run${runId}-${tools.dataset.chart}.csv`, URL.createObjectURL(blob));
    });
  });

  $("smoothing").addEventListener("input", (e) => {
    smoothing = Number(e.target.value);
    $("smoothing-value").textContent = smoothing.toFixed(2);
    smoothAll();
    stepChart.redraw();
  });

  function addEpochRows(rows) {
    if (!rows || !rows.length) return;
    for (const r of rows) {
      epochs.push(r.epoch, [r.train_loss, r.val_loss, r.train_accuracy, r.val_accuracy]);
      lrs.push(r.epoch, [r.lr]);
    }
    epochChart.redraw();
    lrChart.redraw();
  }

  // The step chart holds a downsampled history plus the live tail; when the tail grows long,
  // the history is fetched again downsampled by the server, so the chart never holds too much.
  const MAX_STEP_POINTS = 2000;
  let redownsampling = false;

  function addStepRows(rows, replace) {
    if (replace) steps.data.forEach((col) => { col.length = 0; });
    if (!rows || !rows.length) { if (replace) stepChart.redraw(); return; }
    for (const r of rows) steps.push(r.step, [r.loss === null || r.loss === undefined ? null : Number(r.loss), null]);
    smoothAll();
    stepChart.redraw();
    noteSteps(rows[rows.length - 1]);
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

  window.torchdash = {
    epochPoints: () => epochs.data[0].length,
    stepPoints: () => steps.data[0].length,
    charts,
  };

  // --- speed, ETA and freshness --------------------------------------------------------------

  const speedSamples = [];  // [time ms, global step] of recent step events
  let lastUpdate = null;

  function noteSteps(lastRow) {
    speedSamples.push([Date.now(), lastRow.step]);
    while (speedSamples.length > 2 && Date.now() - speedSamples[0][0] > 15000) speedSamples.shift();
  }

  function stepsPerSecond() {
    if (speedSamples.length < 2) return null;
    const [t0, s0] = speedSamples[0];
    const [t1, s1] = speedSamples[speedSamples.length - 1];
    return t1 > t0 && s1 > s0 ? ((s1 - s0) * 1000) / (t1 - t0) : null;
  }

  function fmtDuration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return `${seconds} s`;
    const m = Math.floor(seconds / 60);
    if (m < 60) return `${m} min ${seconds % 60} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function touch() { lastUpdate = Date.now(); showUpdated(); }
  function showUpdated() {
    if (lastUpdate === null) return;
    const seconds = Math.round((Date.now() - lastUpdate) / 1000);
    setText("run-updated", seconds < 1 ? "updated just now" : `updated ${seconds} s ago`);
  }
  setInterval(showUpdated, 1000);

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
    let progressText = "";
    if (batches && run.status === "running") {
      progressText = `batch ${batch}/${batches}`;
      const rate = stepsPerSecond();
      if (rate) {
        const batchSize = run.config && run.config.batch_size ? run.config.batch_size : 0;
        const left = (run.max_epochs - run.epoch) * batches - batch;
        progressText += ` · ${Math.round(rate * batchSize).toLocaleString("en-US")} samples/s · ETA ${fmtDuration(left / rate)}`;
      }
    }
    setText("progress-text", progressText);

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
    $("delete-button").hidden = !TERMINAL.has(run.status);
    if (TERMINAL.has(run.status) && (!prev || !TERMINAL.has(prev.status))) {
      refreshEvaluation();
      setTimeout(refreshEvaluation, 1500);  // the worker writes it just before its final status
    }
    $("resume-max-epochs").placeholder = String(run.max_epochs);

    setText("run-params", run.parameter_count === null || run.parameter_count === undefined
      ? "–" : Number(run.parameter_count).toLocaleString("en-US"));
    setText("run-classes", run.class_names && run.class_names.length ? run.class_names.join(", ") : "–");
    if (run.model_summary) setText("model-summary", run.model_summary);
    if (run.config && (!prev || JSON.stringify(prev.config) !== JSON.stringify(run.config) || !configShown)) {
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
      tbody.replaceChildren(h("tr", { class: "empty-row" }, h("td", { colspan: 8, text: `Could not load checkpoints: ${err.message}` })));
    } finally {
      checkpointsBusy = false;
    }
  }

  const forkUrl = (epoch) => `/?fork=${runId}&epoch=${epoch}#new-run`;

  function renderCheckpoints(list) {
    const tbody = $("checkpoints-table").querySelector("tbody");
    if (!list || !list.length) {
      tbody.replaceChildren(h("tr", { class: "empty-row" }, h("td", { colspan: 8, text: "No checkpoints yet." })));
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
      h("td", {}, c.complete ? h("a", { class: "fork-here", href: forkUrl(c.epoch), text: "fork from here" }) : null),
    )));
    const lastComplete = list.filter((c) => c.complete).map((c) => c.epoch).pop();
    const forkLink = $("fork-link");
    forkLink.hidden = lastComplete === undefined;
    if (lastComplete !== undefined) {
      forkLink.href = forkUrl(lastComplete);
      forkLink.textContent = `Fork from epoch ${lastComplete}…`;
    }
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

  $("delete-button").addEventListener("click", async () => {
    actionError.textContent = "";
    if (!window.confirm(`Delete run #${runId} (${run ? run.name : ""}) with its metrics, checkpoints and log? This cannot be undone.`)) return;
    try {
      await api("DELETE", `/api/runs/${runId}`);
      location.href = "/";
    } catch (err) {
      actionError.textContent = err.message;
    }
  });

  // --- config copy buttons -------------------------------------------------------------------

  function curlCommand() {
    const body = JSON.stringify(run.config).replace(/'/g, "'\\''");
    return `curl -s ${location.origin}/api/runs -H 'content-type: application/json' -d '${body}'`;
  }
  async function copy(text, what) {
    try {
      await navigator.clipboard.writeText(text);
      setText("copy-note", `${what} copied.`);
    } catch (err) {
      // No clipboard (plain http on another host): select the text so Ctrl+C works.
      const pre = $("run-config");
      pre.textContent = text;
      window.getSelection().selectAllChildren(pre);
      setText("copy-note", `Press Ctrl+C to copy the ${what}.`);
    }
    window.torchdash.copied = text;
  }
  $("copy-json").addEventListener("click", () => run && copy(JSON.stringify(run.config, null, 2), "JSON"));
  $("copy-curl").addEventListener("click", () => run && copy(curlCommand(), "curl command"));

  // --- the worker's log, streamed ------------------------------------------------------------

  const MAX_LOG_CHARS = 200000;
  function followLog() {
    const pre = $("run-log");
    let started = false;
    const source = new EventSource(`/api/runs/${runId}/log/events`);
    source.addEventListener("log", (e) => {
      const { text } = JSON.parse(e.data);
      if (!started) { pre.textContent = ""; started = true; }
      pre.append(text);
      if (pre.textContent.length > MAX_LOG_CHARS) pre.textContent = pre.textContent.slice(-MAX_LOG_CHARS);
      if ($("log-follow").checked) pre.scrollTop = pre.scrollHeight;
      touch();
    });
    return source;
  }

  // --- evaluation of the best epoch (static/evaluation.js draws it) --------------------------

  function refreshEvaluation() {
    window.TorchdashEvaluation.load(runId).catch((err) => setText("evaluation-note", `Could not load the evaluation: ${err.message}`));
  }

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
    source.addEventListener("run", (e) => { renderRun(JSON.parse(e.data)); touch(); });
    source.addEventListener("epoch", (e) => { addEpochRows([JSON.parse(e.data)]); touch(); });
    source.addEventListener("steps", (e) => { addStepRows(JSON.parse(e.data)); touch(); });
    return source;
  }

  async function start() {
    try {
      renderRun(await api("GET", `/api/runs/${runId}`));
      const metrics = await api("GET", `/api/runs/${runId}/metrics?max_points=${MAX_STEP_POINTS}`);
      addEpochRows(metrics.epochs);
      addStepRows(metrics.steps);
      touch();
    } catch (err) {
      const box = $("run-not-found");
      box.textContent = err.status === 404 ? err.message : `Could not load the run: ${err.message}`;
      box.hidden = false;
      setLive(false, "offline");
      if (err.status === 404) return;
    }
    window.torchdash.source = follow();
    window.torchdash.logSource = followLog();
  }

  start();
})();
