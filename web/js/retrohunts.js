// Retro-hunt jobs (docs/threat-intel.md): what started each hunt (indicators or a rule), its state
// and progress, when it started and finished, and what it found; a job not finished can be
// cancelled, and how many of its alerts still wait to be published. Through /api/v1/retro-hunts;
// times shown in Vietnam time. The page refreshes itself every few seconds while a job is queued
// or running.
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime, fmtNum } from "./i18n.js";
import { session } from "./app.js";

const ACTIVE = new Set(["queued", "running"]);
const REFRESH_MS = 3000;

const canTune = () => session.me?.permissions.includes("tune");

// "feed:<id>" and the fixed triggers (indicator.add, rule.upload …) in the viewer's language.
function triggerText(job) {
  const trig = job.trigger || "";
  const what = trig.startsWith("feed:") ? t("hunt.trig.feed", { feed: trig.slice(5) }) : t(`hunt.trig.${trig}`);
  const target = job.kind === "rule" ? t("hunt.target_rule", { rule: job.rule_id || "?" })
    : t("hunt.target_iocs", { n: fmtNum(job.indicator_count ?? 0) });
  return [h("div", {}, target), h("div", { class: "small muted" }, what, job.created_by && job.created_by !== trig ? ` · ${job.created_by}` : "")];
}

function progressCell(job) {
  const p = job.progress || {};
  const pct = Math.max(0, Math.min(100, Number(p.percent) || 0));
  return [h("progress", { max: 100, value: pct, "aria-label": t("hunt.progress") }),
    h("span", { class: "small" }, ` ${pct.toFixed(0)} %`),
    p.segments ? h("div", { class: "small muted" }, t("hunt.segment", { n: p.segment, of: p.segments })) : null,
    h("div", { class: "small muted" }, t("hunt.scanned", { n: fmtNum(job.events_scanned ?? 0) }))];
}

function stateBadge(job) {
  const cls = { running: "st-in_progress", queued: "st-new", done: "st-closed", cancelled: "", failed: "st-new" }[job.state] ?? "";
  return [h("span", { class: `badge hunt-state ${cls}` }, t(`hunt.st.${job.state}`)),
    job.cancel_requested && ACTIVE.has(job.state) ? h("div", { class: "small muted" }, t("hunt.cancel_requested")) : null,
    job.truncated ? h("div", { class: "small muted" }, t("hunt.truncated", { bound: job.truncated })) : null,
    job.error ? h("div", { class: "small error" }, job.error) : null];
}

// Alerts the job raised that Kafka has not acknowledged yet (published again until none is left).
function unpublishedNote(job) {
  const n = job.unpublished_count ?? (job.unpublished || []).length;
  return n ? h("div", { class: "small error hunt-unpublished", title: t("hunt.unpublished_help") }, t("hunt.unpublished", { n: fmtNum(n) })) : null;
}

export async function retroHuntsPage(view) {
  let timer = null;
  let stopped = false;
  const tune = canTune();

  async function cancel(job) {
    if (!window.confirm(t("hunt.confirm_cancel"))) return;
    try {
      await api(`/api/v1/retro-hunts/${encodeURIComponent(job.id)}/cancel`, { method: "POST", body: {} });
      toast(t("hunt.cancelled_toast"));
    } catch (ex) { toast(ex.message, true); }
    await render();
  }

  async function render() {
    if (timer) { clearTimeout(timer); timer = null; }
    let jobs;
    try { jobs = (await api("/api/v1/retro-hunts", { query: { size: 100 } })).items || []; }
    catch (ex) { if (!stopped) toast(ex.message, true); return; }
    if (stopped || !view.alive()) return;
    const rows = jobs.map((job) => h("tr", { dataset: { job: job.id, state: job.state } },
      h("td", {}, triggerText(job)),
      h("td", {}, stateBadge(job)),
      h("td", { class: "nowrap" }, progressCell(job)),
      h("td", { class: "nowrap small" }, job.started_at ? fmtTime(job.started_at) : "—"),
      h("td", { class: "nowrap small" }, job.finished_at ? fmtTime(job.finished_at) : "—"),
      h("td", {}, h("b", { class: "hunt-hits" }, fmtNum(job.alerts_raised ?? 0)),
        h("div", { class: "small muted" }, t("hunt.hits_detail", { matched: fmtNum(job.events_matched ?? 0), existing: fmtNum(job.alerts_existing ?? 0) })),
        unpublishedNote(job)),
      h("td", {}, tune && ACTIVE.has(job.state) && !(job.state === "running" && job.cancel_requested)
        ? h("button", { type: "button", class: "ghost hunt-cancel", onclick: () => cancel(job) }, t("hunt.cancel")) : null)));
    const table = rows.length
      ? h("table", { id: "hunt-table" }, h("thead", {}, h("tr", {}, [t("hunt.trigger"), t("col.status"), t("hunt.progress"),
        t("hunt.started"), t("hunt.finished"), t("hunt.hits"), ""].map((c) => h("th", {}, c)))), h("tbody", {}, rows))
      : h("div", { class: "empty" }, t("hunt.empty"));
    view.mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("hunt.title"))),
      h("div", { class: "panel flush" }, h("div", { class: "muted small filters" }, t("hunt.help")), table)));
    if (jobs.some((job) => ACTIVE.has(job.state))) timer = setTimeout(render, REFRESH_MS);
  }

  await render();
  return () => { stopped = true; if (timer) clearTimeout(timer); };
}
