// Small DOM helpers. Everything the API returns is put in the page as text (textContent), never as HTML.

export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

let fieldIds = 0;

/** A labelled control: <label for> + the control (+ a hint), with data-field naming the API field it feeds. */
export function field(label, control, { hint, name } = {}) {
  const id = control.id || `f${++fieldIds}`;
  control.id = id;
  if (name) control.dataset.field = name;
  const wrapper = h("div", { class: "field" }, h("label", { for: id, text: label }), control);
  if (hint) {
    const hintId = `${id}-hint`;
    wrapper.append(h("p", { class: "hint", id: hintId, text: hint }));
    control.setAttribute("aria-describedby", hintId);
  }
  return wrapper;
}

export function input(attrs = {}) { return h("input", { type: "text", ...attrs }); }

export function select(options, attrs = {}) {
  return h("select", attrs, options.map(([value, label]) => h("option", { value, text: label ?? value })));
}

export function button(text, onclick, attrs = {}) {
  return h("button", { type: "button", onclick, ...attrs }, text);
}

/** A region that says what is happening: loading, empty, or the content. */
export function loading(text = "Loading…") { return h("p", { class: "state", role: "status", text }); }
export function empty(text) { return h("p", { class: "state empty", text }); }

export function clear(element, ...children) {
  element.replaceChildren(...children.flat().filter(Boolean));
  return element;
}

/** Remove what showError put in a scope. */
export function clearErrors(scope) {
  for (const node of scope.querySelectorAll(".field-error, .error-box")) node.remove();
  for (const control of scope.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    const described = (control.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.endsWith("-error"));
    if (described.length) control.setAttribute("aria-describedby", described.join(" "));
    else control.removeAttribute("aria-describedby");
  }
}

function controlFor(scope, path) {
  // the most specific control whose data-field is the path or a prefix of it; a union's tag (effect.bonus.points) is skipped
  const candidates = [path, path.split(".").filter((part) => !/^(multiply|bonus|per_item|per_amount)$/.test(part)).join(".")];
  let best = null;
  for (const control of scope.querySelectorAll("[data-field]")) {
    const name = control.dataset.field;
    if (candidates.some((c) => c === name || c.startsWith(`${name}.`)) && (!best || name.length > best.dataset.field.length)) best = control;
  }
  return best;
}

/**
 * Show an API error beside its cause: a box at `anchor` (the form or the button's row) with the code and the
 * message, and each field error next to its control (aria-invalid, described by the message). What was typed stays.
 */
export function showError(anchor, error, scope = anchor, { codeFields = {} } = {}) {
  clearErrors(scope);
  const box = h("div", { class: "error-box", role: "alert" },
    h("strong", { class: "error-code", text: error.code || "ERROR" }), " ", h("span", { class: "error-message", text: error.message }));
  const unplaced = [];
  // an error about one field that carries no field errors (WEBHOOK_URL_NOT_ALLOWED is about the url): beside it too
  const problems = (error.errors || []).length ? error.errors
    : codeFields[error.code] ? [{ field: codeFields[error.code], message: error.message, code: error.code }] : [];
  for (const problem of problems) {
    const control = controlFor(scope, problem.field || "");
    if (!control) { unplaced.push(problem); continue; }
    const id = `${control.id}-error`;
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", [control.getAttribute("aria-describedby"), id].filter(Boolean).join(" "));
    control.closest(".field")?.append(h("p", { class: "field-error", id, text: `${problem.code || problem.field}: ${problem.message}` }));
  }
  if (unplaced.length) {
    box.append(h("ul", {}, unplaced.map((p) => h("li", { text: `${p.field}: ${p.message}` }))));
  }
  if (error.details) box.append(h("p", { class: "error-details", text: JSON.stringify(error.details) }));
  if (anchor.tagName === "FORM") anchor.prepend(box);
  else anchor.append(box);
  return box;
}

/** Run an action from a control: disable it while running, show the error beside `anchor` on failure. */
export async function act(anchor, action, { scope, control, codeFields } = {}) {
  clearErrors(scope || anchor);
  if (control) control.disabled = true;
  try {
    return await action();
  } catch (error) {
    showError(anchor, error, scope || anchor, { codeFields });
    return undefined;
  } finally {
    if (control) control.disabled = false;
  }
}

export function toast(message) {
  const region = document.getElementById("status");
  region.textContent = message;
}

const numberFormat = new Intl.NumberFormat("en");
export function num(value) { return value === null || value === undefined ? "—" : numberFormat.format(value); }

export function money(minor, currency) {
  if (minor === null || minor === undefined) return "—";
  return new Intl.NumberFormat("en", { style: "currency", currency: currency || "EUR" }).format(minor / 100);
}

export function percent(rate) { return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`; }

export function table(headers, rows, caption) {
  return h("table", {},
    caption ? h("caption", { text: caption }) : null,
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col", text })))),
    h("tbody", {}, rows));
}

/** An RFC 3339 time as "2026-11-23 10:00:05 UTC" (the API's times are UTC). */
export function when(value) {
  if (!value) return "—";
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(value);
  return match ? `${match[1]} ${match[2]} UTC` : value;
}

export function isoDate(date) { return date.toISOString().slice(0, 10); }
