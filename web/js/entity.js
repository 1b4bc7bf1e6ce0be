// An entity page (host, user, IP): its alerts, its events over time, first and last seen, the
// agencies, sources and datasets it appears in. Every value on it is a pivot again.
import { api } from "./api.js";
import { h } from "./dom.js";
import { t, fmtTime, fmtNum } from "./i18n.js";
import { stackedBars, barList } from "./charts.js";
import { sevBadge, statusBadge } from "./alerts.js";
import { pivot, quoted } from "./pivot.js";
import { searchFor } from "./search.js";

const DAYS = 7;

export async function entityPage(kind, value, view) {
  const data = await api(`/api/v1/entities/${encodeURIComponent(kind)}/${encodeURIComponent(value)}`, { query: { days: DAYS } });
  const ev = data.events;
  const query = data.event_fields.map((f) => `${f}:${quoted(data.value)}`).join(" OR ");
  const kv = (pairs) => h("dl", { class: "kv" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  const list = (values, pivotKind) => (values.length
    ? h("ul", { class: "plain" }, values.map((v) => h("li", {}, pivotKind ? pivot(pivotKind, v.value) : String(v.value), " ",
      h("span", { class: "muted small" }, `(${fmtNum(v.count)})`))))
    : h("span", { class: "muted" }, "—"));
  const alertRows = data.alerts.items.map((a) => h("tr", { class: "clickable", dataset: { id: a.id },
    onclick: () => { location.hash = `#/alerts/${encodeURIComponent(a.id)}`; } },
  h("td", { class: "nowrap" }, fmtTime(a.last_seen)), h("td", {}, sevBadge(a.severity)), h("td", { class: "title" }, a.rule?.title || a.rule?.id),
  h("td", {}, pivot("agency", a.agency)), h("td", { class: "num" }, fmtNum(a.count)), h("td", {}, statusBadge(a.status))));
  view.mount(h("div", { class: "entity" },
    h("div", { class: "pagehead" }, h("span", { class: "badge" }, t(`pivot.kind.${kind}`)), h("h1", {}, data.value),
      h("div", { class: "row right" },
        h("button", { type: "button", id: "entity-search", onclick: () => searchFor("events", query) }, t("pivot.search_events")))),
    h("div", { class: "grid2" },
      h("div", {},
        h("div", { class: "panel" }, h("h2", {}, t("entity.events", { d: DAYS }), " ", h("span", { class: "muted" }, `(${fmtNum(ev.total)})`)),
          ev.total ? stackedBars(ev.buckets, { height: 160, width: 800 }) : h("div", { class: "muted" }, t("dash.nodata"))),
        h("div", { class: "panel flush" }, h("div", { class: "filters" }, h("h2", {}, t("entity.alerts"), " ",
          h("span", { class: "muted" }, `(${fmtNum(data.alerts.total)})`))),
        alertRows.length ? h("table", { id: "entity-alerts" }, h("thead", {}, h("tr", {}, ["last_seen", "severity", "rule", "agency", "count", "status"]
          .map((c) => h("th", {}, t(`col.${c}`))))), h("tbody", {}, alertRows)) : h("div", { class: "empty" }, t("alerts.empty")))),
      h("div", {},
        h("div", { class: "panel", id: "entity-summary" }, h("h2", {}, t("alert.details")), kv([
          [t("alert.first_seen"), fmtTime(ev.first_seen)], [t("alert.last_seen"), fmtTime(ev.last_seen)],
          [t("entity.agencies"), list(ev.agencies, "agency")], [t("entity.sources"), list(ev.sources)],
          [t("entity.datasets"), list(ev.datasets)], [t("entity.fields"), h("span", { class: "mono small" }, data.event_fields.join(", "))]])),
        h("div", { class: "panel" }, h("h2", {}, t("entity.by_source")), ev.sources.length ? barList(ev.sources) : h("div", { class: "muted" }, t("dash.nodata")))))));
  return null;
}
