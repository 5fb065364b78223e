/* torchdash: the runs table on the home page, re-fetched every few seconds. */
(function () {
  "use strict";

  const PAGE_SIZE = 25;
  const REFRESH_MS = 3000;

  const table = document.getElementById("runs-table");
  if (!table) return;
  const tbody = table.querySelector("tbody");
  const filter = document.getElementById("status-filter");
  const countEl = document.getElementById("runs-count");
  const prev = document.getElementById("runs-prev");
  const next = document.getElementById("runs-next");
  const errorEl = document.getElementById("runs-error");

  let offset = 0;
  let lastJson = null;
  let timer = null;
  let inFlight = false;

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

  function statusBadge(run) {
    const text = run.stop_requested && run.status === "running" ? "stopping…" : run.status;
    return h("span", { class: `badge status-${run.status}`, title: run.error || run.status, text });
  }

  function row(run) {
    const created = parseTime(run.created_at);
    const acc = run.best_val_accuracy;
    return h("tr", { "data-run-id": run.id },
      h("td", { class: "num" }, h("a", { href: `/runs/${run.id}`, text: `#${run.id}` })),
      h("td", {}, h("a", { href: `/runs/${run.id}`, text: run.name })),
      h("td", {}, statusBadge(run)),
      h("td", { class: "epoch" }, `epoch ${run.epoch}/${run.max_epochs}`),
      h("td", { class: "num" }, acc === null || acc === undefined ? "–" : `${(acc * 100).toFixed(1)}%`),
      h("td", { title: created ? created.toLocaleString() : "" }, created ? relativeTime(created) : "–"),
    );
  }

  function render(data) {
    const runs = data.runs || [];
    if (runs.length === 0) {
      tbody.replaceChildren(h("tr", { class: "empty-row" },
        h("td", { colspan: 6, text: filter.value ? `No ${filter.value} runs.` : "No runs yet. Start one below." })));
    } else {
      tbody.replaceChildren(...runs.map(row));
    }
    const total = data.count ?? runs.length;
    countEl.textContent = total ? `${offset + 1}–${offset + runs.length} of ${total}` : "";
    prev.disabled = offset === 0;
    next.disabled = offset + runs.length >= total;
  }

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
    if (filter.value) params.set("status", filter.value);
    try {
      const response = await fetch(`/api/runs?${params}`, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const text = await response.text();
      // Skip re-rendering an unchanged list (keeps hover and text selection), but still redraw
      // now and then so "x min ago" stays true.
      if (text !== lastJson || Date.now() % 60000 < REFRESH_MS) {
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

  function schedule() {
    clearInterval(timer);
    timer = setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
  }

  filter.addEventListener("change", () => { offset = 0; lastJson = null; refresh(); });
  prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); lastJson = null; refresh(); });
  next.addEventListener("click", () => { offset += PAGE_SIZE; lastJson = null; refresh(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });

  refresh();
  schedule();
})();
