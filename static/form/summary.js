/* One-line summaries of the form's sections, shown while a section is collapsed: the kind and
 * its first settings for a part ("adam, lr 0.001, betas 0.9/0.999"), the rows of a list
 * ("2 groups: head.*, body.*"), and for a section of switches what differs from the defaults. */

const FIELDS_SHOWN = 2;

function formatValue(value) {
  if (Array.isArray(value)) return value.map(formatValue).join("/");
  if (value === true) return "on";
  if (value === false) return "off";
  if (value && typeof value === "object") return value.kind !== undefined ? String(value.kind) : `(${settings(value, 3).join(", ")})`;
  return String(value);
}

// "key value" for the scalar settings of `object`, the first `limit` of them.
function settings(object, limit) {
  const parts = [];
  for (const [key, value] of Object.entries(object)) {
    if (key === "kind" || value === null || value === undefined || value === "") continue;
    if (Array.isArray(value) && value.some((v) => v && typeof v === "object")) {
      if (value.length) parts.push(`${value.length} ${key}`);
      continue;
    }
    parts.push(`${key} ${formatValue(value)}`);
    if (parts.length >= limit) break;
  }
  return parts;
}

function describeItem(item) {
  if (!item || typeof item !== "object") return formatValue(item);
  if (item.kind !== undefined) return [item.kind, ...settings(item, 1)].join(" ");
  const [first, ...rest] = Object.values(item).filter((v) => v !== null && v !== "");
  return [first, ...rest.slice(0, 1).map(formatValue)].filter((v) => v !== undefined).join(" ");
}

/** The summary of a section whose value is `value`; with `defaults`, only what differs. */
export function summarize(value, noun, defaults) {
  if (value === null || value === undefined) return "none";
  if (Array.isArray(value)) {
    if (!value.length) return "none";
    const plural = value.length === 1 ? noun : `${noun}s`;
    return `${value.length} ${plural}: ${value.map(describeItem).join("; ")}`;
  }
  if (defaults) {
    const changed = Object.keys(value).filter((key) => JSON.stringify(value[key]) !== JSON.stringify(defaults[key]));
    if (!changed.length) return "all defaults";
    return changed.map((key) => `${key} ${formatValue(value[key])}`).join(", ");
  }
  const head = value.kind !== undefined ? [String(value.kind)] : [];
  return [...head, ...settings(value, value.kind !== undefined ? FIELDS_SHOWN : Infinity)].join(", ");
}
