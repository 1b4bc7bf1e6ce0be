// Dashboard: alerts by severity over time, status counts, top rules and hosts, ingestion per source.
import { api } from "./api.js";
import { h } from "./dom.js";
import { t, fmtNum } from "./i18n.js";
import { stackedBars, legend, barList, colorOf } from "./charts.js";
import { severitiesHighFirst, vocab } from "./vocab.js";

export async function dashboardPage(view) {
  const mount = view.mount;
  let data;
  try { data = await api("/api/v1/dashboard"); } catch (ex) { mount(h("div", { class: "panel error" }, ex.message)); return null; }
  const statusCounts = Object.fromEntries(data.alerts_by_status.values.map((v) => [v.value, v.count]));
  const sources = [...new Set(data.ingestion_by_source.buckets.flatMap((b) => Object.keys(b.split || {})))].sort();
  const sourceColor = colorOf(sources);
  const nodata = () => h("div", { class: "muted" }, t("dash.nodata"));
  const severities = severitiesHighFirst();
  mount(h("div", {},
    h("div", { class: "pagehead" }, h("h1", {}, t("dash.title")), h("span", { class: "muted" }, `24h · ${t("tz")}`)),
    h("div", { class: "stats" }, vocab.statuses.map((st) =>
      h("a", { class: "panel stat", href: "#/alerts" }, h("span", { class: `badge st-${st}` }, t(`status.${st}`)), h("b", {}, fmtNum(statusCounts[st] || 0))))),
    h("div", { class: "grid-dash" },
      h("div", { class: "panel wide" }, h("h2", {}, t("dash.by_severity")),
        data.alerts_by_severity.total ? [stackedBars(data.alerts_by_severity.buckets, { keys: severities, classFor: (k) => `fill-${k}` }),
          legend(severities, { classFor: (k) => `fill-${k}`, label: (k) => t(`sev.${k}`) })] : nodata()),
      h("div", { class: "panel" }, h("h2", {}, t("dash.top_rules")), data.top_rules.values.length ? barList(data.top_rules.values) : nodata()),
      h("div", { class: "panel" }, h("h2", {}, t("dash.top_hosts")), data.top_hosts.values.length ? barList(data.top_hosts.values) : nodata()),
      h("div", { class: "panel wide" }, h("h2", {}, t("dash.ingestion")),
        data.ingestion_by_source.total ? [stackedBars(data.ingestion_by_source.buckets, { keys: sources, colorFor: sourceColor }),
          legend(sources, { colorFor: sourceColor })] : nodata()))));
  return null;
}
