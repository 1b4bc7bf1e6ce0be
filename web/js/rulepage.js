// One rule's page (issue 14 item 8): its YAML, ATT&CK techniques (from its tags), alerts and the
// false-positive rate over time (analysts' resolutions), a test on pasted events, enable/disable
// and a backtest over stored events.
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtNum } from "./i18n.js";
import { session } from "./app.js";
import { filterQueue, sevBadge } from "./alerts.js";
import { backtestPanel } from "./admin.js";
import { legend, stackedBars } from "./charts.js";

const DAY_SECS = 86400;
const WINDOWS_DAYS = [7, 30, 90];

// `attack.t1059.001` -> T1059.001 (a technique, linked); `attack.credential_access` -> a tactic.
export function attackOf(tags) {
  const techniques = [];
  const tactics = [];
  for (const tag of tags || []) {
    const m = /^attack\.(t\d{4}(?:\.\d{3})?)$/i.exec(tag);
    if (m) techniques.push(m[1].toUpperCase());
    else if (/^attack\.[a-z_-]+$/i.test(tag) && !/^attack\.[gs]\d{4}$/i.test(tag)) tactics.push(tag.slice(7).replace(/[_-]/g, " "));
  }
  return { techniques, tactics };
}

const techniqueUrl = (id) => `https://attack.mitre.org/techniques/${id.replace(".", "/")}/`;

// Pasted events: one JSON object, a JSON array, or one object per line (NDJSON).
function parseEvents(text) {
  const trimmed = text.trim();
  if (!trimmed) return [];
  try {
    const value = JSON.parse(trimmed);
    return Array.isArray(value) ? value : [value];
  } catch {
    return trimmed.split(/\n+/).filter((l) => l.trim()).map((l) => JSON.parse(l));
  }
}

function statsPanel(ruleId) {
  const body = h("div", {}, h("span", { class: "muted" }, "…"));
  let days = 30;
  const pick = h("select", { name: "window", "aria-label": t("rule.window"), onchange: () => { days = Number(pick.value); show(); } },
    WINDOWS_DAYS.map((d) => h("option", { value: d, selected: d === days }, t("rule.days", { n: d }))));
  async function show() {
    const end = new Date();
    const start = new Date(end.getTime() - days * DAY_SECS * 1000);
    let stats;
    try {
      stats = await api(`/api/v1/rules/${encodeURIComponent(ruleId)}/stats`,
        { query: { start: start.toISOString(), end: end.toISOString(), interval_secs: DAY_SECS } });
    } catch (ex) { body.replaceChildren(h("div", { class: "error", role: "alert" }, ex.message)); return; }
    const rate = (fp, closed) => (closed ? `${Math.round((fp / closed) * 100)} %` : "—");
    const hits = stats.buckets.map((b) => ({ t: b.start, count: b.alerts,
      split: { false_positive: b.false_positive, other: b.alerts - b.false_positive } }));
    const rates = stats.buckets.map((b) => ({ t: b.start, count: b.closed ? Math.round((b.false_positive / b.closed) * 100) : 0 }));
    const colors = { false_positive: "#cf222e", other: "#1f6feb" };
    body.replaceChildren(
      h("div", { class: "rule-summary" }, t("rule.summary", { n: fmtNum(stats.alerts), closed: fmtNum(stats.closed),
        fp: fmtNum(stats.false_positive), rate: rate(stats.false_positive, stats.closed) })),
      h("h3", {}, t("rule.hits_over_time")),
      h("div", { class: "rule-hits" }, stackedBars(hits, { keys: ["other", "false_positive"], colorFor: (k) => colors[k], height: 160 })),
      legend(["other", "false_positive"], { colorFor: (k) => colors[k], label: (k) => t(`rule.k.${k}`) }),
      h("h3", {}, t("rule.fp_over_time")),
      h("div", { class: "rule-fp" }, stackedBars(rates, { colorFor: () => colors.false_positive, height: 120 })),
      h("div", { class: "small muted" }, t("rule.fp_help")));
  }
  show();
  return h("div", { class: "panel", id: "rule-stats" }, h("div", { class: "row" }, h("h2", {}, t("rule.stats")), h("span", { class: "right" }, pick)), body);
}

function testPanel(rule) {
  const events = h("textarea", { name: "events", rows: 6, class: "mono", placeholder: t("rule.test_placeholder") });
  const out = h("div", { class: "test-result", role: "status" });
  const run = async () => {
    let parsed;
    try { parsed = parseEvents(events.value); } catch { out.replaceChildren(h("div", { class: "error" }, t("rule.test_bad_json"))); return; }
    if (!parsed.length) { out.replaceChildren(h("div", { class: "error" }, t("rule.test_empty"))); return; }
    try {
      const r = await api("/api/v1/rules/test", { method: "POST", body: { yaml: rule.yaml, events: parsed } });
      out.replaceChildren(h("ul", { class: "plain" }, r.results.map((x) => {
        const hit = x.matched.includes(rule.id);
        return h("li", { class: hit ? "match" : "nomatch", dataset: { index: x.index } },
          h("span", { class: `badge ${hit ? "st-new" : "st-closed"}` }, hit ? t("rule.matched") : t("rule.not_matched")), " ",
          t("rule.event_n", { n: x.index + 1 }));
      })));
    } catch (ex) { out.replaceChildren(h("div", { class: "error" }, ex.message)); }
  };
  return h("div", { class: "panel", id: "rule-test" }, h("h2", {}, t("rule.test")), h("div", { class: "small muted" }, t("rule.test_help")),
    events, h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: run }, t("rule.test_run"))), out);
}

export async function rulePage(id, view) {
  const rule = await api(`/api/v1/rules/${encodeURIComponent(id)}`);
  const manage = session.me?.permissions.includes("manage_rules");
  const tune = session.me?.permissions.includes("tune");
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const toggle = async () => {
    try { await api(`/api/v1/rules/${encodeURIComponent(id)}/${rule.enabled ? "disable" : "enable"}`, { method: "POST" }); toast(t("saved")); reload(); }
    catch (ex) { toast(ex.message, true); }
  };
  const { techniques, tactics } = attackOf(rule.tags);
  const backtest = backtestPanel();
  view.mount(h("div", { class: "rule-page" },
    h("div", { class: "small" }, h("a", { href: "#/rules" }, "← " + t("nav.rules"))),
    h("div", { class: "pagehead" }, rule.level ? sevBadge(rule.level) : null, h("h1", {}, rule.title || rule.id),
      h("span", { class: `badge rule-state ${rule.enabled ? "st-closed" : "st-new"}` }, rule.enabled ? t("rules.on") : t("rules.off")),
      h("div", { class: "row right" },
        manage ? h("button", { type: "button", id: "rule-toggle", onclick: toggle }, rule.enabled ? t("rule.disable") : t("rule.enable")) : null,
        rule.kind === "detection" ? h("button", { type: "button", class: "ghost", onclick: () => backtest.run(rule) }, t("rules.backtest")) : null,
        h("button", { type: "button", class: "ghost", onclick: () => filterQueue({ rule_id: rule.id }) }, t("rule.alerts")))),
    rule.description ? h("p", { class: "muted" }, rule.description) : null,
    backtest,
    h("div", { class: "grid2" },
      h("div", {},
        h("div", { class: "panel", id: "rule-attack" }, h("h2", {}, t("rule.attack")),
          techniques.length ? h("ul", { class: "plain techniques" }, techniques.map((tid) => h("li", {},
            h("a", { href: techniqueUrl(tid), target: "_blank", rel: "noopener noreferrer", class: "mono" }, tid))))
            : h("div", { class: "muted" }, t("rule.no_techniques")),
          tactics.length ? h("div", { class: "small muted" }, `${t("rule.tactics")}: ${tactics.join(", ")}`) : null),
        statsPanel(id),
        tune ? testPanel(rule) : null),
      h("div", {},
        h("div", { class: "panel flush" }, h("div", { class: "filters" }, h("h2", {}, "YAML"),
          h("span", { class: "small muted right mono" }, rule.path || "")),
        h("pre", { class: "yaml mono", id: "rule-yaml" }, rule.yaml))))));
  return null;
}
