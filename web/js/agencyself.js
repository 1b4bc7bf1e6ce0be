// Agency self-service (issue 16, item 4): an agency analyst requests a rule exception from one of
// its alerts; SOC analysts see the requests waiting and approve or reject them; the agency sees
// its requests and their outcome. The API narrows every request to the agency's own events.
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime } from "./i18n.js";
import { session } from "./app.js";

const can = (p) => session.me?.permissions.includes(p);
export const canRequestException = () => can("request_exception");
const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
const showValue = (c) => (Array.isArray(c.value) ? c.value.join(", ") : c.value);
// Alert fields an agency usually narrows a false positive by (each can be unticked).
const FIELDS = [["host.name", (a) => a.host?.name], ["user.name", (a) => a.user?.name], ["source.ip", (a) => a.source?.ip]];

// Whether the signed-in user may triage this alert: SOC staff any, an agency analyst its agency's own.
export const ownsAlert = (alert) => !session.me?.agency || alert.agency === session.me.agency;

function requestForm(alert) {
  const picks = FIELDS.map(([field, get]) => [field, get(alert)]).filter(([, v]) => v).map(([field, value]) => {
    const box = h("input", { type: "checkbox", checked: true, name: field });
    const label = h("label", { class: "row" }, box, h("span", { class: "mono small" }, `${field} = ${value}`));
    label.read = () => (box.checked ? { field, op: "equals", value: String(value) } : null);
    return label;
  });
  const reason = h("textarea", { name: "reason", required: true, placeholder: t("req.reason_hint") });
  return h("form", { class: "panel", id: "request-form", onsubmit: async (e) => {
    e.preventDefault();
    const conditions = picks.map((p) => p.read()).filter(Boolean);
    if (!conditions.length) { toast(t("req.need_condition"), true); return; }
    try {
      await api("/api/v1/exceptions/requests", { method: "POST", body: { rule_id: alert.rule.id, reason: reason.value.trim(), conditions } });
      toast(t("req.sent"));
      location.hash = "#/exception-requests";
    } catch (ex) { toast(ex.message, true); }
  } },
  h("h2", {}, t("req.new"), h("span", { class: "muted small" }, ` — ${alert.rule?.title || alert.rule?.id}`)),
  h("div", { class: "muted small" }, t("req.help")),
  picks.length ? picks : h("div", { class: "muted" }, t("req.no_fields")),
  h("label", {}, t("exc.reason"), " ", reason),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("req.send"))));
}

async function decide(id, approve) {
  const comment = window.prompt(approve ? t("req.approve_comment") : t("req.reject_comment"), "");
  if (comment === null) return;
  try {
    await api(`/api/v1/exceptions/${encodeURIComponent(id)}/${approve ? "approve" : "reject"}`, { method: "POST", body: { comment: comment.trim() || null } });
    toast(t("saved"));
    reload();
  } catch (ex) { toast(ex.message, true); }
}

// #/exception-requests (and #/exception-requests/new/<alert id> for the request form).
export async function exceptionRequestsPage(alertId, view) {
  const [{ items }, alert] = await Promise.all([api("/api/v1/exceptions/requests"),
    alertId ? api(`/api/v1/alerts/${encodeURIComponent(alertId)}`) : null]);
  const soc = can("tune");
  const rows = items.map((x) => h("tr", { dataset: { id: x.id, state: x.state } },
    h("td", {}, h("span", { class: `badge state-${x.state}` }, t(`req.state.${x.state}`))),
    h("td", {}, x.agency || "—", h("div", { class: "small muted" }, x.requested_by || "")),
    h("td", { class: "mono small" }, x.rule_id),
    h("td", {}, x.conditions.map((c) => h("div", { class: "mono small" }, `${c.field} ${t(`exc.op.${c.op}`)} ${showValue(c)}`))),
    h("td", {}, x.reason, x.decision_comment ? h("div", { class: "small muted" }, `${x.decided_by}: ${x.decision_comment}`) : null),
    h("td", { class: "nowrap small" }, fmtTime(x.created_at)),
    h("td", {}, soc && x.state === "requested" ? h("div", { class: "row" },
      h("button", { type: "button", class: "primary", onclick: () => decide(x.id, true) }, t("req.approve")),
      h("button", { type: "button", onclick: () => decide(x.id, false) }, t("req.reject"))) : null)));
  view.mount(h("div", {},
    h("div", { class: "pagehead" }, h("h1", {}, t("req.title"))),
    alert && canRequestException() ? requestForm(alert) : null,
    h("div", { class: "panel flush" }, items.length ? h("table", { id: "request-table" },
      h("thead", {}, h("tr", {}, ["req.col.state", "col.agency", "col.rule", "exc.conditions", "exc.reason", "col.time", ""].map((k) => h("th", {}, k ? t(k) : "")))),
      h("tbody", {}, rows)) : h("div", { class: "empty" }, t("req.none")))));
}
