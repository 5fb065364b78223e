/* Formatting shared by the pages: server timestamps (UTC) to dates, and numbers, percentages,
 * byte sizes and durations to the short text shown in tables and headers. A missing value
 * (null or undefined) is shown as "–". */

/** The server writes UTC; an ISO string without a zone is read as UTC, not local time. */
export function parseTime(iso) {
  if (!iso) return null;
  const hasZone = /([zZ]|[+-]\d\d:?\d\d)$/.test(iso);
  const date = new Date(hasZone ? iso : iso + "Z");
  return Number.isNaN(date.getTime()) ? null : date;
}

/** How every page shows a value that is not there. */
export const MISSING = "–";

const missing = (v) => v === null || v === undefined;

export const fmtTime = (iso) => { const d = parseTime(iso); return d ? d.toLocaleString() : "–"; };
export const fmtNum = (v, digits = 4) => (missing(v) ? "–" : Number(v).toFixed(digits));
export const fmtPct = (v) => (missing(v) ? "–" : `${(v * 100).toFixed(1)}%`);

/** A named metric's value: accuracies and F1 scores as percentages, the others as numbers. */
export const isFraction = (name) => /(^|_)(accuracy|f1_\w+)$/.test(name || "");
export const fmtMetric = (name, v) => (isFraction(name) ? fmtPct(v) : fmtNum(v));

export function fmtBytes(n) {
  if (missing(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

/** Seconds as "42 s", "3 min 5 s" or "2 h 10 min". */
export function fmtDuration(seconds) {
  if (missing(seconds) || !Number.isFinite(seconds)) return "–";
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return `${seconds} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${seconds % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "just now", "5 min ago", "3 h ago", else the local date. */
export function relativeTime(date) {
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return date.toLocaleDateString();
}

/** Where a run trains: its device and the GPUs it was placed on, e.g. "cuda · GPU 1". */
export function fmtPlacement(run) {
  const gpus = run.assigned_gpus || [];
  const where = gpus.length ? `GPU${gpus.length > 1 ? "s" : ""} ${gpus.join(", ")}` : "";
  // On the Ray executor: the cluster node its current or last attempt trains on.
  const node = run.node ? `node ${run.node}` : "";
  return [run.device, where, node].filter(Boolean).join(" · ") || "–";
}
