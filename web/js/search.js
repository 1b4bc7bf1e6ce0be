// Search over events or alerts: Lucene query, time range, histogram, top values, cursor paging.
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime, fmtNum } from "./i18n.js";
import { stackedBars, barList } from "./charts.js";
import { sevBadge, statusBadge } from "./alerts.js";

const RANGES = { "15m": 15 * 60, "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const TOP_FIELDS = { events: ["host.name", "user.name", "source.ip", "canhgac.source_id", "event.dataset"],
  alerts: ["rule.title", "host.name", "user.name", "severity", "agency"] };
const state = { target: "events", query: "", range: "24h", topField: "host.name" };

// A pivot's search: the query (and events or alerts) filled in, run at once.
export function searchFor(target, query) {
  state.target = target;
  state.query = query;
  state.topField = TOP_FIELDS[target][0];
  if (location.hash === "#/search") window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = "#/search";
}

export async function searchPage(view) {
  const mount = view.mount;
  const q = h("input", { type: "search", class: "grow", name: "q", value: state.query, placeholder: t("search.placeholder"),
    "aria-label": t("search.title") });
  q.style.flex = "1";
  const target = h("select", { name: "target", onchange: () => { state.target = target.value; state.topField = TOP_FIELDS[state.target][0]; run(); } },
    ["events", "alerts"].map((v) => h("option", { value: v, selected: state.target === v }, t(`search.${v}`))));
  const range = h("select", { name: "range", onchange: () => { state.range = range.value; run(); } },
    Object.keys(RANGES).map((r) => h("option", { value: r, selected: state.range === r }, t(`range.${r}`))));
  const hits = h("span", { class: "muted" });
  const chart = h("div", { id: "search-chart" });
  const top = h("div", { id: "search-top" });
  const topSel = h("select", { onchange: () => { state.topField = topSel.value; runTop(); } });
  const results = h("div", { class: "panel flush" });
  const more = h("button", { type: "button", hidden: true }, t("alerts.more"));
  let next = null;
  let runs = 0; // only the latest query's answers are shown: an earlier, slower one is dropped

  const window_ = () => { const end = new Date(); return { start: new Date(end - RANGES[state.range] * 1000).toISOString(), end: end.toISOString() }; };

  function eventRows(items) {
    return items.map((ev) => {
      const pre = h("pre", { class: "json", hidden: true }, JSON.stringify(ev, null, 2));
      return h("tr", { class: "clickable", onclick: () => { pre.hidden = !pre.hidden; } },
        h("td", { class: "nowrap" }, fmtTime(ev["@timestamp"])), h("td", {}, ev.host?.name || ev.host?.hostname || "—"),
        h("td", {}, ev.canhgac?.source_id || "—"), h("td", { class: "msg" }, ev.message || ev.log?.original || "", pre));
    });
  }
  function alertRows(items) {
    return items.map((a) => h("tr", { class: "clickable", onclick: () => { location.hash = `#/alerts/${encodeURIComponent(a.id)}`; } },
      h("td", { class: "nowrap" }, fmtTime(a.last_seen)), h("td", {}, sevBadge(a.severity)), h("td", { class: "title" }, a.rule?.title),
      h("td", {}, a.host?.name || "—"), h("td", {}, statusBadge(a.status))));
  }

  async function page(cursor) {
    const w = window_();
    const body = { query: state.query || "*", start: w.start, end: w.end, size: 50, cursor: cursor || undefined };
    return api(state.target === "events" ? "/api/v1/events/search" : "/api/v1/alerts/search", { method: "POST", body });
  }

  async function runTop() {
    topSel.replaceChildren(...TOP_FIELDS[state.target].map((f) => h("option", { value: f, selected: f === state.topField }, f)));
    const w = window_();
    const mine = runs;
    try {
      const data = await api(`/api/v1/${state.target}/top`, { method: "POST", body: { field: state.topField, query: state.query || "*", ...w, size: 10 } });
      if (mine !== runs) return;
      top.replaceChildren(data.values.length ? barList(data.values, { onClick: (v) => {
        state.query = `${state.topField}:"${String(v).replace(/(["\\])/g, "\\$1")}"` + (state.query && state.query !== "*" ? ` AND (${state.query})` : "");
        q.value = state.query; run();
      } }) : h("div", { class: "muted" }, t("dash.nodata")));
    } catch (ex) { if (mine === runs) top.replaceChildren(h("div", { class: "error" }, ex.message)); }
  }

  async function run() {
    state.query = q.value.trim();
    const w = window_();
    const mine = ++runs;
    try {
      const [data, histo] = await Promise.all([page(),
        api(`/api/v1/${state.target}/histogram`, { method: "POST", body: { query: state.query || "*", ...w } })]);
      if (mine !== runs) return;
      next = data.next;
      more.hidden = !next;
      hits.textContent = t("search.hits", { n: fmtNum(data.total) });
      chart.replaceChildren(stackedBars(histo.buckets, { height: 170, width: 800 }));
      const isEvents = state.target === "events";
      const head = isEvents ? ["time", "host", "source", "message"] : ["last_seen", "severity", "rule", "host", "status"];
      const tbody = h("tbody", {}, isEvents ? eventRows(data.items) : alertRows(data.items));
      results.replaceChildren(data.items.length ? h("table", { class: "results" }, h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, t(`col.${c}`))))), tbody)
        : h("div", { class: "empty" }, t("alerts.empty")));
      more.onclick = async () => {
        try { const d = await page(next); next = d.next; more.hidden = !next; tbody.append(...(isEvents ? eventRows(d.items) : alertRows(d.items))); } catch (ex) { toast(ex.message, true); }
      };
      runTop();
    } catch (ex) {
      if (mine !== runs) return;
      // Nothing of the previous query stays: its chart and top values would read as this one's.
      hits.textContent = "";
      chart.replaceChildren();
      top.replaceChildren();
      more.hidden = true;
      results.replaceChildren(h("div", { class: "empty error" }, ex.message));
    }
  }

  mount(h("div", {},
    h("div", { class: "pagehead" }, h("h1", {}, t("search.title")), hits),
    h("form", { class: "panel row", onsubmit: (e) => { e.preventDefault(); run(); } }, target, q, range,
      h("button", { type: "submit", class: "primary" }, t("act.search"))),
    h("div", { class: "grid2" }, h("div", { class: "panel" }, chart), h("div", { class: "panel" },
      h("div", { class: "row" }, h("h2", {}, t("search.top")), h("span", { class: "right" }, topSel)), top)),
    results, h("div", { class: "row" }, more)));
  q.focus();
  await run();
  return null;
}
