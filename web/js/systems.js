// Information systems and their log coverage by security level (docs/agencies.md, "Compliance by
// level"): the list (level, owner agency, one green/red mark per required log category) and one
// system's page (its hosts, sources and contacts, each category's last event and "missing since",
// its open "log category missing" alerts). Through /api/v1/systems and /api/v1/compliance; agency
// users see their agency's systems only (the API decides). Times in the viewer's zone.
import { api } from "./api.js";
import { h } from "./dom.js";
import { t, fmtTime } from "./i18n.js";
import { listTools, systemTools } from "./systemsmanage.js";

const catName = (c) => t(`cov.cat.${c}`);

function levelBadge(level) {
  return h("span", { class: `badge sys-level lvl-${level}` }, t("sys.level_n", { n: level }));
}

// One mark per required category: green when it arrives, red when missing (since when in the title).
function coverageMarks(cov) {
  if (!cov) return h("span", { class: "small muted" }, t("cov.pending"));
  const required = cov.categories.filter((c) => c.required);
  if (!required.length) return h("span", { class: "small muted" }, t("cov.none_required"));
  return h("span", { class: "cov-marks" }, required.map((c) => h("span", {
    class: `badge cov-mark ${c.status === "missing" ? "cov-missing" : "cov-ok"}`,
    dataset: { category: c.category, status: c.status },
    title: c.status === "missing" ? t("cov.missing_since", { t: fmtTime(c.missing_since) })
      : t("cov.last_seen", { t: fmtTime(c.last_seen) }),
  }, catName(c.category))));
}

export async function systemsPage(view) {
  const [systems, coverage] = await Promise.all([
    api("/api/v1/systems"), api("/api/v1/compliance/coverage"),
  ]);
  const byId = new Map((coverage.items || []).map((c) => [c.system_id, c]));
  const rows = (systems.items || []).map((s) => {
    const cov = byId.get(s.id);
    return h("tr", { dataset: { system: s.id } },
      h("td", {}, h("a", { href: `#/systems/${encodeURIComponent(s.id)}` }, s.name), h("div", { class: "small muted" }, s.id)),
      h("td", {}, levelBadge(s.security_level)),
      h("td", {}, s.agency),
      h("td", {}, s.criticality ? t(`sys.crit.${s.criticality}`) : "—"),
      h("td", {}, coverageMarks(cov)),
      h("td", { class: "nowrap small" }, cov && cov.missing.length
        ? h("span", { class: "error" }, t("cov.n_missing", { n: cov.missing.length })) : cov ? t("cov.complete") : "—"));
  });
  const table = rows.length
    ? h("table", { id: "systems-table" }, h("thead", {}, h("tr", {}, [t("sys.name"), t("sys.level"), t("sys.agency"),
      t("sys.criticality"), t("cov.required"), t("cov.state")].map((c) => h("th", {}, c)))), h("tbody", {}, rows))
    : h("div", { class: "empty" }, t("sys.empty"));
  view.mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("sys.title"))), listTools(),
    h("div", { class: "panel flush" }, h("div", { class: "muted small filters" }, t("cov.help")), table)));
}

export async function systemPage(id, view) {
  const system = await api(`/api/v1/systems/${encodeURIComponent(id)}`);
  let cov = null;
  try { cov = await api(`/api/v1/compliance/coverage/${encodeURIComponent(id)}`); } catch { cov = null; } // not computed yet
  const policy = await api("/api/v1/compliance/policy");
  const level = (policy.levels || []).find((l) => l.level === system.security_level);
  const list = (items) => (items && items.length ? items.join(", ") : "—");
  const facts = h("dl", { class: "kv" },
    h("dt", {}, t("sys.level")), h("dd", {}, levelBadge(system.security_level)),
    h("dt", {}, t("sys.agency")), h("dd", {}, system.agency),
    h("dt", {}, t("sys.criticality")), h("dd", {}, system.criticality ? t(`sys.crit.${system.criticality}`) : "—"),
    h("dt", {}, t("sys.hosts")), h("dd", {}, list(system.hosts)),
    h("dt", {}, t("sys.sources")), h("dd", {}, list(system.sources)),
    h("dt", {}, t("sys.contacts")), h("dd", {}, list((system.contacts || []).map((c) =>
      [c.name, c.role, c.email, c.phone].filter(Boolean).join(" · ")))));
  const rows = cov ? cov.categories.map((c) => h("tr", { dataset: { category: c.category, status: c.status } },
    h("td", {}, catName(c.category)),
    h("td", {}, c.required ? t("cov.yes") : t("cov.no")),
    h("td", {}, h("span", { class: `badge ${c.status === "missing" ? "cov-missing" : c.status === "ok" ? "cov-ok" : ""}` },
      t(`cov.st.${c.status}`))),
    h("td", { class: "nowrap small" }, fmtTime(c.last_seen)),
    h("td", { class: "nowrap small cov-since" }, c.missing_since ? fmtTime(c.missing_since) : "—"))) : [];
  const alerts = cov && cov.open_alerts.length ? h("ul", { class: "cov-alerts" }, cov.open_alerts.map((a) =>
    h("li", {}, h("a", { href: `#/alerts/${encodeURIComponent(a.alert_id)}` }, t("cov.alert_for", { cat: catName(a.category) })),
      " · ", t("cov.missing_since", { t: fmtTime(a.missing_since) })))) : null;
  view.mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, system.name),
    h("a", { href: "#/systems", class: "small" }, "← " + t("sys.title"))),
  systemTools(system, () => systemPage(id, view)),
  h("div", { class: "panel" }, facts, system.description ? h("p", {}, system.description) : null),
  h("div", { class: "panel flush" }, h("h2", { class: "cov-head" }, t("cov.title")),
    h("div", { class: "muted small filters" }, level
      ? t("cov.level_rule", { n: system.security_level, h: Math.round(level.missing_after_secs / 3600) }) : "",
    cov ? ` · ${t("cov.updated", { t: fmtTime(cov.updated_at) })}` : ""),
    cov ? h("table", { id: "coverage-table" }, h("thead", {}, h("tr", {}, [t("cov.category"), t("cov.is_required"),
      t("cov.state"), t("cov.last_event"), t("cov.since")].map((c) => h("th", {}, c)))), h("tbody", {}, rows))
      : h("div", { class: "empty" }, t("cov.pending")),
    alerts)));
}
