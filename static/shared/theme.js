/* The light/dark switch in the top bar. The theme follows the system (prefers-color-scheme)
 * until the user picks one here; the pick is remembered in this browser (localStorage). The
 * inline script in base.html sets it before the first paint; this module wires the button. */

const KEY = "torchdash.theme";

function stored() {
  try { return localStorage.getItem(KEY); } catch (err) { return null; }  // storage refused
}

function systemTheme() {
  return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function apply(theme) {
  document.documentElement.dataset.theme = theme;
  const button = document.getElementById("theme-toggle");
  if (button) {
    button.setAttribute("aria-pressed", String(theme === "dark"));
    button.textContent = theme === "dark" ? "☀ Light" : "☾ Dark";
    button.title = theme === "dark" ? "Switch to the light theme" : "Switch to the dark theme";
  }
  window.dispatchEvent(new Event("torchdash:theme"));
}

const button = document.getElementById("theme-toggle");
apply(stored() || systemTheme());
if (button) {
  button.addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    try { localStorage.setItem(KEY, next); } catch (err) { /* as above: this page only */ }
    apply(next);
  });
}
if (window.matchMedia) {
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => { if (!stored()) apply(systemTheme()); });
}
