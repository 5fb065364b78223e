/* Runs picked for comparing: the ticked rows of the runs table (kept across refreshes and
 * pages), the "select all shown" box, and the "Compare selected (N)" button that opens
 * /compare with their ids once two or more are picked. `onChange(ids)` hears of each update
 * (the cost sums under the table). */

/** {has(id), set(id, on), update()} over the rows in `tbody`. */
export function createSelection(tbody, selectAll, compareButton, onChange = () => {}) {
  const selected = new Set();

  function update() {
    compareButton.disabled = selected.size < 2;
    compareButton.textContent = selected.size ? `Compare selected (${selected.size})` : "Compare selected";
    tbody.querySelectorAll("tr[data-run-id]").forEach((tr) => tr.classList.toggle("selected", selected.has(Number(tr.dataset.runId))));
    onChange(selected);
  }

  function set(id, on) {
    if (on) selected.add(id); else selected.delete(id);
    update();
  }

  selectAll.addEventListener("change", () => {
    tbody.querySelectorAll("tr[data-run-id]").forEach((tr) => {
      const id = Number(tr.dataset.runId);
      if (selectAll.checked) selected.add(id); else selected.delete(id);
      tr.querySelector(".run-select").checked = selectAll.checked;
    });
    update();
  });
  compareButton.addEventListener("click", () => {
    location.href = `/compare?ids=${[...selected].sort((a, b) => a - b).join(",")}`;
  });

  return { has: (id) => selected.has(id), set, update };
}
