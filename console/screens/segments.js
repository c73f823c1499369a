// Segments: the list; define one with a form over member facts (the campaign editor's condition rows) with a JSON
// view of the document it sends; edit; delete (an active campaign's audience keeps it: SEGMENT_IN_USE); its size
// from the analytics store (GET /v1/segments/{id}/size), said plainly when the API does not answer it yet.
import { ConditionRows, flat, MEMBER_FACTS, summary } from "../conditions.js";
import { act, button, clear, empty, field, h, input, loading, num, showError, table, toast, when } from "../ui.js";

const path = (id) => `/v1/segments/${encodeURIComponent(id)}`;

/** The form: a segment document in, the document to send out. */
class SegmentForm {
  constructor(doc) {
    this.element = h("div", { class: "segment-form" });
    this.load(doc);
  }

  load(doc) {
    const { segment_id = "", name = "", description = "", conditions = null, ...extra } = doc;
    this.existing = Boolean(doc.existing);
    delete extra.existing;
    this.extra = extra;
    if (!flat(conditions)) this.extra.conditions = conditions;
    const c = this.controls = {
      segment_id: input({ name: "segment_id", value: segment_id, disabled: this.existing, autocomplete: "off" }),
      name: input({ name: "name", value: name }),
      description: input({ name: "description", value: description }),
    };
    this.conditions = new ConditionRows({ facts: MEMBER_FACTS });
    if (!this.extra.conditions) this.conditions.load(conditions);
    clear(this.element,
      h("fieldset", { class: "segment-fields" }, h("legend", { text: "Segment" }),
        field("Segment id", c.segment_id, { name: "segment_id", hint: this.existing ? undefined : "lower-case letters, digits and hyphens" }),
        field("Name", c.name, { name: "name" }), field("Description", c.description, { name: "description" })),
      h("fieldset", {}, h("legend", { text: "Members whose facts meet" }),
        this.extra.conditions ? h("p", { text: "Nested conditions: edit them in the JSON view." }) : this.conditions.element));
  }

  document() {
    const c = this.controls;
    const doc = { ...this.extra, name: c.name.value, description: c.description.value };
    if (!this.extra.conditions) doc.conditions = this.conditions.value();
    if (!this.existing) doc.segment_id = c.segment_id.value.trim();
    return doc;
  }
}

const NOT_COUNTED_YET = new Set(["NO_SNAPSHOT", "SEGMENT_NOT_IN_SNAPSHOT"]);

/** The API answered the size route with "no such route" or "not implemented": the size is not there yet. */
function sizeNotAvailable(error) {
  return error.status === 501 || ((error.status === 404 || error.status === 405) && !/_NOT_FOUND$/.test(error.code));
}

function sizePanel(context, segmentId) {
  const body = h("div", { "aria-live": "polite" });
  const again = button("Count again", () => count());
  const panel = h("section", { id: "segment-size", class: "panel", "aria-labelledby": "segment-size-title" },
    h("h2", { id: "segment-size-title", text: "Size" }), body, h("div", { class: "row" }, again));
  const count = async () => {
    clear(body, loading("Counting the members…"));
    again.disabled = true;
    try {
      const size = await context.api.get(`${path(segmentId)}/size`);
      if (!panel.isConnected) return;
      clear(body,
        h("p", {}, h("strong", { "data-segment-size": String(size.members), text: `${num(size.members)} members` }),
          ` as of ${when(size.as_of)} (the analytics store's latest snapshot of the members' facts).`),
        size.sample?.length ? h("div", {}, h("h3", { text: "A sample" }),
          h("ul", { class: "sample" }, size.sample.map((id) => h("li", {}, h("a", { href: `#/members/${encodeURIComponent(id)}`, text: id })))))
          : empty("No member in it."));
    } catch (error) {
      if (!panel.isConnected) return;
      if (NOT_COUNTED_YET.has(error.code)) {  // counted on the nightly snapshot, which does not have it yet
        clear(body, h("p", { class: "state", "data-segment-size": "not-counted", "data-code": error.code,
          text: `No size yet: ${error.message}` }));
      } else if (sizeNotAvailable(error)) {
        clear(body, h("p", { class: "state", "data-segment-size": "unavailable",
          text: `Size not available yet: the API does not count segments yet (GET /v1/segments/{id}/size answered HTTP ${error.status}).` }));
      } else {
        clear(body);
        showError(body, error);
      }
    } finally {
      again.disabled = false;
    }
  };
  count();
  return panel;
}

function deletePanel(context, segment) {
  const box = h("div", { id: "segment-delete", class: "row" });
  const confirm = h("div", { class: "row", hidden: true },
    h("p", { text: `Delete ${segment.segment_id}? Campaigns that name it can no longer be activated.` }));
  const ask = button("Delete segment", () => { confirm.hidden = false; yes.focus(); }, { class: "danger" });
  const yes = button("Yes, delete it", async () => {
    yes.disabled = true;
    try {
      await context.api.delete(path(segment.segment_id));
      toast(`Deleted ${segment.segment_id}`);
      context.navigate("#/segments");
    } catch (error) {
      const shown = showError(box, error);
      const users = error.details?.campaigns;  // SEGMENT_IN_USE: the active campaigns whose audience names it
      if (Array.isArray(users)) shown.append(h("p", {}, "Used by: ", users.flatMap((id, i) => [i ? ", " : "",
        h("a", { href: `#/campaigns/${encodeURIComponent(id)}`, text: id })])));
    } finally {
      yes.disabled = false;
    }
  }, { class: "danger" });
  confirm.append(yes, button("Keep it", () => { confirm.hidden = true; ask.focus(); }));
  box.append(ask);
  return h("div", {}, box, confirm);
}

async function editor(context, root, segmentId) {
  const { api, navigate } = context;
  const segment = segmentId ? await api.get(path(segmentId)) : null;
  const form = new SegmentForm(segment ? { ...segment, existing: true } : {});
  const json = h("textarea", { id: "segment-json", rows: "12", spellcheck: false, class: "json" });
  const jsonBox = h("details", { class: "json-view" }, h("summary", { text: "JSON view" }),
    field("The document sent to the API", json, { name: "json" }),
    button("Use this JSON in the form", () => {
      try {
        form.load({ ...JSON.parse(json.value), ...(segment ? { segment_id: segment.segment_id, existing: true } : {}) });
        toast("JSON applied to the form");
      } catch (error) {
        form.element.prepend(h("div", { class: "error-box", role: "alert", text: `Not valid JSON: ${error.message}` }));
      }
    }));
  jsonBox.addEventListener("toggle", () => { if (jsonBox.open) json.value = JSON.stringify(form.document(), null, 2); });
  const save = h("button", { type: "submit", class: "primary" }, segment ? "Save segment" : "Create segment");
  const formElement = h("form", { id: "segment-form", "aria-label": "Segment" }, form.element, save);
  formElement.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = form.document();
    const saved = await act(formElement, () => (segment ? api.put(path(segment.segment_id), body) : api.post("/v1/segments", body)),
      { control: save });
    if (!saved) return;
    toast(`Saved ${saved.segment_id}`);
    if (segment) await editor(context, root, saved.segment_id);
    else navigate(`#/segments/${encodeURIComponent(saved.segment_id)}`);
  });
  clear(root, h("p", {}, h("a", { href: "#/segments", text: "← All segments" })),
    h("h2", { text: segment ? `${segment.name} (${segment.segment_id})` : "New segment" }),
    segment ? sizePanel(context, segment.segment_id) : null,
    formElement, jsonBox,
    segment ? deletePanel(context, segment) : null);
}

async function listing(context, root) {
  const results = h("div", {}, loading());
  clear(root, h("div", { class: "row" }, h("a", { class: "button primary", href: "#/segments/new", text: "New segment" })),
    h("p", { class: "hint", text: "A segment is a rule over members' facts; campaigns name segments in their audience. "
      + "Membership is evaluated on each member's facts when needed (an earn, the offers, the member's facts)." }),
    results);
  const items = await act(results, () => context.api.all("/v1/segments"));
  if (!items) return;
  clear(results, items.length === 0 ? empty("No segments defined yet.") : h("div", { class: "table-scroll", role: "region",
    "aria-label": "Segments", tabindex: "0" }, table(["Segment", "Description", "Conditions"],
    items.map((s) => h("tr", { "data-segment": s.segment_id },
      h("td", {}, h("a", { href: `#/segments/${encodeURIComponent(s.segment_id)}`, text: `${s.name} (${s.segment_id})` })),
      h("td", { class: "wrap", text: s.description || "—" }), h("td", { class: "wrap", text: summary(s.conditions) }))))));
}

export default {
  id: "segments",
  title: "Segments",
  async render(context, root, [segmentId]) {
    if (!segmentId) return listing(context, root);
    return editor(context, root, segmentId === "new" ? null : segmentId);
  },
};
