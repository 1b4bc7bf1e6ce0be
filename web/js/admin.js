// Users (admin), rules, sources, audit log.
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime, fmtNum } from "./i18n.js";
import { session } from "./app.js";
import { sevBadge } from "./alerts.js";

const ROLES = ["admin", "analyst", "viewer", "agency_viewer", "agency_analyst"];
const table = (head, rows, empty = t("dash.nodata")) => (rows.length
  ? h("table", {}, h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, c)))), h("tbody", {}, rows))
  : h("div", { class: "empty" }, empty));

export async function usersPage(view) {
  const mount = view.mount;
  const { items } = await api("/api/v1/users");
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const patch = async (name, body) => { try { await api(`/api/v1/users/${encodeURIComponent(name)}`, { method: "PATCH", body }); toast(t("saved")); reload(); } catch (ex) { toast(ex.message, true); } };
  const rows = items.map((u) => h("tr", {},
    h("td", {}, h("b", {}, u.username), u.display_name ? h("div", { class: "small muted" }, u.display_name) : null),
    h("td", {}, h("select", { "aria-label": t("col.role"), disabled: u.username === session.me.username, onchange: (e) => {
      // A role is what a person may see and do: it changes only when confirmed.
      const to = e.target.value;
      if (window.confirm(t("users.confirm_role", { user: u.username, from: t(`role.${u.role}`), to: t(`role.${to}`) }))) patch(u.username, { role: to });
      else e.target.value = u.role;
    } },
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

function rejectionList(ex) {
  const rejected = ex?.data?.rejected || [];
  return h("div", { class: "error", role: "alert" }, h("div", {}, ex.message),
    rejected.map((r) => h("div", { class: "small" }, h("b", {}, r.reason), r.message ? `: ${r.message}` : "")));
}

function uploadForm() {
  const yaml = h("textarea", { name: "yaml", required: true, rows: 12, class: "mono", placeholder: "title: …\nid: …\nlogsource: …\ndetection: …" });
  const out = h("div");
  return h("form", { class: "panel", id: "rule-upload", onsubmit: async (e) => {
    e.preventDefault();
    out.replaceChildren();
    try {
      const rule = await api("/api/v1/rules", { method: "POST", body: { yaml: yaml.value } });
      toast(`${t("rules.uploaded")}: ${rule.title}`);
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (ex) { out.replaceChildren(rejectionList(ex)); }
  } }, h("h2", {}, t("rules.upload")), h("div", { class: "muted small" }, t("rules.upload_help")), yaml, out,
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("rules.upload"))));
}

export function backtestPanel() {
  const out = h("div", { class: "small" });
  const panel = h("div", { class: "panel", id: "backtest", hidden: true }, h("h2", {}, t("rules.backtest")), out);
  panel.run = async (rule, hours = 24) => {
    panel.hidden = false;
    out.replaceChildren(h("span", { class: "muted" }, "…"));
    const end = new Date(); const start = new Date(end.getTime() - hours * 3600 * 1000);
    try {
      const r = await api("/api/v1/rules/backtest", { method: "POST", body: { rule_id: rule.id, start: start.toISOString(), end: end.toISOString(), size: 10 } });
      out.replaceChildren(h("div", {}, h("b", {}, rule.title), " — ", t("rules.backtest_hits", { n: fmtNum(r.total), h: hours }), r.timed_out ? ` (${t("rules.timed_out")})` : ""),
        h("ul", {}, r.items.map((ev) => h("li", { class: "mono small" }, `${fmtTime(ev["@timestamp"])} ${ev.host?.name || ""} ${ev.message || ""}`))));
    } catch (ex) { out.replaceChildren(rejectionList(ex)); }
    panel.scrollIntoView({ block: "nearest" });
  };
  return panel;
}

export async function rulesPage(view) {
  const mount = view.mount;
  const data = await api("/api/v1/rules");
  const manage = session.me?.permissions.includes("manage_rules");
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const act = async (path, method = "POST") => { try { await api(path, { method }); toast(t("saved")); reload(); } catch (ex) { toast(ex.message, true); } };
  const backtest = backtestPanel();
  const rows = data.items.map((r) => h("tr", { dataset: { id: r.id }, class: r.enabled ? null : "muted" }, h("td", {}, r.level ? sevBadge(r.level) : "—"),
    h("td", { class: "title" }, h("a", { href: `#/rules/${encodeURIComponent(r.id)}` }, r.title), r.description ? h("div", { class: "small muted" }, r.description) : null),
    h("td", {}, r.author || "—"), h("td", { class: "small" }, Object.values(r.logsource || {}).join(" / ") || r.kind),
    h("td", {}, h("span", { class: "badge" }, t(`rules.src.${r.source}`))),
    h("td", { class: "num" }, fmtNum(r.hits)),
    h("td", {}, manage
      ? h("button", { type: "button", class: r.enabled ? "ghost toggle on" : "ghost toggle", "aria-pressed": String(r.enabled),
        onclick: () => act(`/api/v1/rules/${encodeURIComponent(r.id)}/${r.enabled ? "disable" : "enable"}`) }, r.enabled ? t("rules.on") : t("rules.off"))
      : h("span", { class: `badge ${r.enabled ? "st-closed" : "st-new"}` }, r.enabled ? t("rules.on") : t("rules.off"))),
    h("td", { class: "nowrap" }, r.kind === "detection" ? h("button", { type: "button", class: "ghost", onclick: () => backtest.run(r) }, t("rules.backtest")) : null,
      manage && r.source === "uploaded" ? h("button", { type: "button", class: "ghost", onclick: () => { if (window.confirm(t("rules.confirm_delete"))) act(`/api/v1/rules/${encodeURIComponent(r.id)}`, "DELETE"); } }, t("act.delete")) : null),
    h("td", { class: "mono small" }, r.id)));
  const rejected = data.rejected.map((r) => h("tr", {}, h("td", { class: "mono small" }, r.path), h("td", {}, r.reason), h("td", { class: "small" }, r.message)));
  mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("rules.title")), h("span", { class: "muted" }, fmtNum(data.items.length))),
    backtest,
    h("div", { class: "panel flush" }, table([t("col.level"), t("col.title"), t("col.author"), "logsource", t("rules.source"), t("rules.hits"), t("rules.state"), "", "ID"], rows)),
    rejected.length ? h("div", { class: "panel flush" }, h("div", { class: "filters" }, h("h2", {}, t("rules.rejected"))), table(["file", "reason", ""], rejected)) : null,
    manage ? uploadForm() : null));
  return null;
}

const TRANSPORTS = ["syslog_tcp", "syslog_udp", "syslog_tls", "relp", "http", "file"];

function keyPanel(sourceId, key) {
  return h("div", { class: "panel", id: "ingest-key" }, h("h2", {}, t("sources.key_title", { id: sourceId })),
    h("div", { class: "error" }, t("sources.key_once")), h("pre", { class: "mono" }, key));
}

function sourceForm(onKey) {
  const list = (v) => v.split(",").map((x) => x.trim()).filter(Boolean);
  const f = { id: h("input", { name: "id", required: true, pattern: "[a-z0-9][a-z0-9._\\-]+" }), agency: h("input", { name: "agency", required: true }),
    format: h("input", { name: "format", value: "syslog" }), addresses: h("input", { name: "allowed_addresses", placeholder: "10.1.2.0/24, 10.1.3.4" }),
    transports: h("select", { name: "transports", multiple: true, size: 3 }, TRANSPORTS.map((x) => h("option", { value: x }, x))),
    level: h("select", { name: "security_level" }, [1, 2, 3, 4, 5].map((n) => h("option", { value: n, selected: n === 3 }, String(n)))),
    interval: h("input", { name: "expected_interval_secs", type: "number", min: 1, value: 3600 }),
    tz: h("input", { name: "timezone", value: "Asia/Ho_Chi_Minh" }) };
  return h("form", { class: "panel", id: "source-form", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const created = await api("/api/v1/sources", { method: "POST", body: { id: f.id.value.trim(), agency: f.agency.value.trim(),
        format: f.format.value.trim() || "syslog", allowed_addresses: list(f.addresses.value),
        transports: [...f.transports.selectedOptions].map((o) => o.value), security_level: Number(f.level.value),
        expected_interval_secs: Number(f.interval.value), timezone: f.tz.value.trim() } });
      onKey(created.id, created.ingest_key);
    } catch (ex) { toast(ex.message, true); }
  } }, h("h2", {}, t("sources.new")), h("div", { class: "row" },
    h("label", {}, "ID ", f.id), h("label", {}, t("col.agency"), " ", f.agency), h("label", {}, t("sources.format"), " ", f.format),
    h("label", {}, t("sources.addresses"), " ", f.addresses), h("label", {}, t("sources.transports"), " ", f.transports),
    h("label", {}, t("sources.level"), " ", f.level), h("label", {}, t("sources.interval"), " ", f.interval),
    h("label", {}, t("sources.tz"), " ", f.tz), h("button", { type: "submit", class: "primary" }, t("act.create"))));
}

export async function sourcesPage(view) {
  const mount = view.mount;
  const { items } = await api("/api/v1/sources");
  const admin = session.me?.permissions.includes("admin");
  const keyArea = h("div");
  const showKey = async (id, key) => { const again = await api("/api/v1/sources"); render(again.items); keyArea.replaceChildren(keyPanel(id, key)); };
  const rotate = async (id) => {
    if (!window.confirm(t("sources.confirm_rotate"))) return;
    try { const r = await api(`/api/v1/sources/${encodeURIComponent(id)}/key`, { method: "POST" }); keyArea.replaceChildren(keyPanel(id, r.ingest_key)); }
    catch (ex) { toast(ex.message, true); }
  };
  const tableArea = h("div", { class: "panel flush" });
  const render = (list) => tableArea.replaceChildren(table([t("col.source"), t("col.agency"), t("sources.level"), t("sources.last"), t("sources.rate"), t("col.status"), ""],
    list.map((s) => h("tr", { dataset: { id: s.id } }, h("td", {}, h("b", {}, s.id), s.origin === "api" ? h("div", { class: "small muted" }, t("sources.from_api")) : null),
      h("td", {}, s.agency || s.health?.agency || "—"), h("td", {}, s.security_level ?? "—"),
      h("td", { class: "nowrap" }, fmtTime(s.health?.last_seen)), h("td", { class: "num" }, s.health ? fmtNum(s.health.events_per_sec) : "—"),
      h("td", {}, s.health ? h("span", { class: `badge ${s.health.silent ? "st-new" : "st-closed"}` }, s.health.silent ? t("sources.silent") : t("sources.ok")) : "—"),
      h("td", {}, admin && s.origin === "api" ? h("button", { type: "button", class: "ghost", onclick: () => rotate(s.id) }, t("sources.rotate")) : null)))));
  render(items);
  mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("sources.title")),
    h("a", { href: "#/onboarding", class: "button", id: "sources-onboard" }, t("sources.onboard"))), keyArea, tableArea, admin ? sourceForm(showKey) : null));
  return null;
}

export async function auditPage(view) {
  const mount = view.mount;
  const { items } = await api("/api/v1/audit", { query: { size: 200 } });
  const rows = items.map((a) => h("tr", {}, h("td", { class: "nowrap" }, fmtTime(a["@timestamp"])), h("td", {}, a.actor?.username),
    h("td", {}, h("code", {}, a.action), a.outcome === "failure" ? h("span", { class: "badge st-new" }, "✗") : null),
    h("td", { class: "mono small wrap" }, `${a.target?.type || ""} ${a.target?.id || ""}`), h("td", { class: "mono small wrap" }, JSON.stringify(a.details || {}))));
  mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("audit.title"))),
    h("div", { class: "panel flush" }, table([t("col.time"), t("col.actor"), t("col.action"), t("col.target"), ""], rows))));
  return null;
}
