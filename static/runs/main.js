/* Entry of the home page's runs table: fetches the list every 2 s (redrawing only when it
 * changed), filtered by status, by text (`?q=` prefills it) and by tags (`?tag=`; a tag chip
 * sets it), with queued runs movable to the top or bottom of the queue, sorted by the clicked
 * column, paged 50 at a time, with rows selectable for comparing, and a mean ± std row under
 * each seed group. Exposes `window.torchdashRuns` ({refresh}) to force a reload of the list. */

import { $, h } from "../shared/dom.js";
import { runRow } from "./row.js";
import { sortRuns, startsDescending } from "./sort.js";
import { createSelection } from "./selection.js";
import { moveInQueue } from "./queue.js";
import { createCostSums } from "./cost_sums.js";
import { withSeedSummaries } from "./seed_summary.js";

const PAGE_SIZE = 50;
const REFRESH_MS = 2000;

function main(table) {
  const tbody = table.querySelector("tbody");
  const filter = $("status-filter");
  const textFilter = $("text-filter");
  const tagFilter = $("tag-filter");
  const countEl = $("runs-count");
  const prev = $("runs-prev");
  const next = $("runs-next");
  const errorEl = $("runs-error");
  const costSums = createCostSums($("cost-sums"));
  const selection = createSelection(tbody, $("select-all"), $("compare-button"),
    (ids) => costSums.update(ids, lastData ? lastData.runs || [] : []));

  let offset = 0;
  let lastJson = null;
  let lastData = null;
  let inFlight = false;
  let sortKey = "id";
  let sortDesc = true;

  const params = new URLSearchParams(location.search);
  if (params.get("q")) textFilter.value = params.get("q");
  if (params.getAll("tag").length) tagFilter.value = params.getAll("tag").join(", ");
  const tagsWanted = () => tagFilter.value.split(",").map((t) => t.trim()).filter(Boolean);

  function render(data) {
    lastData = data;
    const summaries = data.summaries || {};
    const runs = sortRuns(data.runs || [], summaries, sortKey, sortDesc);
    if (runs.length === 0) {
      const what = filter.value || textFilter.value || tagsWanted().length ? "No runs match." : "No runs yet. Start one below.";
      tbody.replaceChildren(h("tr", { class: "empty-row" }, h("td", { colspan: 11, text: what })));
    } else {
      const rows = runs.map((run) => runRow(run, summaries[run.id], selection.has(run.id),
        (on) => selection.set(run.id, on)));
      tbody.replaceChildren(...withSeedSummaries(rows, runs, table.tHead.rows[0]));
    }
    table.querySelectorAll("th[data-sort]").forEach((th) => {
      th.classList.toggle("sorted", th.dataset.sort === sortKey);
      th.dataset.dir = th.dataset.sort === sortKey ? (sortDesc ? "desc" : "asc") : "";
      if (th.dataset.sort === sortKey) th.setAttribute("aria-sort", sortDesc ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    });
    const total = data.count ?? runs.length;
    countEl.textContent = total ? `${offset + 1}–${offset + runs.length} of ${total}` : "";
    prev.disabled = offset === 0;
    next.disabled = offset + runs.length >= total;
    selection.update();
  }

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    const query = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
    if (filter.value) query.set("status", filter.value);
    if (textFilter.value.trim()) query.set("q", textFilter.value.trim());
    for (const tag of tagsWanted()) query.append("tag", tag);
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
      else { sortKey = th.dataset.sort; sortDesc = startsDescending(sortKey); }
      if (lastData) render(lastData);
    });
  });
  let typing = null;
  textFilter.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => { offset = 0; again(); }, 250); });
  filter.addEventListener("change", () => { offset = 0; again(); });
  tagFilter.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => { offset = 0; again(); }, 250); });
  tbody.addEventListener("click", async (event) => {
    const chip = event.target.closest("button.tag");
    if (chip) { tagFilter.value = chip.dataset.tag; offset = 0; again(); return; }
    const move = event.target.closest("button.queue-move");
    if (!move) return;
    move.disabled = true;
    const problem = await moveInQueue(move.dataset.runId, move.dataset.position);
    errorEl.textContent = problem || "";
    errorEl.hidden = !problem;
    again();
  });
  prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); again(); });
  next.addEventListener("click", () => { offset += PAGE_SIZE; again(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });

  window.torchdashRuns = { refresh: again };
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
}

const table = $("runs-table");
if (table) main(table);
