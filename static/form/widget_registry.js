/* Custom widgets for schema fields: a field whose schema carries the hint `"ui": {"widget":
 * NAME}` is built by the factory registered under NAME instead of the generic widget for its
 * type. A module plugs in with one line, e.g. in static/form/device_choice.js:
 *
 *   registerWidget("device", buildDeviceChoice);
 *
 * and main.js imports that module before building the form. A factory is called as
 * `factory(ctx, schema, path, key, value, required)` and returns a node {el, get()}; its input
 * should carry `data-path` and its wrapper `data-field` (widgets.js's fieldShell does both), so
 * errors and change highlighting find it. An unregistered name falls back to the generic widget. */

const factories = new Map();

/** Build fields hinted `"widget": name` with `factory`. */
export function registerWidget(name, factory) {
  factories.set(name, factory);
}

/** The factory for `schema`'s widget hint, or null when it has none or none is registered. */
export function customWidget(schema) {
  const name = schema && schema.ui && schema.ui.widget;
  return name ? factories.get(name) || null : null;
}
