// Periodic reports on demand (issue 16, item 6) and the signed daily receipts (item 7).
// #/reports: pick a period (daily, weekly, monthly), a day inside it and, for SOC users, an agency
// (none: the province); the figures show here and the PDF downloads from the API. An agency user's
// report is always its own agency's (the API enforces it).
// #/receipts: the sealed receipts of the sources the user may see, each checked on demand against
// the records stored now.
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime, fmtNum, TIME_ZONE } from "./i18n.js";
import { session } from "./app.js";

const PERIODS = ["daily", "weekly", "monthly"];
const SEVERITIES = ["critical", "high", "medium", "low", "informational"];

function yesterday() {
  // The newest closed day in the SOC's zone, as YYYY-MM-DD.
  const d = new Date(Date.now() - 86400000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
}

function duration(secs) {
  if (secs === null || secs === undefined) return "—";
  const s = Math.round(secs);
  if (s < 60) return t("rep.secs", { n: s });
  const m = Math.floor(s / 60);
  const parts = [[Math.floor(m / 1440), "rep.days"], [Math.floor((m % 1440) / 60), "rep.hours"], [m % 60, "rep.mins"]];
  return parts.filter(([n]) => n).map(([n, k]) => t(k, { n })).join(" ");
}

function figuresPanel(f) {
  const table = (head, rows) => h("table", {}, h("thead", {}, h("tr", {}, head.map((k) => h("th", {}, t(k))))),
    h("tbody", {}, rows));
  return h("div", { class: "panel", id: "report-figures" },
    h("h2", {}, t("rep.total", { n: fmtNum(f.alerts_total) })),
    table(["rep.severity", "rep.count"], SEVERITIES.map((s) =>
      h("tr", { dataset: { severity: s } }, h("td", {}, t(`sev.${s}`)), h("td", { class: "num" }, fmtNum(f.by_severity[s]))))),
    h("h3", {}, t("rep.top_rules")),
    f.top_rules.length ? table(["col.rule", "rep.count"], f.top_rules.map((r) =>
      h("tr", {}, h("td", {}, r.title, h("div", { class: "mono small muted" }, r.id)), h("td", { class: "num" }, fmtNum(r.count)))))
      : h("div", { class: "muted" }, t("rep.none")),
    h("h3", {}, t("rep.times")),
    table(["", "rep.median", "rep.p90"], [
      h("tr", {}, h("td", {}, t("rep.to_ack")), h("td", {}, duration(f.ack_median_secs)), h("td", {}, duration(f.ack_p90_secs))),
      h("tr", {}, h("td", {}, t("rep.to_close")), h("td", {}, duration(f.close_median_secs)), h("td", {}, duration(f.close_p90_secs)))]),
    h("div", { class: "small muted" }, t("rep.silent_gaps", { s: f.silent_total, g: f.coverage_gaps_total })));
}

// #/reports
export async function reportsPage(view) {
  const own = session.me?.agency || null;
  const period = h("select", { id: "report-period", name: "period" },
    PERIODS.map((p) => h("option", { value: p, selected: p === "monthly" }, t(`rep.p.${p}`))));
  const day = h("input", { id: "report-day", name: "day", type: "date", value: yesterday(), required: true });
  const agency = own ? null : h("input", { id: "report-agency", name: "agency", placeholder: t("rep.agency_hint"), pattern: "[a-z0-9][a-z0-9._-]*" });
  const link = h("a", { class: "button primary", id: "report-download" }, t("rep.download"));
  const out = h("div", {});
  const query = () => {
    const q = new URLSearchParams({ period: period.value, day: day.value });
    const a = agency?.value.trim();
    if (a) q.set("agency", a);
    return q;
  };
  const refreshLink = () => {
    const q = query();
    link.href = `/api/v1/reports/report.pdf?${q}`;
    link.setAttribute("download", `bao-cao-${period.value}-${day.value}-${own || agency?.value.trim() || "toan-tinh"}.pdf`);
  };
  const show = async () => {
    refreshLink();
    try {
      const f = await api(`/api/v1/reports/figures?${query()}`);
      if (view.alive()) out.replaceChildren(figuresPanel(f));
    } catch (ex) { toast(ex.message, true); }
  };
  for (const el of [period, day, agency]) el?.addEventListener("change", refreshLink);
  refreshLink();
  view.mount(h("div", {},
    h("div", { class: "pagehead" }, h("h1", {}, t("rep.title"))),
    h("form", { class: "panel row", id: "report-form", onsubmit: (e) => { e.preventDefault(); show(); } },
      h("label", {}, t("rep.period"), " ", period),
      h("label", {}, t("rep.day"), " ", day),
      own ? h("span", {}, t("col.agency"), ": ", h("b", {}, own)) : h("label", {}, t("col.agency"), " ", agency),
      h("button", { type: "submit" }, t("rep.show")), link),
    h("div", { class: "small muted panel" }, t("rep.help")),
    out));
  await show();
}

async function check(receipt, cell) {
  try {
    const r = await api(`/api/v1/receipts/${encodeURIComponent(receipt.source_id)}/${receipt.day}`);
    cell.replaceChildren(h("span", { class: r.ok ? "badge ok" : "badge bad" }, r.ok ? t("rcpt.ok") : t("rcpt.broken")),
      ...r.problems.map((p) => h("div", { class: "small" }, p)));
  } catch (ex) { toast(ex.message, true); }
}

// #/receipts
export async function receiptsPage(view) {
  const { items } = await api("/api/v1/receipts", { query: { size: 200 } });
  const rows = items.map((r) => {
    const cell = h("td", { class: "verdict" });
    return h("tr", { dataset: { id: r.id } },
      h("td", { class: "nowrap" }, r.day), h("td", { class: "mono small" }, r.source_id), h("td", {}, r.agency),
      h("td", { class: "num" }, fmtNum(r.count)),
      h("td", { class: "nowrap small" }, fmtTime(r.first_ingested), " – ", fmtTime(r.last_ingested)),
      h("td", { class: "mono small", title: r.chain_head }, r.chain_head.slice(0, 16), "…"),
      h("td", {}, h("button", { type: "button", class: "check", onclick: () => check(r, cell) }, t("rcpt.check"))), cell);
  });
  view.mount(h("div", {},
    h("div", { class: "pagehead" }, h("h1", {}, t("rcpt.title"))),
    h("div", { class: "small muted panel" }, t("rcpt.help")),
    h("div", { class: "panel flush" }, items.length ? h("table", { id: "receipt-table" },
      h("thead", {}, h("tr", {}, ["rcpt.day", "rcpt.source", "col.agency", "rcpt.count", "rcpt.span", "rcpt.head", "", ""].map((k) => h("th", {}, k ? t(k) : "")))),
      h("tbody", {}, rows)) : h("div", { class: "empty" }, t("rcpt.none")))));
}
