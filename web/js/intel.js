// Threat intel (docs/threat-intel.md): the indicators page (search, add, expire, remove, import a
// file) with the feeds' health, and the indicator panel of an alert. Everything goes through the
// API's /api/v1/intel routes; times are shown in Vietnam time and sent in UTC.
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime, fmtNum } from "./i18n.js";
import { session } from "./app.js";
import { vietnamTime } from "./exceptions.js";

const TYPES = ["ipv4", "ipv6", "cidr", "domain", "url", "md5", "sha1", "sha256", "email", "user_agent"];
const SEVERITIES = ["critical", "high", "medium", "low", "informational"];
const FORMATS = ["csv", "plain", "stix", "misp"];

const canTune = () => session.me?.permissions.includes("tune");
const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
const opts = (values, label, selected) => values.map((v) => h("option", { value: v, selected: v === selected }, label(v)));

// What the page was asked for, kept in the hash (#/indicators?value=…&type=…): a reload keeps it.
function filtersFromHash() {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  return { value: q.get("value") || "", type: q.get("type") || "", feed: q.get("feed") || "", active: q.get("active") || "" };
}

function filterForm(f) {
  const value = h("input", { name: "value", value: f.value, placeholder: t("ioc.value"), "aria-label": t("ioc.value") });
  const type = h("select", { name: "type", "aria-label": t("ioc.type") }, h("option", { value: "" }, t("ioc.any_type")),
    opts(TYPES, (v) => t(`ioc.t.${v}`), f.type));
  const feed = h("input", { name: "feed", value: f.feed, placeholder: t("ioc.feed"), "aria-label": t("ioc.feed"), size: 14 });
  const active = h("select", { name: "active", "aria-label": t("col.status") }, h("option", { value: "" }, t("status.all")),
    h("option", { value: "true", selected: f.active === "true" }, t("ioc.active")),
    h("option", { value: "false", selected: f.active === "false" }, t("ioc.expired")));
  return h("form", { class: "filters", id: "ioc-filters", onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, el] of Object.entries({ value, type, feed, active })) if (el.value.trim()) q.set(k, el.value.trim());
    const next = `#/indicators${q.toString() ? `?${q}` : ""}`;
    if (location.hash === next) reload(); else location.hash = next;
  } }, value, type, feed, active, h("button", { type: "submit" }, t("ioc.search")));
}

function addForm() {
  const type = h("select", { name: "type", "aria-label": t("ioc.type") }, opts(TYPES, (v) => t(`ioc.t.${v}`), "ipv4"));
  const value = h("input", { name: "value", required: true, placeholder: "203.0.113.7", "aria-label": t("ioc.value"), size: 30 });
  const confidence = h("input", { name: "confidence", type: "number", min: 0, max: 100, value: 70, "aria-label": t("ioc.confidence") });
  const severity = h("select", { name: "severity", "aria-label": t("col.severity") }, opts(SEVERITIES, (v) => t(`sev.${v}`), "high"));
  const expires = h("input", { name: "expires_at", type: "datetime-local", "aria-label": t("ioc.expires") });
  const reason = h("input", { name: "reason", required: true, placeholder: t("ioc.reason_hint"), "aria-label": t("ioc.reason"), size: 40 });
  return h("form", { class: "panel", id: "ioc-add", onsubmit: async (e) => {
    e.preventDefault();
    const body = { type: type.value, value: value.value.trim(), confidence: Number(confidence.value), severity: severity.value,
      reason: reason.value.trim(), expires_at: expires.value ? vietnamTime(expires.value) : null };
    try { await api("/api/v1/intel/indicators", { method: "POST", body }); toast(t("saved")); reload(); }
    catch (ex) { toast(ex.message, true); }
  } }, h("h2", {}, t("ioc.add")),
  h("div", { class: "row" }, type, value, h("label", {}, t("ioc.confidence"), " ", confidence), severity),
  h("div", { class: "row" }, h("label", {}, t("ioc.reason"), " ", reason),
    h("label", {}, t("ioc.expires"), " ", expires, h("span", { class: "muted small" }, ` ${t("exc.expires_tz")}`))),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("act.create"))));
}

function importForm() {
  const file = h("input", { name: "file", type: "file", required: true, accept: ".csv,.txt,.json", "aria-label": t("ioc.file") });
  const format = h("select", { name: "format", "aria-label": t("ioc.format") }, opts(FORMATS, (v) => t(`ioc.f.${v}`), "csv"));
  const feed = h("input", { name: "feed", required: true, pattern: "[a-z0-9][a-z0-9_.-]*", placeholder: "bulletin-12-2026",
    "aria-label": t("ioc.import_name"), size: 20 });
  const days = h("input", { name: "expires_days", type: "number", min: 1, max: 3650, value: 90, "aria-label": t("ioc.expires_days") });
  const reason = h("input", { name: "reason", placeholder: t("ioc.reason_hint"), "aria-label": t("ioc.reason"), size: 30 });
  const result = h("div", { class: "muted small", id: "ioc-import-result" });
  return h("form", { class: "panel", id: "ioc-import", onsubmit: async (e) => {
    e.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    const body = { format: format.value, feed: feed.value.trim(), content: await chosen.text(),
      expires_days: days.value ? Number(days.value) : null, reason: reason.value.trim() || null };
    try {
      const r = await api("/api/v1/intel/import", { method: "POST", body });
      const skipped = Object.values(r.skipped || {}).reduce((a, b) => a + b, 0);
      result.textContent = t("ioc.imported", { stored: fmtNum(r.stored), skipped: fmtNum(skipped), feed: r.feed });
      toast(result.textContent);
    } catch (ex) { toast(ex.message, true); }
  } }, h("h2", {}, t("ioc.import")), h("div", { class: "muted small" }, t("ioc.import_help")),
  h("div", { class: "row" }, file, format, h("label", {}, t("ioc.import_name"), " ", feed),
    h("label", {}, t("ioc.expires_days"), " ", days), reason),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("ioc.import_go"))), result);
}

function feedHealth(feeds) {
  if (!feeds.length) return h("div", { class: "panel", id: "feed-health" }, h("h2", {}, t("feed.title")), h("div", { class: "empty" }, t("feed.empty")));
  const rows = feeds.map((f) => h("tr", { dataset: { feed: f.id } },
    h("td", {}, h("b", {}, f.id), h("div", { class: "small muted" }, t(`feed.k.${f.kind}`) || f.kind)),
    h("td", { class: "nowrap" }, f.last_success_at ? fmtTime(f.last_success_at) : t("feed.never")),
    h("td", {}, fmtNum(f.last_count ?? 0)), h("td", {}, fmtNum(f.indicator_count ?? 0)),
    h("td", {}, !f.enabled ? h("span", { class: "badge" }, t("feed.disabled"))
      : f.stale ? h("span", { class: "badge st-new feed-stale" }, t("feed.stale")) : h("span", { class: "badge st-closed" }, t("feed.ok"))),
    h("td", { class: "small" }, f.last_error || "")));
  return h("div", { class: "panel flush", id: "feed-health" }, h("div", { class: "filters" }, h("h2", {}, t("feed.title"))),
    h("table", {}, h("thead", {}, h("tr", {}, [t("feed.feed"), t("feed.last_success"), t("feed.last_count"), t("feed.count"),
      t("col.status"), t("feed.error")].map((c) => h("th", {}, c)))), h("tbody", {}, rows)));
}

export async function indicatorsPage(view) {
  const f = filtersFromHash();
  const query = { value: f.value, type: f.type, feed: f.feed, active: f.active, size: 200 };
  const [list, feeds] = await Promise.all([api("/api/v1/intel/indicators", { query }),
    api("/api/v1/intel/feeds").then((r) => r.items || []).catch(() => [])]);
  const tune = canTune();
  const act = async (path, method, body, confirmKey) => {
    if (confirmKey && !window.confirm(t(confirmKey))) return;
    try { await api(path, { method, body }); toast(t("saved")); reload(); } catch (ex) { toast(ex.message, true); }
  };
  const rows = list.items.map((x) => h("tr", { dataset: { id: x.id, value: x.value } },
    h("td", {}, t(`ioc.t.${x.type}`)), h("td", { class: "mono small" }, x.value),
    h("td", {}, x.feed), h("td", {}, x.confidence ?? "—"), h("td", {}, t(`sev.${x.severity}`)),
    h("td", { class: "small" }, x.reason || ""),
    h("td", { class: "nowrap" }, x.expires_at ? fmtTime(x.expires_at) : t("exc.never")),
    h("td", {}, h("span", { class: `badge ${x.active ? "st-closed" : "st-new"}` }, x.active ? t("ioc.active") : t("ioc.expired"))),
    h("td", { class: "nowrap" }, tune ? [
      x.active ? h("button", { type: "button", class: "ghost ioc-expire",
        onclick: () => act(`/api/v1/intel/indicators/${encodeURIComponent(x.id)}/expire`, "POST", {}, null) }, t("ioc.expire")) : null,
      h("button", { type: "button", class: "ghost ioc-remove",
        onclick: () => act(`/api/v1/intel/indicators/${encodeURIComponent(x.id)}`, "DELETE", undefined, "ioc.confirm_remove") }, t("act.delete"))] : null)));
  const table = rows.length
    ? h("table", { id: "ioc-table" }, h("thead", {}, h("tr", {}, [t("ioc.type"), t("ioc.value"), t("ioc.feed"), t("ioc.confidence"),
      t("col.severity"), t("ioc.reason"), t("ioc.expires"), t("col.status"), ""].map((c) => h("th", {}, c)))), h("tbody", {}, rows))
    : h("div", { class: "empty" }, t("ioc.empty"));
  view.mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("ioc.title"))),
    feedHealth(feeds),
    h("div", { class: "panel flush" }, filterForm(f),
      h("div", { class: "muted small", id: "ioc-total" }, t("ioc.total", { n: fmtNum(list.total), shown: fmtNum(list.items.length) })), table),
    tune ? addForm() : null, tune ? importForm() : null));
  return null;
}

// The alert page's panel for a threat-intel alert: the indicator met, its feed and confidence.
export function indicatorPanel(alert) {
  const ioc = alert.indicator;
  if (!ioc) return null;
  const pairs = [[t("ioc.indicator"), h("span", { class: "mono" }, `${t(`ioc.t.${ioc.type}`)}: ${ioc.value}`)],
    [t("ioc.feed"), ioc.feed], [t("ioc.confidence"), ioc.confidence ?? "—"],
    [t("ioc.field"), ioc.field ? `${ioc.field} = ${ioc.observed ?? ""}` : null],
    [t("ioc.reason"), ioc.reason], [t("alert.tags"), (ioc.tags || []).join(", ")],
    ["", h("a", { href: `#/indicators?value=${encodeURIComponent(ioc.value)}&type=${encodeURIComponent(ioc.type)}` }, t("ioc.open"))]];
  return h("div", { class: "panel", id: "indicator-context" }, h("h2", {}, t("ioc.context")),
    h("dl", { class: "kv" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
}
