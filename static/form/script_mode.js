/* The form's Script mode: a script run of the scripts folder (GET /api/scripts) with its
 * arguments, environment, device and processes, posted as `POST /api/runs` with a `script` key.
 * The script's argparse options (read by the server from its text) are shown as hints, and
 * clicking one adds its flag with its default to the arguments. */

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

function setMode(script) {
  $("mode-loop").setAttribute("aria-pressed", String(!script));
  $("mode-script").setAttribute("aria-pressed", String(script));
  $("script-form").hidden = !script;
  $("run-form").hidden = script;
  if (script && !scripts.length) loadScripts();
}

function showScript() {
  const chosen = scripts.find((s) => s.path === $("script-path").value);
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

async function submit(event) {
  event.preventDefault();
  showError("");
  try {
    const body = {
      name: $("script-name").value.trim() || "script",
      script: {
        path: $("script-path").value,
        args: splitArgs($("script-args").value),
        env: parseEnv($("script-env").value),
      },
      device: $("script-device").value,
      processes: Number($("script-processes").value) || 1,
    };
    const run = await api("POST", "/api/runs", body);
    location.href = `/runs/${run.id}`;
  } catch (error) {
    showError(error.message);
  }
}

$("mode-loop").addEventListener("click", () => setMode(false));
$("mode-script").addEventListener("click", () => setMode(true));
$("script-path").addEventListener("change", showScript);
$("script-name").addEventListener("input", () => ($("script-name").dataset.auto = "0"));
$("script-form").addEventListener("submit", submit);
