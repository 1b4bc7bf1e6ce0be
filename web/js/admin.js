// Users (admin), rules, sources, audit log.
import { api } from "./api.js";
import { h, mount, toast } from "./dom.js";
import { t, fmtTime, fmtNum } from "./i18n.js";
import { session } from "./app.js";
import { sevBadge } from "./alerts.js";

const ROLES = ["admin", "analyst", "viewer", "agency_viewer"];
const table = (head, rows, empty = t("dash.nodata")) => (rows.length
  ? h("table", {}, h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, c)))), h("tbody", {}, rows))
  : h("div", { class: "empty" }, empty));

export async function usersPage() {
  const { items } = await api("/api/v1/users");
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const patch = async (name, body) => { try { await api(`/api/v1/users/${encodeURIComponent(name)}`, { method: "PATCH", body }); toast(t("saved")); reload(); } catch (ex) { toast(ex.message, true); } };
  const rows = items.map((u) => h("tr", {},
    h("td", {}, h("b", {}, u.username), u.display_name ? h("div", { class: "small muted" }, u.display_name) : null),
    h("td", {}, h("select", { "aria-label": t("col.role"), disabled: u.username === session.me.username, onchange: (e) => patch(u.username, { role: e.target.value }) },
      ROLES.map((r) => h("option", { value: r, selected: r === u.role }, t(`role.${r}`))))),
    h("td", {}, u.agency || "—"),
    h("td", {}, h("span", { class: `badge ${u.disabled ? "st-new" : "st-closed"}` }, u.disabled ? t("users.disabled") : t("users.active"))),
    h("td", { class: "nowrap" }, fmtTime(u.created_at)),
    h("td", {}, u.username === session.me.username ? null : h("button", { type: "button", onclick: () => patch(u.username, { disabled: !u.disabled }) },
      u.disabled ? t("act.enable") : t("act.disable")))));
  const f = { username: h("input", { name: "username", required: true, pattern: "[a-z0-9][a-z0-9._-]{1,63}" }),
    role: h("select", { name: "role" }, ROLES.map((r) => h("option", { value: r }, t(`role.${r}`)))),
    agency: h("input", { name: "agency" }), password: h("input", { name: "password", type: "password", required: true, minlength: 10, autocomplete: "new-password" }) };
  const form = h("form", { class: "panel", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api("/api/v1/users", { method: "POST", body: { username: f.username.value.trim(), role: f.role.value, agency: f.agency.value.trim() || null, password: f.password.value } });
      toast(t("saved")); reload();
    } catch (ex) { toast(ex.message, true); }
  } }, h("h2", {}, t("users.new")), h("div", { class: "row" },
    h("label", {}, t("login.user"), " ", f.username), h("label", {}, t("col.role"), " ", f.role),
    h("label", {}, t("col.agency"), " ", f.agency), h("label", {}, t("login.password"), " ", f.password),
    h("button", { type: "submit", class: "primary" }, t("act.create"))));
  mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("users.title"))),
    h("div", { class: "panel flush" }, table([t("login.user"), t("col.role"), t("col.agency"), t("col.status"), t("col.time"), ""], rows)), form));
  return null;
}

export async function rulesPage() {
  const data = await api("/api/v1/rules");
  const rows = data.items.map((r) => h("tr", {}, h("td", {}, r.level ? sevBadge(r.level) : "—"),
    h("td", { class: "title" }, r.title, r.description ? h("div", { class: "small muted" }, r.description) : null),
    h("td", {}, r.author || "—"), h("td", { class: "small" }, Object.values(r.logsource || {}).join(" / ") || r.kind),
    h("td", { class: "mono small" }, r.id)));
  const rejected = data.rejected.map((r) => h("tr", {}, h("td", { class: "mono small" }, r.path), h("td", {}, r.reason), h("td", { class: "small" }, r.message)));
  mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("rules.title")), h("span", { class: "muted" }, fmtNum(data.items.length))),
    h("div", { class: "panel flush" }, table([t("col.level"), t("col.title"), t("col.author"), "logsource", "ID"], rows)),
    rejected.length ? h("div", { class: "panel flush" }, h("div", { class: "filters" }, h("h2", {}, t("rules.rejected"))), table(["file", "reason", ""], rejected)) : null));
  return null;
}

export async function sourcesPage() {
  const { items } = await api("/api/v1/sources");
  const rows = items.map((s) => h("tr", {}, h("td", {}, h("b", {}, s.id)), h("td", {}, s.agency || s.health?.agency || "—"),
    h("td", { class: "nowrap" }, fmtTime(s.health?.last_seen)), h("td", { class: "num" }, s.health ? fmtNum(s.health.events_per_sec) : "—"),
    h("td", {}, s.health ? h("span", { class: `badge ${s.health.silent ? "st-new" : "st-closed"}` }, s.health.silent ? t("sources.silent") : t("sources.ok")) : "—")));
  mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("sources.title"))),
    h("div", { class: "panel flush" }, table([t("col.source"), t("col.agency"), t("sources.last"), t("sources.rate"), t("col.status")], rows))));
  return null;
}

export async function auditPage() {
  const { items } = await api("/api/v1/audit", { query: { size: 200 } });
  const rows = items.map((a) => h("tr", {}, h("td", { class: "nowrap" }, fmtTime(a["@timestamp"])), h("td", {}, a.actor?.username),
    h("td", {}, h("code", {}, a.action), a.outcome === "failure" ? h("span", { class: "badge st-new" }, "✗") : null),
    h("td", { class: "mono small" }, `${a.target?.type || ""} ${a.target?.id || ""}`), h("td", { class: "mono small" }, JSON.stringify(a.details || {}))));
  mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("audit.title"))),
    h("div", { class: "panel flush" }, table([t("col.time"), t("col.actor"), t("col.action"), t("col.target"), ""], rows))));
  return null;
}
