// Message templates: every kind's templates per locale (stored, else the program's default), each edited in a form
// (subject, text, HTML) and, once saved, its rendering with sample values as the API returns it. A template the
// API refuses (INVALID_TEMPLATE: an unknown placeholder, what the sandbox does not allow) keeps what was typed.
import { act, clear, empty, field, h, input, loading, select, table, toast, when } from "../ui.js";

const path = (kind, locale) => `/v1/messages/templates/${encodeURIComponent(kind)}/${encodeURIComponent(locale)}`;
const href = (kind, locale) => `#/messages/${encodeURIComponent(kind)}/${encodeURIComponent(locale)}`;

function previewView(preview) {
  return h("section", { id: "template-preview", class: "panel", "aria-labelledby": "template-preview-title" },
    h("h2", { id: "template-preview-title", text: "Preview (rendered with sample values)" }),
    h("dl", { class: "preview" },
      h("dt", { text: "Subject" }), h("dd", { "data-preview": "subject", text: preview.subject }),
      h("dt", { text: "Text" }), h("dd", {}, h("pre", { "data-preview": "text", text: preview.text })),
      h("dt", { text: "HTML (its source: the values in it are escaped)" }), h("dd", {}, h("pre", { "data-preview": "html", text: preview.html }))));
}

async function editor(context, root, kind, locale) {
  const { api } = context;
  let template = null, startedFrom = null;
  try {
    template = await api.get(path(kind, locale));
  } catch (error) {
    if (error.code !== "TEMPLATE_NOT_FOUND") throw error;
    // a locale the kind has no template in yet: start from one it has
    const others = (await api.get("/v1/messages/templates")).items.filter((t) => t.kind === kind);
    if (!others.length) throw error;
    startedFrom = others[0];
  }
  const source = template || startedFrom;
  const subject = input({ name: "subject", value: source.subject, maxlength: "500" });
  const text = h("textarea", { name: "text", rows: "8", class: "json", spellcheck: true });
  const html = h("textarea", { name: "html", rows: "10", class: "json", spellcheck: false });
  text.value = source.text;
  html.value = source.html;
  const save = h("button", { type: "submit", class: "primary" }, "Save and preview");
  const previewSlot = h("div", { "aria-live": "polite" });
  const version = h("span", { "data-template-version": template ? template.version : "", text: template ? template.version : "not saved yet" });
  const form = h("form", { id: "template-form", class: "panel", "aria-labelledby": "template-form-title" },
    h("h2", { id: "template-form-title", text: `${kind} (${locale})` }),
    h("p", {}, "Version: ", version, template?.updated_at ? ` · saved ${when(template.updated_at)}` : ""),
    startedFrom ? h("p", { class: "hint", text: `No ${kind} template for ${locale} yet: this starts from the ${startedFrom.locale} one.` }) : null,
    h("p", { class: "hint", text: "Placeholders such as {{ member.name }}, {{ points }} or {{ expires_on }}; filters and if are allowed. "
      + "The API refuses a placeholder the kind does not provide, naming those it does." }),
    field("Subject", subject, { name: "subject" }), field("Text", text, { name: "text" }), field("HTML", html, { name: "html" }), save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const saved = await act(form, () => api.put(path(kind, locale), { subject: subject.value, text: text.value, html: html.value }),
      { control: save });
    if (!saved) return;
    toast(`Saved ${kind} (${locale}), version ${saved.version}`);
    version.textContent = saved.version;
    version.dataset.templateVersion = saved.version;
    clear(previewSlot, saved.preview ? previewView(saved.preview) : empty("The API returned no preview."));
  });
  clear(root, h("p", {}, h("a", { href: "#/messages", text: "← All templates" })), form, previewSlot);
}

async function listing(context, root) {
  const results = h("div", {}, loading());
  clear(root, h("p", { class: "hint", text: "The e-mail members get, per kind and locale. A member's locale picks the template, "
    + "falling back to the program's." }), results);
  const page = await act(results, () => context.api.get("/v1/messages/templates"));
  if (!page) return;
  const items = page.items;
  const kinds = [...new Set(items.map((t) => t.kind))];
  const kind = select(kinds.map((k) => [k]), { name: "kind" });
  const locale = input({ name: "locale", placeholder: "e.g. fr-FR", autocomplete: "off", pattern: "[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}" });
  const open = h("button", { type: "submit" }, "Write it");
  const add = h("form", { class: "inline panel", id: "template-new", "aria-label": "A template for another locale" },
    field("Kind", kind, { name: "kind" }), field("Locale (BCP 47)", locale, { name: "locale" }), open);
  add.addEventListener("submit", (event) => {
    event.preventDefault();
    if (locale.value.trim()) context.navigate(href(kind.value, locale.value.trim()));
  });
  clear(results, items.length === 0 ? empty("No templates.") : [
    h("div", { class: "table-scroll", role: "region", "aria-label": "Templates", tabindex: "0" },
      table(["Kind", "Locale", "Version", "Saved", "Subject"], items.map((t) => h("tr", { "data-template": `${t.kind}/${t.locale}` },
        h("td", {}, h("a", { href: href(t.kind, t.locale), text: t.kind })), h("td", { text: t.locale }),
        h("td", { text: t.version }), h("td", { text: when(t.updated_at) }), h("td", { class: "wrap", text: t.subject }))))),
    h("h2", { text: "Another locale" }), add]);
}

export default {
  id: "messages",
  title: "Messages",
  async render(context, root, [kind, locale]) {
    if (!kind || !locale) return listing(context, root);
    return editor(context, root, kind, locale);
  },
};
