/* The "JSON" view of the whole config, for power users: opening it shows the form's config
 * as JSON; "Apply" loads the edited JSON back into the form (both ways, one source: the form). */

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
    show();
    details.dispatchEvent(new Event("change", { bubbles: true }));
  });
  return { refresh: () => { if (details.open) show(); } };
}
