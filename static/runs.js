/* torchdash: the runs table on the home page. Re-fetched every 2 s (only when changed is it
 * redrawn); sortable by any column, filtered by status and text, rows selectable for comparing. */
(function () {
  "use strict";

  const PAGE_SIZE = 50;
  const REFRESH_MS = 2000;

  const table = document.getElementById("runs-table");
  if (!table) return;
  const tbody = table.querySelector("tbody");
  const filter = document.getElementById("status-filter");
  const textFilter = document.getElementById("text-filter");
  const countEl = document.getElementById("runs-count");
  const prev = document.getElementById("runs-prev");
  const next = document.getElementById("runs-next");
  const errorEl = document.getElementById("runs-error");
  const compareButton = document.getElementById("compare-button");
  const selectAll = document.getElementById("select-all");

  let offset = 0;
  let lastJson = null;
  let lastData = null;
  let timer = null;
  let inFlight = false;
  let sortKey = "id";
  let sortDesc = true;
  const selected = new Set();

  const params = new URLSearchParams(location.search);
  if (params.get("q")) textFilter.value = params.get("q");

  const { h } = window.dom;

  // The server writes UTC; an ISO string without a zone is read as UTC, not local time.
  function parseTime(iso) {
    if (!iso) return null;
    const hasZone = /([zZ]|[+-]\d\d:?\d\d)$/.test(iso);
    const date = new Date(hasZone ? iso : iso + "Z");
    return Number.isNaN(date.getTime()) ? null : date;
  }

  function relativeTime(date) {
    const seconds = Math.round((Date.now() - date.getTime()) / 1000);
    if (seconds < 45) return "just now";
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return `${minutes} min ago`;
    const hours = Math.round(minutes / 60);
    if (hours < 24) return `${hours} h ago`;
    return date.toLocaleDateString();
  }

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return `${seconds} s`;
    const m = Math.floor(seconds / 60);
    if (m < 60) return `${m} min ${seconds % 60} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function duration(run) {
    const start = parseTime(run.started_at);
    if (!start) return null;
    const end = run.status === "running" ? new Date() : parseTime(run.finished_at);
    return end ? (end - start) / 1000 : null;
  }

  // Fraction of the run done and seconds left, from the mean epoch time so far.
  function progressOf(run, summary) {
    const batches = run.progress ? run.progress.batches : 0;
    const inEpoch = batches && run.status === "running" ? run.progress.batch / batches : 0;
    const done = run.status === "succeeded" ? 1 : Math.min(1, (run.epoch + inEpoch) / run.max_epochs);
    let eta = null;
    if (run.status === "running" && summary && summary.epoch_seconds) {
      eta = (run.max_epochs - run.epoch - inEpoch) * summary.epoch_seconds;
    }
    return { done, eta };
  }

  function sparkline(values) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "sparkline");
    svg.setAttribute("viewBox", "0 0 100 24");
    svg.setAttribute("preserveAspectRatio", "none");
    const finite = (values || []).filter(Number.isFinite);
    if (finite.length < 2) return svg;
    const lo = Math.min(...finite);
    const hi = Math.max(...finite);
    const points = finite.map((v, i) => `${(i / (finite.length - 1)) * 100},${22 - ((v - lo) / (hi - lo || 1)) * 20}`);
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" "));
    svg.append(line);
    const title = document.createElementNS(ns, "title");
    title.textContent = `val loss ${finite[0].toFixed(3)} → ${finite[finite.length - 1].toFixed(3)}`;
    svg.append(title);
    return svg;
  }

  function statusBadge(run) {
    const text = run.stop_requested && run.status === "running" ? "stopping…" : run.status;
    return h("span", { class: `badge status-${run.status}`, title: run.error || run.status, text });
  }

  function sortValue(run, summary) {
    switch (sortKey) {
      case "name": return run.name.toLowerCase();
      case "status": return run.status;
      case "progress": return progressOf(run, summary).done;
      case "best": return run.best_val_accuracy ?? -1;
      case "sparkline": { const v = summary ? summary.val_loss : []; return v.length ? v[v.length - 1] : Infinity; }
      case "duration": return duration(run) ?? -1;
      case "device": return run.device || "";
      case "created": return run.created_at;
      default: return run.id;
    }
  }

  function row(run, summary) {
    const created = parseTime(run.created_at);
    const acc = run.best_val_accuracy;
    const { done, eta } = progressOf(run, summary);
    const box = h("input", { type: "checkbox", class: "run-select", "aria-label": `select run ${run.id}`, checked: selected.has(run.id) });
    box.addEventListener("change", () => {
      if (box.checked) selected.add(run.id); else selected.delete(run.id);
      updateCompare();
    });
    return h("tr", { "data-run-id": run.id, class: selected.has(run.id) ? "selected" : null },
      h("td", { class: "select-col" }, box),
      h("td", { class: "num" }, h("a", { href: `/runs/${run.id}`, text: `#${run.id}` })),
      h("td", { class: "name-col" }, h("a", { href: `/runs/${run.id}`, text: run.name }),
        run.group_name ? h("span", { class: "group-tag", title: "sweep group", text: run.group_name }) : null),
      h("td", {}, statusBadge(run)),
      h("td", { class: "epoch" },
        h("span", { class: "mini-progress", title: `${(done * 100).toFixed(0)}%` }, h("span", { style: `width:${(done * 100).toFixed(1)}%` })),
        ` ${run.epoch}/${run.max_epochs}`,
        eta !== null ? h("span", { class: "eta muted", text: ` · ETA ${fmtDuration(eta)}` }) : null),
      h("td", { class: "num" }, acc === null || acc === undefined ? "–" : `${(acc * 100).toFixed(1)}%`),
      h("td", {}, sparkline(summary ? summary.val_loss : [])),
      h("td", { class: "num" }, fmtDuration(duration(run))),
      h("td", {}, run.device || "–"),
      h("td", { title: created ? created.toLocaleString() : "" }, created ? relativeTime(created) : "–"),
    );
  }

  function updateCompare() {
    compareButton.disabled = selected.size < 2;
    compareButton.textContent = selected.size ? `Compare selected (${selected.size})` : "Compare selected";
    tbody.querySelectorAll("tr[data-run-id]").forEach((tr) => tr.classList.toggle("selected", selected.has(Number(tr.dataset.runId))));
  }

  function render(data) {
    lastData = data;
    const summaries = data.summaries || {};
    const runs = (data.runs || []).slice();
    runs.sort((a, b) => {
      const va = sortValue(a, summaries[a.id]);
      const vb = sortValue(b, summaries[b.id]);
      const order = va < vb ? -1 : va > vb ? 1 : 0;
      return sortDesc ? -order : order;
    });
    if (runs.length === 0) {
      const what = filter.value || textFilter.value ? "No runs match." : "No runs yet. Start one below.";
      tbody.replaceChildren(h("tr", { class: "empty-row" }, h("td", { colspan: 10, text: what })));
    } else {
      tbody.replaceChildren(...runs.map((run) => row(run, summaries[run.id])));
    }
    table.querySelectorAll("th[data-sort]").forEach((th) => {
      th.classList.toggle("sorted", th.dataset.sort === sortKey);
      th.dataset.dir = th.dataset.sort === sortKey ? (sortDesc ? "desc" : "asc") : "";
    });
    const total = data.count ?? runs.length;
    countEl.textContent = total ? `${offset + 1}–${offset + runs.length} of ${total}` : "";
    prev.disabled = offset === 0;
    next.disabled = offset + runs.length >= total;
    updateCompare();
  }

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    const query = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
    if (filter.value) query.set("status", filter.value);
    if (textFilter.value.trim()) query.set("q", textFilter.value.trim());
    try {
      const response = await fetch(`/api/runs?${query}`, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const text = await response.text();
      // Skip re-rendering an unchanged list (keeps hover and text selection), but redraw now
      // and then so durations and "x min ago" stay true.
      if (text !== lastJson || Date.now() % 30000 < REFRESH_MS) {
        lastJson = text;
        render(JSON.parse(text));
      }
      errorEl.hidden = true;
    } catch (err) {
      errorEl.textContent = `Could not load the runs: ${err.message}`;
      errorEl.hidden = false;
    } finally {
      inFlight = false;
    }
  }

  function again() { lastJson = null; refresh(); }

  table.querySelectorAll("th[data-sort]").forEach((th) => {
    th.addEventListener("click", () => {
      if (sortKey === th.dataset.sort) sortDesc = !sortDesc;
      else { sortKey = th.dataset.sort; sortDesc = !["name", "status", "device"].includes(sortKey); }
      if (lastData) render(lastData);
    });
  });
  selectAll.addEventListener("change", () => {
    tbody.querySelectorAll("tr[data-run-id]").forEach((tr) => {
      const id = Number(tr.dataset.runId);
      if (selectAll.checked) selected.add(id); else selected.delete(id);
      tr.querySelector(".run-select").checked = selectAll.checked;
    });
    updateCompare();
  });
  compareButton.addEventListener("click", () => {
    location.href = `/compare?ids=${[...selected].sort((a, b) => a - b).join(",")}`;
  });
  let typing = null;
  textFilter.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => { offset = 0; again(); }, 250); });
  filter.addEventListener("change", () => { offset = 0; again(); });
  prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); again(); });
  next.addEventListener("click", () => { offset += PAGE_SIZE; again(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });

  window.torchdashRuns = { refresh: again };
  refresh();
  timer = setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
})();
