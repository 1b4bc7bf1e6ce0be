// Rule exceptions: list, create (also from an alert, with its fields filled in), delete.
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime } from "./i18n.js";
import { session } from "./app.js";

const OPS = ["equals", "contains", "startswith", "endswith", "in", "cidr", "in_list"];
// Alert fields worth excepting on, in the order an analyst usually narrows a false positive.
const ALERT_FIELDS = [["host.name", (a) => a.host?.name], ["user.name", (a) => a.user?.name],
  ["source.ip", (a) => a.source?.ip]];

const canTune = () => session.me?.permissions.includes("tune");
const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
const showValue = (c) => (Array.isArray(c.value) ? c.value.join(", ") : c.value);

function conditionRow(cond = { field: "", op: "equals", value: "" }) {
  const field = h("input", { name: "field", required: true, placeholder: "host.name", value: cond.field, "aria-label": t("exc.field") });
  const op = h("select", { name: "op", "aria-label": t("exc.op") }, OPS.map((o) => h("option", { value: o, selected: o === cond.op }, t(`exc.op.${o}`))));
  const value = h("input", { name: "value", required: true, value: showValue(cond), "aria-label": t("exc.value") });
  const row = h("div", { class: "row condition" }, field, op, value,
    h("button", { type: "button", class: "ghost", title: t("exc.remove"), onclick: () => row.remove() }, "✕"));
  row.read = () => ({ field: field.value.trim(), op: op.value,
    value: op.value === "in" ? value.value.split(",").map((v) => v.trim()).filter(Boolean) : value.value.trim() });
  return row;
}

// "2030-01-02T08:00" typed in the form is Vietnam time (as every time the console shows), whatever
// the browser's own zone; Asia/Ho_Chi_Minh has no daylight saving, so it is always +07:00.
export const vietnamTime = (local) => new Date(`${local.length === 16 ? `${local}:00` : local}+07:00`).toISOString();

function exceptionForm(prefill, rules) {
  const rule = h("input", { name: "rule_id", required: true, value: prefill.rule_id || "", class: "mono", size: 40,
    list: "rule-ids", placeholder: t("exc.rule_hint") });
  const ruleList = h("datalist", { id: "rule-ids" }, rules.filter((r) => r.kind === "detection").map((r) => h("option", { value: r.id }, r.title)));
  const reason = h("textarea", { name: "reason", required: true, placeholder: t("exc.reason_hint") });
  const expires = h("input", { name: "expires_at", type: "datetime-local" });
  const rows = h("div", {}, (prefill.conditions?.length ? prefill.conditions : [undefined]).map((c) => conditionRow(c)));
  return h("form", { class: "panel", id: "exception-form", onsubmit: async (e) => {
    e.preventDefault();
    const body = { rule_id: rule.value.trim(), reason: reason.value.trim(), conditions: [...rows.children].map((r) => r.read()),
      expires_at: expires.value ? vietnamTime(expires.value) : null };
    try {
      await api("/api/v1/exceptions", { method: "POST", body });
      toast(t("saved"));
      if (location.hash === "#/exceptions") reload(); else location.hash = "#/exceptions";
    } catch (ex) { toast(ex.message, true); }
  } },
  h("h2", {}, t("exc.new"), prefill.title ? h("span", { class: "muted small" }, ` — ${prefill.title}`) : null),
  h("div", { class: "muted small" }, t("exc.help")),
  h("label", {}, t("col.rule"), " ", rule), ruleList,
  rows,
  h("div", { class: "row" }, h("button", { type: "button", onclick: () => rows.append(conditionRow()) }, t("exc.add_condition"))),
  h("label", {}, t("exc.reason"), " ", reason),
  h("label", {}, t("exc.expires"), " ", expires, h("span", { class: "muted small" }, ` ${t("exc.expires_tz")}`)),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("act.create"))));
}

async function prefillFromAlert(alertId) {
  if (!alertId) return {};
  const alert = await api(`/api/v1/alerts/${encodeURIComponent(alertId)}`);
  const conditions = ALERT_FIELDS.map(([field, get]) => [field, get(alert)]).filter(([, v]) => v)
    .map(([field, value]) => ({ field, op: "equals", value: String(value) }));
  return { rule_id: alert.rule?.id, title: alert.rule?.title, conditions };
}

export async function exceptionsPage(alertId, view) {
  const mount = view.mount;
  const [{ items }, prefill, rules] = await Promise.all([api("/api/v1/exceptions"), prefillFromAlert(alertId),
    api("/api/v1/rules").then((r) => r.items)]);
  const titles = new Map(rules.map((r) => [r.id, r.title]));
  const tune = canTune();
  const remove = async (id) => {
    if (!window.confirm(t("exc.confirm_delete"))) return;
    try { await api(`/api/v1/exceptions/${encodeURIComponent(id)}`, { method: "DELETE" }); toast(t("saved")); reload(); }
    catch (ex) { toast(ex.message, true); }
  };
  const rows = items.map((x) => h("tr", { dataset: { id: x.id } },
    h("td", {}, titles.has(x.rule_id) ? h("b", {}, titles.get(x.rule_id)) : h("span", { class: "muted" }, t("exc.unknown_rule")),
      h("div", { class: "mono small muted" }, x.rule_id)),
    h("td", {}, x.conditions.map((c) => h("div", { class: "mono small" }, `${c.field} ${t(`exc.op.${c.op}`)} ${showValue(c)}`))),
    h("td", {}, x.reason), h("td", {}, x.author),
    h("td", { class: "nowrap" }, x.expires_at ? fmtTime(x.expires_at) : t("exc.never")),
    h("td", {}, h("span", { class: `badge ${x.active ? "st-closed" : "st-new"}` }, x.active ? t("exc.active") : t("exc.expired"))),
    h("td", {}, tune ? h("button", { type: "button", class: "ghost", onclick: () => remove(x.id) }, t("act.delete")) : null)));
  const table = rows.length
    ? h("table", {}, h("thead", {}, h("tr", {}, [t("col.rule"), t("exc.conditions"), t("exc.reason"), t("col.author"),
      t("exc.expires"), t("col.status"), ""].map((c) => h("th", {}, c)))), h("tbody", {}, rows))
    : h("div", { class: "empty" }, t("exc.empty"));
  mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("exc.title"))),
    tune ? exceptionForm(prefill, rules) : null,
    h("div", { class: "panel flush" }, table)));
  return null;
}
