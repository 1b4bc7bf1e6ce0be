// One case: its fields and status (the allowed moves only), SLA clocks and the report deadline with
// the notice to download, its alerts (whose events can be pinned), observables, tasks, attached
// searches and the timeline with a comment box. Every change re-reads the case.
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime, fmtNum } from "./i18n.js";
import { pivot } from "./pivot.js";
import { session } from "./app.js";
import { severitiesHighFirst, vocab } from "./vocab.js";
import { CLOCKS, attachSearch, canWork, caseSev, caseStatus, clockBadge, formDialog, labelled, pinEvent, reportBadge, startTicking } from "./cases.js";

const RANGES = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };
const PIVOTS = { host: "host", user: "user", ip: "ip" };

function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

const eventLine = (ev) => [h("span", { class: "nowrap" }, fmtTime(ev["@timestamp"], "short")), " ",
  h("b", {}, ev.host?.name || "—"), " ", h("span", { class: "msg" }, ev.message || ev.event?.original || ev.event?.id || "")];

function timelineText(e) {
  switch (e.kind) {
    case "alerts_added": return t("tl.alerts_added", { n: (e.alert_ids || []).length });
    case "status": return t("tl.status", { from: t(`cstatus.${e.previous}`), to: t(`cstatus.${e.status}`) });
    case "assignee": return t("tl.assignee", { who: e.assignee || "—" });
    case "task_added": return t("tl.task_added", { title: e.text });
    case "task_done": return t("tl.task_done", { title: e.text });
    case "updated": return t("tl.updated", { fields: (e.fields || []).map((f) => t(`cfield.${f}`)).join(", ") });
    case "search_attached": return t("tl.search_attached", { title: e.title || e.query });
    default: return t(`tl.${e.kind}`);
  }
}

function timelineDetail(e) {
  if (e.kind === "comment") return h("div", { class: "comment" }, e.text);
  if (e.kind === "alerts_added") {
    return h("ul", { class: "plain small" }, (e.alert_ids || []).map((id, i) => h("li", {},
      h("a", { href: `#/alerts/${encodeURIComponent(id)}` }, (e.titles || [])[i] || id))));
  }
  if (e.kind === "event_pinned") {
    return h("div", { class: "pinned small" }, e.event ? eventLine(e.event) : e.event_id, e.text ? h("div", { class: "comment" }, e.text) : null);
  }
  if (e.kind === "search_attached") {
    const rows = e.rows || [];
    return h("div", { class: "attachment small" },
      h("div", {}, h("span", { class: "mono" }, e.query), " · ", `${fmtTime(e.start, "short")} – ${fmtTime(e.end, "short")}`),
      h("div", {}, t("att.rows", { shown: fmtNum(rows.length), total: fmtNum(e.total) })),
      e.text ? h("div", { class: "comment" }, e.text) : null,
      h("details", {}, h("summary", {}, t("att.show")), h("table", { class: "att-rows" }, h("tbody", {},
        rows.map((ev) => h("tr", {}, h("td", { class: "nowrap" }, fmtTime(ev["@timestamp"], "short")), h("td", {}, ev.host?.name || "—"),
          h("td", { class: "msg" }, ev.message || ev.event?.id || "")))))));
  }
  // A task's title is in the entry's line already; a status change or a sent notice may carry a note.
  return e.text && !e.kind.startsWith("task_") ? h("div", { class: "comment" }, e.text) : null;
}

export async function casePage(id, view) {
  const c = await api(`/api/v1/cases/${encodeURIComponent(id)}`);
  const work = canWork();
  // An agency analyst moves its own agency's cases through their statuses and comments on them;
  // the rest of a case is the SOC's (the API refuses it too).
  const soc = work && !session.me?.agency;
  const path = `/api/v1/cases/${encodeURIComponent(id)}`;
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const send = async (sub, body, method = "POST") => {
    try { await api(path + sub, { method, body }); reload(); return true; } catch (ex) { toast(ex.message, true); return false; }
  };

  // Status: only the moves the workflow allows from here; closing asks for a conclusion.
  const closeIt = () => {
    const note = h("textarea", { name: "conclusion", maxlength: 10000 });
    formDialog(t("case.close_title"), [labelled(t("case.conclusion"), note)], t("cmove.closed"),
      async () => { await api(`${path}/status`, { method: "POST", body: { status: "closed", comment: note.value.trim() || undefined } }); reload(); return true; });
  };
  const moves = work ? (vocab.caseTransitions[c.status] || []).map((to) => h("button", { type: "button", dataset: { to },
    class: to === "closed" ? null : "primary", onclick: () => (to === "closed" ? closeIt() : send("/status", { status: to })) },
    t(to === "investigating" && c.status !== "open" ? "cmove.reopen" : `cmove.${to}`))) : [];

  // The fields: title, severity, assignee, and what the notice says (description, impact, measures).
  const inputs = {
    title: h("input", { name: "title", value: c.title, maxlength: 300, required: true }),
    severity: h("select", { name: "severity" }, severitiesHighFirst().map((s) => h("option", { value: s, selected: s === c.severity }, t(`sev.${s}`)))),
    assignee: h("input", { name: "assignee", value: c.assignee || "", maxlength: 64 }),
    description: h("textarea", { name: "description", rows: 2 }, c.description || ""),
    impact: h("textarea", { name: "impact", rows: 2 }, c.impact || ""),
    measures: h("textarea", { name: "measures", rows: 2 }, c.measures || ""),
  };
  // The affected information system (the notice names it and its level): one of the case's agencies'.
  const system = h("select", { name: "system_id" }, h("option", { value: c.system?.id || "" }, c.system?.name || t("case.system_pick")));
  api("/api/v1/systems").then(({ items }) => {
    const own = items.filter((s) => c.agencies.includes(s.agency) && s.id !== c.system?.id);
    system.append(...own.map((s) => h("option", { value: s.id }, `${s.name} (${t("case.level", { n: s.security_level })})`)));
  }).catch(() => {});
  for (const el of [...Object.values(inputs), system]) el.disabled = !soc;
  const fields = h("form", { class: "case-fields", onsubmit: async (e) => {
    e.preventDefault();
    const body = {};
    for (const [k, el] of Object.entries(inputs)) if (el.value.trim() !== (c[k] || "")) body[k] = el.value.trim();
    if (system.value && system.value !== (c.system?.id || "")) body.system_id = system.value;
    if (Object.keys(body).length) await send("", body, "PATCH");
  } }, Object.entries(inputs).map(([k, el]) => h("label", { class: "field" }, h("span", {}, t(`cfield.${k}`)), el)),
  h("label", { class: "field" }, h("span", {}, t("cfield.system")), system),
  soc ? h("div", { class: "actions" }, h("button", { type: "submit" }, t("act.save"))) : null);

  // Alerts, each with its events on demand, to pin to the timeline.
  const titles = {};
  for (const e of c.timeline) if (e.kind === "alerts_added") (e.alert_ids || []).forEach((a, i) => { titles[a] = (e.titles || [])[i]; });
  const pinned = new Set(c.timeline.filter((e) => e.kind === "event_pinned").map((e) => e.event_id));
  const alertRows = c.alert_ids.map((aid) => {
    const events = h("div", { class: "alert-events", hidden: true });
    const show = h("button", { type: "button", class: "ghost small", dataset: { alert: aid }, onclick: async () => {
      if (!events.hidden) { events.hidden = true; return; }
      events.hidden = false;
      events.replaceChildren(h("span", { class: "muted" }, "…"));
      try {
        const alert = await api(`/api/v1/alerts/${encodeURIComponent(aid)}`);
        const evs = alert.events || [];
        events.replaceChildren(...(evs.length ? evs.map((ev) => h("div", { class: "event-row", dataset: { event: ev.event?.id || "" } }, eventLine(ev),
          soc && ev.event?.id ? (pinned.has(ev.event.id) ? h("span", { class: "badge" }, t("case.pinned"))
            : h("button", { type: "button", class: "ghost small pin", onclick: async () => {
              try { await pinEvent(ev, { caseId: id }); toast(t("case.pinned")); reload(); } catch (ex) { toast(ex.message, true); }
            } }, t("case.pin"))) : null))
          : [h("span", { class: "muted" }, t("alert.noevents"))]));
      } catch (ex) { events.replaceChildren(h("span", { class: "error" }, ex.message)); }
    } }, t("case.events"));
    return h("li", { dataset: { id: aid } }, h("a", { href: `#/alerts/${encodeURIComponent(aid)}` }, titles[aid] || aid), " ", show, events);
  });

  // Tasks.
  const taskIn = h("input", { name: "task", maxlength: 500, placeholder: t("case.task_new") });
  const tasks = h("ul", { class: "plain tasks" }, c.tasks.length ? c.tasks.map((task) => h("li", { class: task.done ? "done" : null, dataset: { id: task.id } },
    task.done ? h("span", { class: "clock ok" }, "✓") : soc ? h("button", { type: "button", class: "ghost small", title: t("case.task_done"),
      onclick: () => send(`/tasks/${encodeURIComponent(task.id)}/done`) }, "☐ " + t("case.task_done")) : "☐",
    " ", h("span", { class: "task-title" }, task.title),
    task.done ? h("div", { class: "small muted" }, `${task.done_by} · ${fmtTime(task.done_at, "short")}`) : null))
    : h("li", { class: "muted" }, t("case.no_tasks")));

  // Attach a search's result (the server runs it over the case's agencies' events): typed here, or
  // one of the saved searches (its query and range; the attachment names it).
  const attQuery = h("input", { name: "query", class: "mono", placeholder: t("search.placeholder") });
  const attRange = h("select", { name: "range" }, Object.keys(RANGES).map((r) => h("option", { value: r, selected: r === "24h" }, t(`range.${r}`))));
  const attTitle = h("input", { name: "att_title", maxlength: 300, placeholder: t("att.title") });
  const saved = {};
  const attSaved = h("select", { name: "saved_search" }, h("option", { value: "" }, t("saved.pick")));
  if (soc) {
    api("/api/v1/saved-searches").then(({ items }) => {
      for (const one of items.filter((x) => x.target === "events")) saved[one.id] = one;
      attSaved.append(...Object.values(saved).map((x) => h("option", { value: x.id }, x.name)));
    }).catch(() => { attSaved.hidden = true; });
  }
  const UNIT = { m: 60e3, h: 3600e3, d: 86400e3 };
  const attach = h("form", { class: "attach", onsubmit: async (e) => {
    e.preventDefault();
    const one = saved[attSaved.value];
    let end = new Date();
    let start = new Date(end - RANGES[attRange.value]);
    let query = attQuery.value.trim() || "*";
    if (one) {
      query = one.query || "*";
      const rel = /^(\d+)([mhd])$/.exec(one.range || "");
      if (one.start) { start = new Date(one.start); end = one.end ? new Date(one.end) : end; } else if (rel) start = new Date(end - rel[1] * UNIT[rel[2]]);
    }
    try {
      await attachSearch({ query, start, end, title: attTitle.value.trim() || one?.name, saved_search_id: one?.id }, { caseId: id });
      reload();
    } catch (ex) { toast(ex.message, true); }
  } }, attSaved, attQuery, h("div", { class: "row" }, attRange, attTitle, h("button", { type: "submit" }, t("att.attach"))));

  const comment = h("textarea", { name: "comment", placeholder: t("case.comment") });
  const timeline = h("ul", { class: "timeline case-timeline" }, c.timeline.slice().reverse().map((e) => h("li", { dataset: { kind: e.kind } },
    h("div", {}, h("b", {}, e.by), " ", timelineText(e)), timelineDetail(e), h("div", { class: "small muted" }, fmtTime(e.at)))));

  const docx = `${path}/report.docx`;
  view.mount(h("div", { class: "case" },
    h("div", { class: "small" }, h("a", { href: "#/cases" }, "← " + t("nav.cases"))),
    h("div", { class: "pagehead" }, caseSev(c.severity), h("h1", {}, c.title), caseStatus(c.status), h("div", { class: "row right" }, moves)),
    h("div", { class: "grid2" },
      h("div", {},
        h("div", { class: "panel" }, h("h2", {}, t("case.alerts"), " ", h("span", { class: "muted" }, `(${fmtNum(c.alert_ids.length)})`)),
          h("ul", { class: "plain case-alerts" }, alertRows)),
        h("div", { class: "panel" }, h("h2", {}, t("case.timeline")),
          work ? h("form", { class: "case-comment", onsubmit: async (e) => {
            e.preventDefault();
            if (comment.value.trim()) await send("/comments", { text: comment.value.trim() });
          } }, comment, h("div", { class: "actions" }, h("button", { type: "submit" }, t("act.comment")))) : null,
          timeline),
        h("div", { class: "panel" }, h("h2", {}, t("alert.details")), fields)),
      h("div", {},
        h("div", { class: "panel deadlines" }, h("h2", {}, t("case.deadlines")), kv([
          ...CLOCKS.map((k) => [t(`clock.${k}`), clockBadge(c.sla[k].due_at, c.sla[k].met_at, c.sla[k].breached)]),
          [t("case.report_due"), h("span", { id: "report-deadline" }, reportBadge(c), h("div", { class: "small muted" }, t("case.report_rule", { at: fmtTime(c.report_deadline.due_at) })))],
          [t("case.detected"), fmtTime(c.detected_at)], [t("col.agency"), c.agencies.join(", ") || "—"],
          [t("case.system"), c.system?.name ? `${c.system.name}${c.system.security_level ? ` (${t("case.level", { n: c.system.security_level })})` : ""}` : "—"],
          [t("case.opened"), `${c.created_by} · ${fmtTime(c.created_at)}`]]),
        h("div", { class: "row" }, h("a", { class: "button", id: "report-docx", href: docx, download: `bao-cao-su-co-${c.id}.docx` }, t("case.docx")),
          h("a", { class: "button", id: "report-pdf", href: `${path}/report.pdf`, download: `bao-cao-su-co-${c.id}.pdf` }, t("case.pdf")),
          soc && !c.report_deadline.sent_at ? h("button", { type: "button", class: "ghost", id: "report-sent",
            onclick: () => send("/report/sent", {}) }, t("case.mark_sent")) : null)),
        h("div", { class: "panel" }, h("h2", {}, t("case.tasks")), tasks,
          soc ? h("form", { class: "row", onsubmit: async (e) => {
            e.preventDefault();
            if (taskIn.value.trim()) await send("/tasks", { title: taskIn.value.trim() });
          } }, taskIn, h("button", { type: "submit" }, t("case.task_add"))) : null),
        h("div", { class: "panel" }, h("h2", {}, t("case.observables")), c.observables.length
          ? h("table", { class: "observables" }, h("tbody", {}, c.observables.map((o) => h("tr", {}, h("td", { class: "muted small" }, t(`obs.${o.type}`)),
            h("td", { class: "wrap" }, PIVOTS[o.type] ? pivot(PIVOTS[o.type], o.value) : h("span", { class: "mono small" }, o.value)),
            h("td", { class: "num small muted", title: t("case.in_alerts") }, fmtNum(o.alert_ids.length))))))
          : h("div", { class: "muted" }, "—")),
        soc ? h("div", { class: "panel" }, h("h2", {}, t("att.heading")), h("div", { class: "small muted" }, t("att.help")), attach) : null))));
  return startTicking();
}
