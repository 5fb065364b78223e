/* The form's device field: a choice built from GET /api/devices — `auto`, `cpu`, `cuda` (any
 * free GPU, when the server has GPUs) and each GPU as "cuda:N — name, X GiB free"; on the Ray
 * executor, the cluster's free GPUs and a line per node instead (Ray picks the GPU). The select
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

/** One line per node of the Ray cluster (the /api/devices `cluster`). */
export function clusterSummary(cluster) {
  if (cluster.unreachable) return `Ray cluster at ${cluster.address}: unreachable (${cluster.unreachable})`;
  const alive = cluster.nodes.filter((n) => n.alive);
  const nodes = alive.map((n) =>
    `${n.label}: ${n.gpus_free}/${n.gpus_total} GPUs, ${n.cpus_free}/${n.cpus_total} CPUs free`);
  return `Ray cluster at ${cluster.address}, ${alive.length} node(s) — ${nodes.join("; ")}`;
}

/** The options on a Ray cluster: Ray picks the node and the GPUs, so no `cuda:N`. */
function clusterOptions(cluster) {
  const alive = cluster.nodes.filter((n) => n.alive);
  const free = alive.reduce((sum, n) => sum + n.gpus_free, 0);
  const total = alive.reduce((sum, n) => sum + n.gpus_total, 0);
  const options = [
    { value: "auto", text: total ? `auto — a GPU of the cluster (${free} of ${total} free)` : "auto — a CPU of the cluster" },
    { value: "cpu", text: "cpu — a CPU of any node" },
  ];
  if (total) options.push({ value: "cuda", text: `cuda — ${free} of ${total} GPUs free on ${alive.length} node(s)` });
  return options;
}

/** The options for `devices` (the /api/devices answer; null until it arrives). */
export function deviceOptions(devices) {
  if (devices && devices.cluster) return clusterOptions(devices.cluster);
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
  const shell = fieldShell(path, label, select, "Where the run trains. GPUs come from this server's NVML (TORCHDASH_GPUS).", { required });
  api("GET", "/api/devices")
    .then((devices) => {
      fill(select, deviceOptions(devices), current);
      if (devices.cluster) {  // the nodes, free and used, instead of this machine's GPUs
        shell.append(h("div", { class: "muted cluster-nodes", text: clusterSummary(devices.cluster) }));
      }
    })
    .catch(() => {});  // the choice without GPUs still works; submit checks the device anyway
  return { el: shell, get: () => select.value };
}

registerWidget("device", (ctx, schema, path, key, value, required) =>
  buildDeviceChoice(schema, path, humanize(key, schema), value, required));
