/* The form's device field: a choice built from GET /api/devices — `auto`, `cpu`, `cuda` (any
 * free GPU, when the server has GPUs) and each GPU as "cuda:N — name, X GiB free". The select
 * is usable at once with what the config holds; the GPUs are added when the server answers.
 * A value the server does not offer (a run prefilled from another box) stays selectable, marked,
 * and the server's 422 at submit names the field. The schema hints the field `"ui": {"widget":
 * "device"}`; this module registers the widget (widget_registry.js) when main.js imports it. */

import { h } from "../shared/dom.js";
import { api } from "../shared/api.js";
import { fieldId, fieldShell, humanize } from "./widgets.js";
import { registerWidget } from "./widget_registry.js";

const GIB = 1024;

/** The label of one GPU of /api/devices. */
export function gpuLabel(gpu) {
  const busy = gpu.run_id !== null ? `, run ${gpu.run_id} on it` : "";
  if (!gpu.reported_by_nvml) return `cuda:${gpu.index} — GPU ${gpu.index} (not reported by NVML)${busy}`;
  const free = (gpu.memory_total_mb - gpu.memory_used_mb) / GIB;
  return `cuda:${gpu.index} — ${gpu.name}, ${free.toFixed(1)} GiB free${busy}`;
}

/** The options for `devices` (the /api/devices answer; null until it arrives). */
export function deviceOptions(devices) {
  const gpus = devices ? devices.gpus : [];
  const auto = !devices ? "auto" : gpus.length ? "auto — a free GPU" : "auto — the CPU (no GPU here)";
  const options = [
    { value: "auto", text: auto },
    { value: "cpu", text: "cpu" },
  ];
  if (gpus.length) options.push({ value: "cuda", text: "cuda — any free GPU" });
  for (const gpu of gpus) options.push({ value: `cuda:${gpu.index}`, text: gpuLabel(gpu) });
  return options;
}

function fill(select, options, value) {
  const known = options.some((o) => o.value === value);
  const all = known || !value ? options : [...options, { value, text: `${value} (not offered by this server)` }];
  select.replaceChildren(...all.map((o) => h("option", { value: o.value, text: o.text })));
  select.value = value || "auto";
}

/** The device field {el, get} at `path`, starting at `value`. */
export function buildDeviceChoice(schema, path, label, value, required) {
  const select = h("select", { id: fieldId(path), dataset: { path } });
  let current = value || schema.default || "auto";
  fill(select, deviceOptions(null), current);
  select.addEventListener("change", () => { current = select.value; });
  api("GET", "/api/devices")
    .then((devices) => fill(select, deviceOptions(devices), current))
    .catch(() => {});  // the choice without GPUs still works; submit checks the device anyway
  const help = "Where the run trains. GPUs come from this server's NVML (TORCHDASH_GPUS).";
  return { el: fieldShell(path, label, select, help, { required }), get: () => select.value };
}

registerWidget("device", (ctx, schema, path, key, value, required) =>
  buildDeviceChoice(schema, path, humanize(key), value, required));
