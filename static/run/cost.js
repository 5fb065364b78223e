/* The run page's cost: GPU-hours and energy among the header's facts (from each run object, so
 * it grows live as the worker samples), and per GPU in a fold that reads
 * GET /api/runs/{id}/cost when opened, and again as the totals change while it is open. */

import { $, h, setText } from "../shared/dom.js";
import { fmtCost, fmtEnergy, fmtGpuHours } from "../shared/cost.js";

const MISSING_TITLE = "Not measured: a run without a GPU has no GPU-hours, a GPU that reports no power no energy";

export function createCost(runId) {
  const details = $("run-cost-gpus");
  const body = details.querySelector("tbody");
  let shown = null;

  async function load() {
    const response = await fetch(`/api/runs/${runId}/cost`);
    if (!response.ok) return;
    const cost = await response.json();
    body.replaceChildren(...cost.gpus.map((gpu) => h("tr", { "data-gpu": gpu.gpu },
      h("td", { text: `GPU ${gpu.gpu}` }),
      h("td", { text: gpu.name || "–" }),
      h("td", { class: "num", text: fmtGpuHours(gpu.hours) }),
      h("td", { class: "num", text: fmtEnergy(gpu.energy_wh) }),
      h("td", { class: "num", text: String(gpu.samples) }))));
    setText("run-cost-cpu", cost.cpu_energy_wh === null ? "" : `CPU packages (RAPL): ${fmtEnergy(cost.cpu_energy_wh)}`);
  }

  details.addEventListener("toggle", () => { if (details.open) load(); });

  function render(run) {
    const text = fmtCost(run.gpu_hours, run.energy_wh);
    setText("run-cost", text);
    $("run-cost").title = run.gpu_hours === null || run.gpu_hours === undefined ? MISSING_TITLE : "GPU-hours (each GPU's hours of training), and the GPUs' energy integrated from NVML's power readings";
    details.hidden = run.gpu_hours === null || run.gpu_hours === undefined;
    if (details.open && text !== shown) load();
    shown = text;
  }

  return { render };
}
