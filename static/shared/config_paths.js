/* Run configs as flat maps of dotted paths: {"optimizer.lr": "0.001", ...}. Both the form
 * (what a prefilled run changed) and the compare page (which fields differ) compare configs
 * leaf by leaf this way. */

/** The leaves of a config as JSON text, keyed by dotted path (a list is one leaf). */
export function flatten(value, prefix, out) {
  out = out || {};
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
  } else if (prefix) {
    out[prefix] = JSON.stringify(value);
  }
  return out;
}
