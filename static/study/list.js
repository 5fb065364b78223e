/* The studies list (/studies): every study, newest first, with its status, progress, objective
 * and best value; each links to its page. Read again every 5 s while any study runs. */

import { $, h } from "../shared/dom.js";
import { api } from "../shared/api.js";
import { fmtTime } from "../shared/format.js";
import { doneCount, fmtObjective, fmtValue } from "./format.js";

async function refresh() {
  try {
    const { studies } = await api("GET", "/api/studies");
    $("studies-empty").hidden = studies.length > 0;
    const header = h("tr", {}, ["study", "status", "trials done", "objective", "best", "sampler / pruner", "created"].map((t) => h("th", { text: t })));
    const rows = studies.map((s) => h("tr", { "data-study-id": s.id },
      h("td", {}, h("a", { href: `/studies/${s.id}`, text: `#${s.id} ${s.name}` })),
      h("td", {}, h("span", { class: `badge study-${s.status}`, text: s.status })),
      h("td", { class: "num", text: `${doneCount(s.progress)}/${s.progress.n_trials}` }),
      h("td", { text: fmtObjective(s) }),
      h("td", { class: "num", text: s.best_trial ? `${fmtValue(s, s.best_trial.value)} (#${s.best_trial.number})` : "–" }),
      h("td", { text: `${s.sampler} / ${s.pruner}` }),
      h("td", { text: fmtTime(s.created_at) })));
    $("studies-table").replaceChildren(h("thead", {}, header), h("tbody", {}, rows));
    if (studies.some((s) => s.status === "running")) setTimeout(refresh, 5000);
  } catch (err) {
    $("studies-error").hidden = false;
    $("studies-error").textContent = `Could not load the studies: ${err.message}`;
  }
}

if ($("studies-page")) refresh();
