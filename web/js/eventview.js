// One event, opened from Search or from an alert: its fields (ECS names) with filter for / filter
// out / copy, the raw line, the fields that made the alert's rule fire (highlighted), the
// enrichment (geo, AS), and the surrounding events of the same host or source (±N minutes).
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime, fmtNum } from "./i18n.js";
import { canWork, pinEvent } from "./cases.js";
import { icon } from "./icons.js";

export const AROUND_MINUTES = [1, 5, 15];
const AROUND_SIZE = 500;
const ENRICHMENT = /\.(geo|as)\./;

// `field:"value"` (or `NOT field:"value"`) for the Lucene search box.
export function clause(field, value, negate = false) {
  return `${negate ? "NOT " : ""}${field}:"${String(value).replace(/(["\\])/g, "\\$1")}"`;
}

// Add a clause to a query: AND-ed onto what is there (a lone `*` is nothing).
export function withClause(query, field, value, negate = false) {
  const q = (query || "").trim();
  const c = clause(field, value, negate);
  return q && q !== "*" ? `${q} AND ${c}` : c;
}

// [dotted name, scalar value] pairs; arrays give one pair per item, objects are walked.
export function flatten(value, prefix = "", out = []) {
  if (Array.isArray(value)) {
    for (const item of value) flatten(item, prefix, out);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix && value !== null && value !== undefined && value !== "") {
    out.push([prefix, value]);
  }
  return out;
}

function fieldOrder(a, b) {
  if (a[0] === "@timestamp") return -1;
  if (b[0] === "@timestamp") return 1;
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = h("textarea", { class: "offscreen" }, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  toast(t("ev.copied"));
}

function rawLine(ev) {
  return ev.event?.original || ev.log?.original || ev.message || "";
}

function fieldTable(ev, matched, onFilter, conditions = {}) {
  const hot = new Set(matched || []);
  const rows = flatten(ev).sort(fieldOrder).map(([field, value]) => {
    const text = String(value);
    const isHot = hot.has(field);
    return h("tr", { class: [isHot ? "matched" : "", ENRICHMENT.test(field) ? "enrich" : ""].join(" ").trim() || null,
      dataset: { field } },
    h("td", { class: "fname" }, h("code", {}, field), isHot ? h("span", { class: "badge hot", title: t("ev.matched_hint") }, t("ev.matched")) : null,
      // The condition of the rule that held on this field, in the rule's words (the detector's matched_conditions).
      isHot && conditions[field] ? h("code", { class: "cond", title: t("ev.cond_hint") }, conditions[field]) : null),
    h("td", { class: "fval" }, text),
    h("td", { class: "nowrap factions" },
      onFilter ? h("button", { type: "button", class: "icon", title: t("ev.filter_for"), "aria-label": `${t("ev.filter_for")}: ${field}`,
        dataset: { act: "for" }, onclick: (e) => { e.stopPropagation(); onFilter(field, value, false); } }, "+") : null,
      onFilter ? h("button", { type: "button", class: "icon", title: t("ev.filter_out"), "aria-label": `${t("ev.filter_out")}: ${field}`,
        dataset: { act: "out" }, onclick: (e) => { e.stopPropagation(); onFilter(field, value, true); } }, "−") : null,
      h("button", { type: "button", class: "icon", title: t("ev.copy"), "aria-label": `${t("ev.copy")}: ${field}`,
        dataset: { act: "copy" }, onclick: (e) => { e.stopPropagation(); copyText(text); } }, icon("copy"))));
  });
  return h("table", { class: "fields" }, h("thead", {}, h("tr", {}, h("th", {}, t("ev.field")), h("th", {}, t("ev.value")), h("th", {}))),
    h("tbody", {}, rows));
}

function enrichment(ev) {
  const parts = [];
  for (const side of ["source", "destination", "client"]) {
    const s = ev[side];
    if (!s || (!s.geo && !s.as)) continue;
    const geo = [s.geo?.city_name, s.geo?.country_name || s.geo?.country_iso_code].filter(Boolean).join(", ");
    const as = s.as ? [s.as.number ? `AS${s.as.number}` : "", s.as.organization?.name].filter(Boolean).join(" ") : "";
    parts.push(`${side}.ip ${s.ip || ""}: ${[geo, as].filter(Boolean).join(" · ")}`);
  }
  return parts.length ? h("div", { class: "small enrich-line" }, h("b", {}, t("ev.enrichment")), " ", parts.join(" — ")) : null;
}

// Same host (or source), ±minutes around the event, oldest first, the event itself marked.
async function surrounding(ev, by, minutes) {
  const host = ev.host?.name || ev.host?.hostname;
  const field = by === "host" ? (ev.host?.name ? "host.name" : "host.hostname") : "canhgac.source_id";
  const value = by === "host" ? host : ev.canhgac?.source_id;
  if (!value) return { field, value, items: [], total: 0 };
  const at = new Date(ev["@timestamp"]).getTime();
  const body = { query: clause(field, value), start: new Date(at - minutes * 60000).toISOString(),
    end: new Date(at + minutes * 60000).toISOString(), size: AROUND_SIZE };
  const data = await api("/api/v1/events/search", { method: "POST", body });
  return { field, value, items: data.items.slice().reverse(), total: data.total };
}

function isSame(a, b) {
  if (a.event?.id && b.event?.id) return a.event.id === b.event.id;
  return a["@timestamp"] === b["@timestamp"] && rawLine(a) === rawLine(b);
}

function aroundPanel(ev) {
  const out = h("div", { class: "around" });
  const by = h("select", { name: "around-by", "aria-label": t("ev.around_by") },
    h("option", { value: "host", disabled: !(ev.host?.name || ev.host?.hostname) }, t("ev.same_host")),
    h("option", { value: "source", disabled: !ev.canhgac?.source_id }, t("ev.same_source")));
  if (!(ev.host?.name || ev.host?.hostname)) by.value = "source";
  const minutes = h("select", { name: "around-minutes", "aria-label": t("ev.around_minutes") },
    AROUND_MINUTES.map((m) => h("option", { value: m, selected: m === 5 }, t("ev.minutes", { n: m }))));
  const show = async () => {
    out.replaceChildren(h("div", { class: "muted small" }, "…"));
    try {
      const { field, value, items, total } = await surrounding(ev, by.value, Number(minutes.value));
      const rows = items.map((other) => {
        const me = isSame(other, ev);
        return h("tr", { class: me ? "current" : null, "aria-current": me ? "true" : null },
          h("td", { class: "nowrap" }, fmtTime(other["@timestamp"])), h("td", {}, other.host?.name || other.host?.hostname || "—"),
          h("td", { class: "msg" }, me ? h("b", { class: "here" }, `▶ ${t("ev.this_event")} `) : null, rawLine(other)));
      });
      out.replaceChildren(
        h("div", { class: "small muted" }, t("ev.around_head", { n: minutes.value, field, value }),
          total > items.length ? ` ${t("ev.around_capped", { shown: fmtNum(items.length), total: fmtNum(total) })}` : ""),
        items.length ? h("table", { class: "around-list" }, h("tbody", {}, rows)) : h("div", { class: "empty" }, t("alerts.empty")));
      out.querySelector("tr.current")?.scrollIntoView({ block: "nearest" });
    } catch (ex) { out.replaceChildren(h("div", { class: "error" }, ex.message)); }
  };
  const bar = h("div", { class: "row small" }, h("b", {}, t("ev.around")), by, minutes,
    h("button", { type: "button", class: "around-go", onclick: (e) => { e.stopPropagation(); show(); } }, t("ev.around_show")));
  bar.addEventListener("click", (e) => e.stopPropagation());
  return h("div", {}, bar, out);
}

// The detail block of one event. `matched`: the fields the alert's rule fired on; `conditions`:
// [{field, condition}] the rule's condition that held on each; `onFilter(field, value, negate)`:
// what filter for / out do (absent: no filter buttons).
export function eventDetail(ev, { matched = [], conditions = [], onFilter = null } = {}) {
  const raw = rawLine(ev);
  const hot = (matched || []).filter((f) => flatten(ev).some(([name]) => name === f));
  const cond = Object.fromEntries((conditions || []).map((c) => [c.field, c.condition]));
  return h("div", { class: "event-detail", onclick: (e) => e.stopPropagation() },
    hot.length ? h("div", { class: "small matched-line" }, t("ev.matched_fields"), " ",
      // the field, and the rule's condition that held on it unless the condition names the field itself
      hot.map((f) => h("code", { class: "hot", title: cond[f] || t("ev.matched_hint") },
        !cond[f] ? f : cond[f].startsWith(f) ? cond[f] : `${f} — ${cond[f]}`))) : null,
    enrichment(ev),
    h("div", { class: "row small" }, h("b", {}, t("ev.raw")),
      h("button", { type: "button", class: "icon right", title: t("ev.copy"), "aria-label": t("ev.copy"), onclick: () => copyText(raw) }, icon("copy")),
      // Pin to a case from anywhere an event is shown (Search, an alert's events): a dialog picks the case.
      canWork() && ev?.event?.id ? h("button", { type: "button", class: "pin-event", title: t("case.pin_title"),
        onclick: async () => { try { await pinEvent(ev); } catch (ex) { toast(ex.message, true); } } }, t("case.pin")) : null),
    h("pre", { class: "raw" }, raw),
    fieldTable(ev, matched, onFilter, cond),
    aroundPanel(ev),
    h("div", { class: "small" }, h("b", {}, "JSON")), h("pre", { class: "json" }, JSON.stringify(ev, null, 2)));
}

// A table row for an event and, on click, its detail in the row below (colspan `cols`).
export function eventRow(cells, ev, cols, opts) {
  let detail = null;
  const row = h("tr", { class: "clickable", "aria-expanded": "false" }, cells);
  row.addEventListener("click", () => {
    if (detail) {
      detail.remove();
      detail = null;
      row.setAttribute("aria-expanded", "false");
      return;
    }
    detail = h("tr", { class: "detail-row" }, h("td", { colspan: cols }, eventDetail(ev, opts)));
    row.after(detail);
    row.setAttribute("aria-expanded", "true");
  });
  return row;
}
