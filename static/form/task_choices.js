/* Kinds that follow the task: a tagged union whose schema carries
 * `"ui": {"task_kinds": {task: [kinds that serve it]}}` (the loss, the data;
 * app/web/form_schema.py) offers only those kinds for the task chosen in the form — the others
 * stay listed, disabled. When the task changes and the chosen kind does not serve the new one,
 * the first kind that does is chosen; a config the form was filled with keeps its kind (the
 * server's 422 says why it does not fit). */

/** Make `select` (a union's kind choice) follow the form's task; `show(kind)` switches it. */
export function followTask(ctx, select, byTask, show) {
  let task = null;

  function apply(switchKind) {
    const now = ctx.current().task || "classification";
    if (now === task) return;
    task = now;
    const allowed = byTask[now];
    if (!Array.isArray(allowed)) return;
    for (const option of select.options) {
      option.disabled = option.value !== "" && !allowed.includes(option.value);
      option.title = option.disabled ? `does not serve the ${now} task` : "";
    }
    const chosen = select.options[select.selectedIndex];
    if (switchKind && chosen && chosen.disabled) {
      const first = [...select.options].find((option) => !option.disabled);
      if (first) {
        show(first.value);
        // As if chosen by hand: the section's summary, the JSON view and the like follow.
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }
  }

  // A detached select (its part hidden, kept for when it is shown again) catches up then.
  document.addEventListener("change", (event) => {
    if (select.isConnected && event.target !== select) apply(true);
  });
  apply(false);
}
