/* The form's Script mode: a script run of the scripts folder (GET /api/scripts) with its
 * arguments, environment, device and processes, posted as `POST /api/runs` with a `script` key.
 * The script's argparse options (read by the server from its text) are shown as hints, and
 * clicking one adds its flag with its default to the arguments. The form's sweep disclosure
 * moves in here: a grid over its arguments (`POST /api/sweeps`) or a search of them, a study
 * (`POST /api/studies`), its rows offered the script's options as `script.args.FLAG`. */

import { api } from "../shared/api.js";
import { $, h } from "../shared/dom.js";

let scripts = [];

/** Split an argument line as a shell would for plain words and "quoted words". */
export function splitArgs(text) {
  const words = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const match of text.matchAll(pattern)) words.push(match[1] ?? match[2] ?? match[3]);
  return words;
}

function parseEnv(text) {
  const env = {};
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const at = trimmed.indexOf("=");
    if (at < 1) throw new Error(`environment line "${trimmed}": give NAME=VALUE`);
    env[trimmed.slice(0, at)] = trimmed.slice(at + 1);
  }
  return env;
}

let sweep = null;  // the sweep editor (main.js): it moves into this form in Script mode

/** Hand over the form's sweep editor, so a script run can be swept or searched too. */
export function attachSweep(editor) {
  sweep = editor;
}

/** Whether the form is in Script mode. */
export const isScriptMode = () => !$("script-form").hidden;

function chosenScript() {
  return scripts.find((s) => s.path === $("script-path").value);
}

/** The fields a sweep or search of the chosen script may vary: each argparse option that takes
 * a value, as `script.args.FLAG`, and the run's own processes. */
export function searchPaths() {
  const chosen = chosenScript();
  const flags = (chosen ? chosen.options : [])
    .filter((o) => !(o.action && /^(store_|append_const|count)/.test(o.action)))
    .map((o) => o.flags[o.flags.length - 1])
    .filter((flag) => flag.startsWith("-"));
  return [...flags.map((flag) => `script.args.${flag}`), "processes"];
}

function setMode(script) {
  $("mode-loop").setAttribute("aria-pressed", String(!script));
  $("mode-script").setAttribute("aria-pressed", String(script));
  $("script-form").hidden = !script;
  $("run-form").hidden = script;
  // One sweep disclosure, in the form on show; a script has no seed of torchdash's to repeat.
  const details = $("sweep-details");
  if (script) $("script-form").insertBefore(details, $("script-error"));
  else $("run-form").insertBefore(details, $("json-details"));
  $("sweep-seeds").closest("p").hidden = script;
  if (script && !scripts.length) loadScripts();
}

function showScript() {
  const chosen = chosenScript();
  $("script-description").textContent = chosen ? chosen.description || chosen.error || "" : "";
  const options = $("script-options");
  options.replaceChildren();
  if (!chosen) return;
  if (!$("script-name").value || $("script-name").dataset.auto === "1") {
    $("script-name").value = chosen.path.split("/").pop();
    $("script-name").dataset.auto = "1";
  }
  for (const option of chosen.options) {
    const flag = option.flags[option.flags.length - 1];
    if (!flag.startsWith("-")) continue;
    const hint = [option.type, option.default !== null ? `default ${option.default}` : null]
      .filter(Boolean)
      .join(", ");
    const button = h("button", {
      type: "button",
      class: "button secondary small script-option",
      title: option.help || "",
      text: hint ? `${flag} (${hint})` : flag,
    });
    button.addEventListener("click", () => {
      const value = option.action && option.action.startsWith("store_") ? "" : ` ${option.default ?? ""}`;
      const args = $("script-args");
      args.value = `${args.value.trim()} ${flag}${value}`.trim();
    });
    options.append(button);
  }
}

async function loadScripts() {
  try {
    const answer = await api("GET", "/api/scripts");
    scripts = answer.scripts;
    $("scripts-folder").textContent = answer.folder;
    const select = $("script-path");
    select.replaceChildren(...scripts.map((s) => h("option", { value: s.path, text: s.path })));
    if (!scripts.length) select.append(h("option", { value: "", text: "No .py file in the scripts folder" }));
    showScript();
  } catch (error) {
    showError(error.message);
  }
}

function showError(message) {
  $("script-error").textContent = message;
  $("script-error").hidden = !message;
}

/** The script run's config as the form has it. */
export function scriptConfig() {
  return {
    name: $("script-name").value.trim() || "script",
    script: {
      path: $("script-path").value,
      args: splitArgs($("script-args").value),
      env: parseEnv($("script-env").value),
    },
    device: $("script-device").value,
    processes: Number($("script-processes").value) || 1,
  };
}

// What Start posts: a study in the sweep's Search mode, a sweep when its grid has rows, else a run.
function request(body) {
  if (sweep && $("sweep-details").open) {
    if (sweep.mode() === "search") return { url: "/api/studies", body: sweep.search.body(body, 1), study: true };
    const grid = sweep.grid();
    if (Object.keys(grid).length) return { url: "/api/sweeps", body: { config: body, grid }, sweep: true };
  }
  return { url: "/api/runs", body };
}

async function submit(event) {
  event.preventDefault();
  showError("");
  if (sweep) sweep.search.clearErrors();
  let req = null;
  try {
    req = request(scriptConfig());
    const created = await api("POST", req.url, req.body);
    if (req.study) location.href = `/studies/${created.id}`;
    else if (req.sweep) location.href = `/?q=${encodeURIComponent(created.group_name)}`;
    else location.href = `/runs/${created.id}`;
  } catch (error) {
    // A study's 422 items that name its rows and options are shown there; the rest here.
    if (req && req.study && Array.isArray(error.detail)) {
      showError(sweep.search.showErrors(error.detail).map((item) => item.msg).join("; "));
    } else {
      showError(error.message);
    }
  }
}

$("mode-loop").addEventListener("click", () => setMode(false));
$("mode-script").addEventListener("click", () => setMode(true));
$("script-path").addEventListener("change", showScript);
$("script-name").addEventListener("input", () => ($("script-name").dataset.auto = "0"));
$("script-form").addEventListener("submit", submit);
for (const radio of document.querySelectorAll('input[name="sweep-mode"]')) {
  radio.addEventListener("change", () => {
    $("script-start").textContent = radio.value === "search" && radio.checked ? "Start study" : "Start script";
  });
}
