/* The run page's checkpoints table (epoch, state, val loss and the run's monitored metric, size,
 * downloads, "fork from here")
 * and the header's "Fork from epoch N…" link to the newest complete checkpoint. Refreshes never
 * overlap: one asked for while another runs is done right after it. */

import { $, h, setText } from "../shared/dom.js";
import { api } from "../shared/api.js";
import { fmtBytes, fmtMetric, fmtNum, fmtTime } from "../shared/format.js";

// A checkpoint's value of `monitor`: its named metrics, or (a row from before them) its columns.
function monitoredValue(c, monitor) {
  if (c.metrics) return c.metrics[monitor] ?? null;
  return monitor === "val_loss" ? c.val_loss : c.val_accuracy;
}

const COLUMNS = 8;

/** {refresh()} for run `runId`'s checkpoints; `getRun()` gives the run (its monitor), or null. */
export function createCheckpoints(runId, getRun) {
  const tbody = $("checkpoints-table").querySelector("tbody");
  const forkUrl = (epoch) => `/?fork=${runId}&epoch=${epoch}#new-run`;
  const note = (text) => h("tr", { class: "empty-row" }, h("td", { colspan: COLUMNS, text }));
  let busy = false;
  let again = false;

  function render(list) {
    const run = getRun();
    const monitor = (run && run.monitor) || "val_accuracy";
    setText("checkpoint-monitor", monitor);
    if (!list || !list.length) {
      tbody.replaceChildren(note("No checkpoints yet."));
      return;
    }
    tbody.replaceChildren(...list.map((c) => h("tr", {},
      h("td", { class: "num", text: String(c.epoch) }),
      h("td", {}, c.complete ? "complete" : `partial (${c.batches_done} batches)`,
        c.best ? h("span", { class: "badge best-checkpoint", title: `the best epoch by ${monitor}: kept`, text: "best" }) : null,
        c.last ? h("span", { class: "badge last-checkpoint", title: "the newest complete checkpoint", text: "last" }) : null),
      h("td", { class: "num", text: fmtNum(c.val_loss) }),
      h("td", { class: "num", text: fmtMetric(monitor, monitoredValue(c, monitor)) }),
      h("td", { class: "num", text: fmtBytes(c.size_bytes) }),
      h("td", { text: fmtTime(c.created_at) }),
      h("td", {},
        h("a", { href: c.model_url, download: "", text: "model" }),
        h("a", { href: c.optimizer_url, download: "", text: "optimizer" })),
      h("td", {}, c.complete ? h("a", { class: "fork-here", href: forkUrl(c.epoch), text: "fork from here" }) : null),
    )));
    // Fork starts where a download and the bundle do: the server's default checkpoint (the
    // best, else the last); a server that marks none: the newest complete one.
    const complete = list.filter((c) => c.complete);
    const chosen = list.find((c) => c.default) || complete[complete.length - 1];
    const forkLink = $("fork-link");
    forkLink.hidden = !chosen;
    if (chosen) {
      forkLink.href = forkUrl(chosen.epoch);
      forkLink.textContent = `Fork from epoch ${chosen.epoch}${chosen.best ? " (best)" : ""}…`;
    }
  }

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do {
        again = false;
        render(await api("GET", `/api/runs/${runId}/checkpoints`));
      } while (again);
    } catch (err) {
      tbody.replaceChildren(note(`Could not load checkpoints: ${err.message}`));
    } finally {
      busy = false;
    }
  }

  return { refresh };
}
