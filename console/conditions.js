// The condition editor shared by campaigns and segments: one level of `all` or `any` over {fact, op, value}
// tests, each row a fact, an operator and a value typed as the fact wants (a number, true/false, a list for
// in/not_in/contains_any, none for exists/not_exists). Nested groups are edited in the JSON view of the form.
import { button, clear, field, h, input, select } from "./ui.js";

export const ORDER_FACTS = ["order.channel", "order.store_id", "order.eligible_minor", "order.item_count"];
export const MEMBER_FACTS = ["member.tier", "member.channel", "member.purchase_count", "member.enrolled_days",
  "member.days_from_birthday", "member.marketing_opt_in", "member.spend_minor", "member.avg_basket_minor",
  "member.days_since_last_purchase", "member.purchases_90d", "member.spend_90d_minor", "member.categories_90d",
  "member.points_balance", "member.points_expiring_30d", "member.redemptions_count", "member.days_since_last_redemption",
  "member.rfm.r", "member.rfm.f", "member.rfm.m"];
const ATTRIBUTE = "member.attributes.";
const NUMBER_FACTS = new Set(["order.eligible_minor", "order.item_count", "member.purchase_count", "member.enrolled_days",
  "member.days_from_birthday", "member.spend_minor", "member.avg_basket_minor", "member.days_since_last_purchase",
  "member.purchases_90d", "member.spend_90d_minor", "member.points_balance", "member.points_expiring_30d",
  "member.redemptions_count", "member.days_since_last_redemption", "member.rfm.r", "member.rfm.f", "member.rfm.m"]);
const BOOLEAN_FACTS = new Set(["member.marketing_opt_in"]);
export const OPS = ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "contains_any", "exists", "not_exists"];
const LIST_VALUE_OPS = new Set(["in", "not_in", "contains_any"]);
const NO_VALUE_OPS = new Set(["exists", "not_exists"]);

export function numberOrText(value) {
  return value.trim() !== "" && Number.isFinite(Number(value)) ? Number(value) : value;
}

export function list(text) { return text.split(",").map((part) => part.trim()).filter(Boolean); }

/** A value as typed, made the type its fact holds (what the API cannot use it refuses, beside the field). */
export function conditionValue(fact, op, text) {
  if (NO_VALUE_OPS.has(op)) return undefined;
  const one = (part) => {
    if (NUMBER_FACTS.has(fact)) return numberOrText(part);
    if (BOOLEAN_FACTS.has(fact) || fact.startsWith(ATTRIBUTE)) {
      if (part === "true") return true;
      if (part === "false") return false;
    }
    if (fact.startsWith(ATTRIBUTE) && /^-?\d+$/.test(part)) return Number(part);
    return part;
  };
  return LIST_VALUE_OPS.has(op) ? list(text).map(one) : one(text.trim());
}

function showValue(value) { return Array.isArray(value) ? value.join(", ") : String(value ?? ""); }

/** True when the conditions are a flat all/any group of tests (or absent): what the rows can show. */
export function flat(conditions) {
  if (!conditions) return true;
  const children = conditions.all || conditions.any;
  return Array.isArray(children) && children.every((c) => c && c.fact !== undefined && !c.all && !c.any);
}

/** A plain-words summary of conditions, for lists: "all of: member.tier eq Gold, ...". */
export function summary(conditions) {
  if (!conditions) return "—";
  const children = conditions.all || conditions.any;
  if (!children) return `${conditions.fact} ${conditions.op}${conditions.value === undefined ? "" : ` ${showValue(conditions.value)}`}`;
  return `${conditions.all ? "all" : "any"} of: ${children.map(summary).join("; ")}`;
}

export class ConditionRows {
  /** facts: the facts offered; name: the document's field ("conditions"). */
  constructor({ facts, editable = true, name = "conditions" }) {
    this.facts = facts;
    this.editable = editable;
    this.name = name;
    this.combine = select([["all", "all of them (and)"], ["any", "any of them (or)"]], { name: "combine", disabled: !editable });
    this.rows = h("tbody", {});
    this.combine.addEventListener("change", () => this.renumber());
    this.element = h("div", { class: "conditions" },
      field("Apply when", this.combine, { name }),
      h("div", { class: "table-scroll" }, h("table", { class: "rows" },
        h("thead", {}, h("tr", {}, ["Fact", "Operator", "Value (comma-separated for lists)", ""].map((t) => h("th", { scope: "col", text: t })))),
        this.rows)),
      editable ? button("Add a condition", () => this.add({ fact: facts[0], op: "eq", value: "" }).querySelector("select").focus()) : null);
  }

  load(conditions) {
    clear(this.rows);
    this.combine.value = conditions?.any ? "any" : "all";
    for (const cond of (conditions?.all || conditions?.any || [])) this.add(cond);
  }

  add(cond) {
    const disabled = !this.editable;
    const isAttribute = String(cond.fact || "").startsWith(ATTRIBUTE);
    const fact = select([...this.facts.map((f) => [f]), [ATTRIBUTE, "member.attributes.<name>"]], { disabled });
    const attribute = input({ value: isAttribute ? cond.fact.slice(ATTRIBUTE.length) : "", disabled, placeholder: "name", hidden: !isAttribute });
    const op = select(OPS.map((o) => [o]), { disabled });
    const value = input({ value: showValue(cond.value), disabled });
    fact.value = isAttribute ? ATTRIBUTE : cond.fact;
    op.value = cond.op;
    const sync = () => {
      attribute.hidden = fact.value !== ATTRIBUTE;
      value.disabled = disabled || NO_VALUE_OPS.has(op.value);
      if (NO_VALUE_OPS.has(op.value)) value.value = "";
    };
    fact.addEventListener("change", sync);
    op.addEventListener("change", sync);
    sync();
    const remove = this.editable ? button("Remove", () => { row.remove(); this.renumber(); }) : null;
    const row = h("tr", { class: "condition" }, h("td", { class: "field" }, fact, attribute), h("td", { class: "field" }, op),
      h("td", { class: "field" }, value), h("td", {}, remove));
    row.controls = { fact, attribute, op, value, remove };
    this.rows.append(row);
    this.renumber();
    return row;
  }

  /** Labels and field paths follow the rows' order (an API field error names conditions.all.2.value). */
  renumber() {
    [...this.rows.children].forEach((row, index) => {
      const { fact, attribute, op, value, remove } = row.controls;
      const n = index + 1;
      const path = `${this.name}.${this.combine.value}.${index}`;
      fact.setAttribute("aria-label", `Condition ${n}: fact`);
      attribute.setAttribute("aria-label", `Condition ${n}: attribute name`);
      op.setAttribute("aria-label", `Condition ${n}: operator`);
      value.setAttribute("aria-label", `Condition ${n}: value`);
      remove?.setAttribute("aria-label", `Remove condition ${n}`);
      fact.dataset.field = `${path}.fact`;
      op.dataset.field = `${path}.op`;
      value.dataset.field = path;  // the test's own errors ("in on ... needs a list") land beside its value
    });
  }

  /** {all|any: [tests]} or null when there are no rows. */
  value() {
    const tests = [...this.rows.children].map((row) => {
      const { fact, attribute, op, value } = row.controls;
      const name = fact.value === ATTRIBUTE ? `${ATTRIBUTE}${attribute.value.trim()}` : fact.value;
      const test = { fact: name, op: op.value };
      const typed = conditionValue(name, op.value, value.value);
      if (typed !== undefined) test.value = typed;
      return test;
    });
    return tests.length ? { [this.combine.value]: tests } : null;
  }
}
