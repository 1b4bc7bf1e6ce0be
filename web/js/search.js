// Search over events or alerts: Lucene query, time range, histogram, top values, cursor paging.
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime, fmtNum } from "./i18n.js";
import { stackedBars, barList } from "./charts.js";
import { sevBadge, statusBadge } from "./alerts.js";
import { eventRow, withClause, flatten } from "./eventview.js";
import { readHash, writeHash, enableZoom, savedSearches, stateOf, exportButtons, copyLinkButton, zonedToDate, dateToZoned } from "./searchtools.js";

const RANGES = { "15m": 15 * 60, "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const TOP_FIELDS = { events: ["host.name", "user.name", "source.ip", "canhgac.source_id", "event.dataset"],
  alerts: ["rule.title", "host.name", "user.name", "severity", "agency"] };
// range: a key of RANGES, or "abs" with from/to (ISO, UTC) picked in the viewer's zone.
const state = { target: "events", query: "", range: "24h", from: null, to: null, topField: "host.name" };

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
  const linked = readHash(); // a shared link (or a reload): its search, run at once
  if (linked) { Object.assign(state, linked); if (!RANGES[state.range] && state.range !== "abs") state.range = "24h"; }
  const q = h("input", { type: "search", class: "grow", name: "q", value: state.query, placeholder: t("search.placeholder"),
    "aria-label": t("search.title") });
  q.style.flex = "1";
  const target = h("select", { name: "target", onchange: () => { state.target = target.value; state.topField = TOP_FIELDS[state.target][0]; run(); } },
    ["events", "alerts"].map((v) => h("option", { value: v, selected: state.target === v }, t(`search.${v}`))));
  const range = h("select", { name: "range", onchange: () => {
    if (range.value === "abs") { const w = window_(); state.from = w.start; state.to = w.end; }
    state.range = range.value; showAbs(); if (state.range !== "abs") run();
  } }, [...Object.keys(RANGES), "abs"].map((r) => h("option", { value: r, selected: state.range === r }, t(`range.${r}`))));
  // Absolute range: wall time in the viewer's zone (Asia/Ho_Chi_Minh), sent as UTC.
  const fromIn = h("input", { type: "datetime-local", name: "from", "aria-label": t("range.from") });
  const toIn = h("input", { type: "datetime-local", name: "to", "aria-label": t("range.to") });
  const absBox = h("span", { class: "row range-abs", hidden: true }, h("span", { class: "small muted" }, t("range.from")), fromIn,
    h("span", { class: "small muted" }, t("range.to")), toIn, h("span", { class: "small muted" }, t("tz.short")));
  const readAbs = () => {
    const a = zonedToDate(fromIn.value);
    const b = zonedToDate(toIn.value);
    if (a && b) { state.from = a.toISOString(); state.to = b.toISOString(); }
  };
  fromIn.addEventListener("change", readAbs);
  toIn.addEventListener("change", readAbs);
  function showAbs() {
    absBox.hidden = state.range !== "abs";
    range.value = state.range;
    if (state.range === "abs") { fromIn.value = dateToZoned(state.from); toIn.value = dateToZoned(state.to); }
  }
  const hits = h("span", { class: "muted" });
  const chart = h("div", { id: "search-chart" });
  const top = h("div", { id: "search-top" });
  // Field browser: top values of any field (typed, or picked from the fields of the results).
  const fieldList = h("datalist", { id: "search-fields" });
  const topSel = h("input", { name: "top-field", class: "field-pick", list: "search-fields", value: state.topField,
    "aria-label": t("search.field"), onchange: () => { state.topField = topSel.value.trim() || TOP_FIELDS[state.target][0]; runTop(); } });
  const known = new Set();
  const learnFields = (items) => {
    if (state.target === "events") for (const ev of items.slice(0, 50)) for (const [f] of flatten(ev)) known.add(f);
    const names = [...new Set([...TOP_FIELDS[state.target], ...[...known].sort()])].slice(0, 400);
    fieldList.replaceChildren(...names.map((f) => h("option", { value: f })));
  };
  const results = h("div", { class: "panel flush" });
  const more = h("button", { type: "button", hidden: true }, t("alerts.more"));
  let next = null;
  let runs = 0, topRuns = 0; // only the latest query's answers are shown: an earlier, slower one is dropped

  const window_ = () => {
    if (state.range === "abs" && state.from && state.to) return { start: state.from, end: state.to };
    const end = new Date();
    return { start: new Date(end - (RANGES[state.range] || RANGES["24h"]) * 1000).toISOString(), end: end.toISOString() };
  };
  const filterBy = (field, value, negate) => { q.value = withClause(q.value, field, value, negate); run(); };

  function eventRows(items) {
    return items.map((ev) => eventRow([
      h("td", { class: "nowrap" }, fmtTime(ev["@timestamp"])), h("td", {}, ev.host?.name || ev.host?.hostname || "—"),
      h("td", {}, ev.canhgac?.source_id || "—"), h("td", { class: "msg" }, ev.message || ev.log?.original || "")], ev, 4, { onFilter: filterBy }));
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
    topSel.value = state.topField;
    const w = window_();
    // Its own sequence too: a search's top values (the default field) answered after the analyst
    // picked another field must not replace that field's values.
    const mine = runs, mineTop = ++topRuns;
    try {
      const data = await api(`/api/v1/${state.target}/top`, { method: "POST", body: { field: state.topField, query: state.query || "*", ...w, size: 10 } });
      if (mine !== runs || mineTop !== topRuns) return;
      top.replaceChildren(data.values.length ? barList(data.values, { onClick: (v) => {
        state.query = `${state.topField}:"${String(v).replace(/(["\\])/g, "\\$1")}"` + (state.query && state.query !== "*" ? ` AND (${state.query})` : "");
        q.value = state.query; run();
      } }) : h("div", { class: "muted" }, t("dash.nodata")));
    } catch (ex) { if (mine === runs && mineTop === topRuns) top.replaceChildren(h("div", { class: "error" }, ex.message)); }
  }

  async function run() {
    state.query = q.value.trim();
    if (state.range === "abs") readAbs();
    writeHash(state);
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
      enableZoom(chart, histo.buckets, histo.interval_secs, (a, b) => {
        state.range = "abs"; state.from = a.toISOString(); state.to = b.toISOString(); showAbs(); run();
      });
      learnFields(data.items);
      exportBox.hidden = state.target !== "events";
      const isEvents = state.target === "events";
      const head = isEvents ? ["time", "host", "source", "message"] : ["last_seen", "severity", "rule", "host", "status"];
      const tbody = h("tbody", {}, isEvents ? eventRows(data.items) : alertRows(data.items));
      // A new analyst learns from the page itself: what a row click gives, and why nothing matched.
      results.replaceChildren(...(data.items.length ? [h("table", { class: "results" }, h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, t(`col.${c}`))))), tbody),
        h("div", { class: "small muted row-hint" }, t(isEvents ? "search.row_hint" : "search.row_hint_alerts"))]
        : [h("div", { class: "empty" }, t("search.empty"))]));
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

  const exportBox = exportButtons(() => ({ query: state.query || "*", ...window_() }));
  const savedBox = savedSearches({ current: () => ({ ...state, query: q.value.trim() }), apply: (saved) => {
    Object.assign(state, stateOf(saved));
    target.value = state.target;
    q.value = state.query;
    state.topField = TOP_FIELDS[state.target][0];
    showAbs();
    run();
  } });

  mount(h("div", {},
    h("div", { class: "pagehead" }, h("h1", {}, t("search.title")), hits),
    h("form", { class: "panel row", onsubmit: (e) => { e.preventDefault(); run(); } }, target, q, range, absBox,
      h("button", { type: "submit", class: "primary" }, t("act.search"))),
    h("div", { class: "panel row search-tools" }, savedBox, h("span", { class: "right row" }, exportBox, copyLinkButton())),
    h("div", { class: "grid2" }, h("div", { class: "panel" }, chart), h("div", { class: "panel" },
      h("div", { class: "row" }, h("h2", {}, t("search.top")), h("span", { class: "right" }, topSel, fieldList)), top)),
    results, h("div", { class: "row" }, more)));
  showAbs();
  q.focus();
  await run();
  return null;
}
