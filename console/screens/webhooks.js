// Webhooks: the subscriptions (subscribe, with the signing secret shown once; remove), and each one's page with
// a test event and the delivery log, each delivery with its status and a retry. The API has no edit and no
// pause of a subscription: to change one, subscribe the new endpoint and remove the old one.
import { act, button, clear, empty, field, h, input, loading, num, table, toast, when } from "../ui.js";

// docs/events.md's detail types; "*" is every one, those to come included
// Every domain event of docs/events.md (tests/test_docs.py holds this list to that page).
const EVENT_TYPES = ["MemberEnrolled", "MemberUpdated", "MemberAttributesChanged", "MemberBlocked", "MemberUnblocked",
  "MemberErased", "PointsEarned", "PointsRedeemed", "PointsAdjusted", "PointsAvailable", "PointsExpiringSoon",
  "PointsExpired", "PointsForfeited", "PurchaseReturned", "BirthdayBonusCredited", "ReferralBonusCredited", "TierChanged",
  "RedemptionCancelled", "VoucherUsed", "CampaignActivated", "CampaignEnded", "OfferActivated", "OfferAvailable",
  "ProgramVersionPublished", "WebhookDisabled"];
const URL_ERRORS = { WEBHOOK_URL_NOT_ALLOWED: "url" };

const path = (id) => `/v1/webhooks/${encodeURIComponent(id)}`;

function eventTypesControl() {
  const all = h("input", { type: "checkbox", name: "event_type", value: "*", checked: true });
  const each = EVENT_TYPES.map((type) => h("input", { type: "checkbox", name: "event_type", value: type }));
  const sync = () => { for (const box of each) box.disabled = all.checked; };
  all.addEventListener("change", sync);
  sync();
  const label = (box, text) => h("label", {}, box, text);
  const group = h("fieldset", { class: "field event-types", "data-field": "event_types" },
    h("legend", { text: "Events" }),
    h("div", { class: "checks" }, label(all, "All events (*)"), each.map((box) => label(box, box.value))));
  group.id = "event-types";
  return { element: group, value: () => (all.checked ? ["*"] : each.filter((box) => box.checked).map((box) => box.value)) };
}

function secretBox(created) {
  const secret = input({ name: "secret", value: created.secret, readonly: true, autocomplete: "off", spellcheck: false });
  const copied = h("span", { class: "hint", role: "status" });
  const copy = button("Copy", async () => {
    secret.select();
    try {
      await navigator.clipboard.writeText(created.secret);
      copied.textContent = "Copied.";
    } catch {
      copied.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
    }
  });
  return h("div", { class: "secret", id: "new-secret", role: "region", "aria-labelledby": "new-secret-title" },
    h("h2", { id: "new-secret-title", text: `Signing secret of ${created.webhook_id}` }),
    h("p", { text: "Copy it now and give it to the receiver: it is shown this once, and the API never returns it again. "
      + "The receiver checks each delivery's Loyalty-Signature with it." }),
    field("Secret", secret, { name: "secret" }), h("div", { class: "row" }, copy, copied),
    h("p", {}, h("a", { href: `#/webhooks/${encodeURIComponent(created.webhook_id)}`, text: "Its deliveries →" })));
}

function subscribeForm(context, done) {
  const url = input({ name: "url", inputmode: "url", autocomplete: "off", placeholder: "https://crm.example.com/loyalty-hook" });
  const description = input({ name: "description" });
  const types = eventTypesControl();
  const save = h("button", { type: "submit", class: "primary" }, "Subscribe");
  const form = h("form", { id: "webhook-form", class: "panel", "aria-labelledby": "webhook-form-title" },
    h("h2", { id: "webhook-form-title", text: "Subscribe an endpoint" }),
    field("URL", url, { name: "url", hint: "https, resolving to public addresses only (with make run, http://127.0.0.1:<port> too)" }),
    types.element, field("Description", description, { name: "description" }), save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const created = await act(form, () => context.api.post("/v1/webhooks",
      { url: url.value.trim(), event_types: types.value(), description: description.value }), { control: save, codeFields: URL_ERRORS });
    if (created) {
      toast(`Subscribed ${created.webhook_id}`);
      url.value = ""; description.value = "";
      await done(created);
    }
  });
  return form;
}

function subscriptionRows(items) {
  return items.map((s) => h("tr", { "data-webhook": s.webhook_id },
    h("td", { class: "wrap" }, h("a", { href: `#/webhooks/${encodeURIComponent(s.webhook_id)}`, text: s.url }), h("br"),
      h("span", { class: "hint", text: s.webhook_id })),
    h("td", { class: "wrap", text: s.event_types.join(", ") }), h("td", { class: "wrap", text: s.description || "—" }),
    h("td", { "data-webhook-status": s.status, text: s.status }), h("td", { text: when(s.created_at) }),
    h("td", { text: when(s.last_success_at) }), h("td", { text: when(s.failing_since) })));
}

async function listing(context, root) {
  const secretSlot = h("div", {});
  const results = h("div", {}, loading());
  const load = async () => {
    const page = await act(results, () => context.api.get("/v1/webhooks", { limit: 100 }));
    if (!page) return;
    clear(results, page.items.length === 0 ? empty("No subscriptions yet.") : h("div", { class: "table-scroll", role: "region",
      "aria-label": "Subscriptions", tabindex: "0" }, table(["Endpoint", "Events", "Description", "Status", "Created", "Last success", "Failing since"],
      subscriptionRows(page.items))));
  };
  clear(root, subscribeForm(context, async (created) => { clear(secretSlot, secretBox(created)); await load(); }), secretSlot,
    h("h2", { text: "Subscriptions" }), results);
  await load();
}

function deliveryRow(context, webhookId, delivery) {
  const retryCell = h("td", {});
  const row = h("tr", { "data-delivery": delivery.delivery_id, "data-event-type": delivery.event_type },
    h("td", { text: when(delivery.created_at) }),
    h("td", { class: "wrap" }, h("span", { class: "nowrap", text: delivery.event_type }), h("br"), h("span", { class: "hint", "data-event-id": delivery.event_id, text: delivery.event_id })),
    h("td", { class: `status-${delivery.status}`, "data-delivery-status": delivery.status, text: delivery.status }),
    h("td", { class: "n", "data-attempts": String(delivery.attempts), text: num(delivery.attempts) }),
    h("td", { class: "n", "data-last-status": String(delivery.last_status ?? ""), text: delivery.last_status === null ? "—" : String(delivery.last_status) }),
    h("td", { class: "wrap", text: delivery.last_error || "—" }), h("td", { text: when(delivery.next_attempt_at) }), retryCell);
  const retry = button("Retry", () => act(retryCell, async () => {
    const again = await context.api.post(`${path(webhookId)}/deliveries/${encodeURIComponent(delivery.delivery_id)}/retry`);
    toast(`${delivery.delivery_id}: queued again`);
    const fresh = deliveryRow(context, webhookId, again);
    row.replaceWith(fresh);
    fresh.querySelector("button")?.focus();  // the keyboard stays on the row it acted on
  }, { control: retry }), { "aria-label": `Retry ${delivery.event_type} ${delivery.delivery_id}` });
  retryCell.append(retry);
  return row;
}

async function detail(context, root, webhookId) {
  const subscription = await context.api.get(path(webhookId));
  const log = h("tbody", {});
  const logState = h("div", {}, loading("Loading the deliveries…"));
  const more = button("Older deliveries", () => page(), { hidden: true });
  let cursor = null;
  const page = async (fresh = false) => {
    if (fresh) cursor = null;
    const found = await act(logState, () => context.api.get(`${path(webhookId)}/deliveries`, { limit: 20, cursor }), { control: more });
    if (!found) return;
    if (fresh) clear(log);
    log.append(...found.items.map((d) => deliveryRow(context, webhookId, d)));
    cursor = found.next_cursor;
    more.hidden = !cursor;
    clear(logState, log.children.length ? null : empty("No deliveries yet."));
  };
  const actions = h("div", { class: "row", id: "webhook-actions" });
  const test = button("Send a test event", () => act(actions, async () => {
    const queued = await context.api.post(`${path(webhookId)}/test`);
    toast(`Test event queued: ${queued.delivery_id}`);
    await page(true);
  }, { control: test }), { class: "primary" });
  const refresh = button("Refresh the log", () => page(true));
  const confirm = h("div", { class: "row", hidden: true },
    h("p", { text: "Remove this subscription? Nothing more is sent to it; its log is kept 30 days." }));
  const remove = button("Remove subscription", () => { confirm.hidden = false; confirmRemove.focus(); }, { class: "danger" });
  const confirmRemove = button("Yes, remove it", () => act(confirm, async () => {
    await context.api.delete(path(webhookId));
    toast(`Removed ${webhookId}`);
    context.navigate("#/webhooks");
  }, { control: confirmRemove }), { class: "danger" });
  confirm.append(confirmRemove, button("Keep it", () => { confirm.hidden = true; remove.focus(); }));
  actions.append(test, refresh, remove);
  const facts = [["URL", subscription.url], ["Events", subscription.event_types.join(", ")], ["Description", subscription.description || "—"],
    ["Status", subscription.status], ["Created", when(subscription.created_at)], ["Last success", when(subscription.last_success_at)],
    ["Failing since", when(subscription.failing_since)], ["Disabled at", when(subscription.disabled_at)]];
  clear(root, h("p", {}, h("a", { href: "#/webhooks", text: "← All subscriptions" })),
    h("h2", { text: `Subscription ${subscription.webhook_id}` }),
    h("dl", { class: "profile webhook" }, facts.map(([label, value]) => h("div", {}, h("dt", { text: label }),
      h("dd", { "data-webhook-field": label.toLowerCase().replace(/[^a-z]+/g, "-"), text: value })))),
    subscription.status === "disabled" ? h("p", { class: "error-box", text: "Disabled after 24 hours of failures: nothing is sent to it. "
      + "Subscribe the endpoint again (a new secret) once it answers." }) : null,
    h("p", { class: "hint", text: "The API cannot edit or pause a subscription: subscribe the new endpoint or events, then remove this one." }),
    actions, confirm,
    h("h2", { id: "deliveries-title", text: "Delivery log (newest first)" }),
    h("p", { class: "hint", text: "A failed attempt is retried with backoff for 24 hours; Retry queues one again now, with a fresh 24 hours." }),
    h("div", { class: "table-scroll", role: "region", "aria-labelledby": "deliveries-title", tabindex: "0" },
      h("table", { id: "deliveries" }, h("thead", {}, h("tr", {}, ["Created", "Event and its id", "Status", "Attempts", "Last status",
        "Last error", "Next attempt", "Action"].map((text) => h("th", { scope: "col", text })))), log)),
    logState, more);
  await page(true);
}

export default {
  id: "webhooks",
  title: "Webhooks",
  async render(context, root, [webhookId]) {
    if (!webhookId) return listing(context, root);
    return detail(context, root, webhookId);
  },
};
