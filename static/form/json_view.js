/* The "JSON" view of the whole config, for power users: opening it shows the form's config
 * as JSON; "Apply" loads the edited JSON back into the form (both ways, one source: the form).
 * A key the form has no field for (a typo, a setting of another kind) is named as an error
 * instead of vanishing at the next view. */

import { flatten } from "../shared/config_paths.js";

// The dotted paths of `typed` that the form did not take up.
function droppedPaths(typed, kept) {
  const keptPaths = Object.keys(flatten(kept));
  const inKept = (path) => keptPaths.some((k) => k === path || k.startsWith(path + ".") || path.startsWith(k + "."));
  return Object.keys(flatten(typed)).filter((path) => !inKept(path));
}

/** Wire the `details` disclosure with its `area`, `apply` button and `error` line. */
export function wireJsonView({ details, area, apply, error }, form) {
  const show = () => { area.value = JSON.stringify(form.collect(), null, 2); error.textContent = ""; };
  details.addEventListener("toggle", () => { if (details.open) show(); });
  apply.addEventListener("click", () => {
    let config;
    try {
      config = JSON.parse(area.value);
    } catch (err) {
      error.textContent = `Not valid JSON: ${err.message}`;
      return;
    }
    if (!config || typeof config !== "object" || Array.isArray(config)) {
      error.textContent = "The config is a JSON object: {\"name\": ..., \"data\": {...}, ...}";
      return;
    }
    form.load(config);
    const dropped = droppedPaths(config, form.collect());
    show();
    if (dropped.length) error.textContent = `Not settings of this config, left out: ${dropped.join(", ")}`;
    details.dispatchEvent(new Event("change", { bubbles: true }));
  });
  return { refresh: () => { if (details.open) show(); } };
}
