// Program versions: every version (number, in force from, published at and by, note), and publishing the next one
// from the document in force now, edited as JSON, with a field-by-field diff against it computed here as you type.
import { act, clear, empty, field, h, input, loading, table, toast, when } from "../ui.js";

const META = new Set(["version", "effective_from", "published_at", "published_by", "note"]);
const OWN_FIELDS = new Set(["effective_from", "note"]);  // the publish's own fields; any other field is in the document

/** The program document of a version: the version's fields without its number, dates and audit. */
export function documentOf(version) {
  return Object.fromEntries(Object.entries(version).filter(([key]) => !META.has(key)));
}

/** Every leaf of a JSON value by its path ("tiers.1.min_qualifying_points"); an empty object or list is a leaf. */
export function flatten(value, prefix = "", into = new Map()) {
  const branches = value !== null && typeof value === "object" ? Object.entries(value) : [];
  if (!branches.length) into.set(prefix, value);
  for (const [key, child] of branches) flatten(child, prefix ? `${prefix}.${key}` : key, into);
  return into;
}

/** The changes from `before` to `after`, field by field: [{path, change: changed|added|removed, before, after}]. */
export function diff(before, after) {
  const was = flatten(before), now = flatten(after);
  const changes = [];
  for (const [path, value] of was) {
    if (!now.has(path)) changes.push({ path, change: "removed", before: value, after: undefined });
    else if (JSON.stringify(now.get(path)) !== JSON.stringify(value)) changes.push({ path, change: "changed", before: value, after: now.get(path) });
  }
  for (const [path, value] of now) if (!was.has(path)) changes.push({ path, change: "added", before: undefined, after: value });
  return changes;
}

const show = (value) => (value === undefined ? "—" : JSON.stringify(value));

/** The names along a path, for a reader: tiers.1.min_qualifying_points is Silver's threshold. */
function namesOn(path, ...documents) {
  for (const document of documents) {
    const names = [];
    let node = document;
    for (const part of path.split(".")) {
      node = node !== null && typeof node === "object" ? node[part] : undefined;
      if (/^\d+$/.test(part) && node && typeof node.name === "string") names.push(node.name);
    }
    if (names.length) return names.join(" › ");
  }
  return "";
}

function diffView(changes, current, edited) {
  const names = (path) => namesOn(path, edited, documentOf(current));
  if (!changes.length) return h("p", { class: "state", "data-diff": "none", text: `No change from version ${current.version}.` });
  return h("div", { class: "table-scroll", role: "region", "aria-label": "Changes", tabindex: "0" },
    table(["Field", `Version ${current.version} (in force)`, "New version", "Change"], changes.map((c) =>
      h("tr", { "data-diff-path": c.path, "data-change": c.change, class: `diff-${c.change}` },
        h("th", { scope: "row", class: "wrap" }, c.path, names(c.path) ? h("span", { class: "hint", text: ` (${names(c.path)})` }) : null),
        h("td", { class: "wrap", "data-side": "before", text: show(c.before) }),
        h("td", { class: "wrap", "data-side": "after", text: show(c.after) }), h("td", { text: c.change }))),
    `${changes.length} ${changes.length === 1 ? "change" : "changes"} against version ${current.version}`));
}

function versionRows(versions, inForce) {
  return versions.map((v) => h("tr", { "data-version": String(v.version) },
    h("td", { class: "n", text: String(v.version) }),
    h("td", {}, when(v.effective_from), v.version === inForce ? h("strong", { class: "in-force", text: " (in force)" })
      : Date.parse(v.effective_from) > Date.now() ? h("span", { class: "hint", text: " (scheduled)" }) : null),
    h("td", { text: when(v.published_at) }), h("td", { class: "wrap", text: v.published_by }), h("td", { class: "wrap", text: v.note || "—" })));
}

function publishForm(context, current, done) {
  const documentText = h("textarea", { id: "program-json", name: "document", rows: "22", spellcheck: false, class: "json" });
  documentText.value = JSON.stringify(documentOf(current), null, 2);
  const effective = input({ name: "effective_from", placeholder: "empty: now, e.g. 2027-01-01T00:00:00Z", autocomplete: "off" });
  const note = input({ name: "note", maxlength: "500" });
  const changes = h("div", { id: "program-diff", "aria-live": "polite" });
  const publish = h("button", { type: "submit", class: "primary" }, "Publish version");
  const form = h("form", { id: "publish-form", class: "panel", "aria-labelledby": "publish-title" },
    h("h2", { id: "publish-title", text: "Publish a new version" }),
    h("p", { class: "hint", text: `Starts from version ${current.version}, in force now. Change the document below; the changes against it `
      + "show as you type. A tier cannot be removed, nor the time zone or currency changed (they need a migration)." }),
    h("div", { class: "inline" },
      field("In force from (RFC 3339, UTC)", effective, { name: "effective_from" }), field("Note (why)", note, { name: "note" })),
    field("The program document", documentText, { name: "document" }),
    h("h3", { text: "Changes" }), changes, publish);
  let parsed = null;
  const refresh = () => {
    try {
      parsed = JSON.parse(documentText.value);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("the document is a JSON object");
      clear(changes, diffView(diff(documentOf(current), parsed), current, parsed));
    } catch (error) {
      parsed = null;
      clear(changes, h("p", { class: "field-error", "data-diff": "invalid", text: `Not valid JSON: ${error.message}` }));
    }
  };
  documentText.addEventListener("input", refresh);
  refresh();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!parsed) { documentText.focus(); return; }
    const body = { ...parsed, note: note.value.trim() || null };
    if (effective.value.trim()) body.effective_from = effective.value.trim();
    const published = await act(form, async () => {
      try {
        return await context.api.post("/v1/program/versions", body);
      } catch (error) {
        // a field of the document is edited in the JSON: its error goes beside the document, naming the field
        error.errors = error.errors.map((e) => (OWN_FIELDS.has(e.field) ? e : { field: "document", code: e.field, message: e.message }));
        throw error;
      }
    }, { control: publish });
    if (published) { toast(`Published version ${published.version}`); await done(published); }
  });
  return form;
}

async function render(context, root, published = null) {
  const [versionsPage, program] = await Promise.all([context.api.get("/v1/program/versions"), context.api.get("/v1/program")]);
  const versions = versionsPage.items;
  const current = versions.find((v) => v.version === program.version) || versions[0];
  clear(root,
    published ? h("p", { class: "done", role: "status", "data-published": String(published.version),
      text: `Published version ${published.version}, in force from ${when(published.effective_from)}.` }) : null,
    h("h2", { id: "versions-title", text: "Versions (newest first)" }),
    versions.length ? h("div", { class: "table-scroll", role: "region", "aria-labelledby": "versions-title", tabindex: "0" },
      table(["Version", "In force from", "Published at", "Published by", "Note"], versionRows(versions, program.version)))
      : empty("No versions."),
    current ? publishForm(context, current, (made) => render(context, root, made)) : null);
}

export default {
  id: "program",
  title: "Program versions",
  async render(context, root) {
    clear(root, loading());
    await render(context, root);
  },
};
