// Cases (incidents): the list with SLA clocks and the Circular 20/2017 report deadline, "create a
// case" from alerts (the queue's selection, an alert's page), and what other pages call to add to a
// case: window.canhgacCases.pinEvent(event) and window.canhgacCases.attachSearch(search).
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime, fmtNum } from "./i18n.js";
import { session } from "./app.js";
import { severitiesHighFirst, vocab } from "./vocab.js";
import { readUrlState, writeUrlState } from "./urlstate.js";

export const CLOCKS = ["acknowledge", "contain", "close"];
const listState = { status: "", severity: "", assignee: "", agency: "" }; // "": every status, no filter
const LIST_KEYS = ["status", "severity", "assignee", "agency"]; // the list's filters, also in its address

export const canWork = () => session.me?.permissions.includes("triage");
export const caseSev = (sev) => h("span", { class: `sev sev-${sev}` }, t(`sev.${sev}`));
export const caseStatus = (st) => h("span", { class: `badge cst-${st}` }, t(`cstatus.${st}`));

// "3 giờ 5 phút" / "3 h 5 min": how long until (or since) a deadline.
export function span(ms) {
  const mins = Math.max(1, Math.round(Math.abs(ms) / 60000));
  const d = Math.floor(mins / 1440);
  const hrs = Math.floor((mins % 1440) / 60);
  const m = mins % 60;
  return d ? t("dur.dh", { d, h: hrs }) : hrs ? t("dur.hm", { h: hrs, m }) : t("dur.m", { m });
}

// One SLA clock (or the report deadline: `met` is when the notice was sent) as a small badge:
// met on time, met late, time left, or overdue by how long. Its title gives the deadline itself.
// A running clock counts down in the page (`startTicking`), not only when the page loads.
export function clockBadge(dueAt, metAt, breached) {
  const el = h("span", { class: "clock", title: `${t("clock.due")}: ${fmtTime(dueAt)}`,
    dataset: { due: dueAt, met: metAt || "", breached: breached ? "1" : "" } });
  paint(el, Date.now());
  return el;
}

function paint(el, now) {
  const due = new Date(el.dataset.due).getTime();
  const met = el.dataset.met;
  const late = el.dataset.breached === "1";
  if (met) {
    el.className = late ? "clock late" : "clock ok";
    el.textContent = t(late ? "clock.met_late" : "clock.met", { at: fmtTime(met, "short") });
  } else if (late || now > due) {
    el.className = "clock bad";
    el.textContent = t("clock.overdue", { d: span(now - due) });
  } else {
    el.className = "clock";
    el.textContent = t("clock.left", { d: span(due - now) });
  }
}

// Repaints the page's running clocks every 30 s; returns what stops it (the page's cleanup).
export function startTicking() {
  const timer = setInterval(() => {
    const now = Date.now();
    for (const el of document.querySelectorAll("#main .clock[data-due]")) if (!el.dataset.met) paint(el, now);
  }, 30_000);
  return () => clearInterval(timer);
}

// The clock a case is running against now: the first not yet met (none once closed).
function runningClock(c) {
  const name = CLOCKS.find((k) => !c.sla[k].met_at);
  if (!name) return h("span", { class: "clock ok" }, "✓");
  const k = c.sla[name];
  return h("span", {}, h("span", { class: "small muted" }, `${t(`clock.${name}`)}: `), clockBadge(k.due_at, k.met_at, k.breached));
}

export const reportBadge = (c) => clockBadge(c.report_deadline.due_at, c.report_deadline.sent_at, c.report_deadline.overdue);

export async function casesPage(view) {
  const tbody = h("tbody");
  const count = h("span", { class: "muted" });
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const statuses = ["", ...vocab.caseStatuses];
  readUrlState("#/cases", listState, LIST_KEYS);
  // Severity, assignee and agency (an agency's users see their agency's cases only: no agency box).
  const changed = (key, value) => { listState[key] = value; load(); };
  const sevSel = h("select", { name: "severity", "aria-label": t("ccol.severity"), onchange: () => changed("severity", sevSel.value) },
    h("option", { value: "" }, t("alerts.allsev")), severitiesHighFirst().map((s) => h("option", { value: s, selected: listState.severity === s }, t(`sev.${s}`))));
  const text = (key, label) => {
    const el = h("input", { type: "search", name: key, placeholder: t(label), "aria-label": t(label), title: t("cases.filter_exact"),
      value: listState[key], onchange: () => changed(key, el.value.trim()) });
    return el;
  };
  const assigneeIn = text("assignee", "ccol.assignee");
  const agencyIn = session.me?.agency ? null : text("agency", "ccol.agency");
  const mine = !canWork() || session.me?.agency ? null : h("button", { type: "button", class: "ghost", id: "my-cases", onclick: () => { assigneeIn.value = session.me.username; changed("assignee", session.me.username); } },
    t("cases.mine"));
  const clear = h("button", { type: "button", class: "ghost", id: "clear-case-filters", onclick: () => {
    Object.assign(listState, { severity: "", assignee: "", agency: "" });
    sevSel.value = ""; assigneeIn.value = ""; if (agencyIn) agencyIn.value = "";
    load();
  } }, "✕ ", t("cases.clear_filters"));
  const filtered = () => Boolean(listState.severity || listState.assignee || listState.agency);

  async function load() {
    if (view.alive()) writeUrlState("#/cases", listState, LIST_KEYS);
    clear.hidden = !filtered();
    tabs.replaceChildren(...statuses.map((st) => h("button", { type: "button", role: "tab", class: listState.status === st ? "on" : null,
      onclick: () => { listState.status = st; load(); } }, st ? t(`cstatus.${st}`) : t("status.all"))));
    let page;
    const query = Object.fromEntries(LIST_KEYS.map((k) => [k, listState[k] || undefined]));
    try { page = await api("/api/v1/cases", { query }); } catch (ex) {
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: 9, class: "empty error page-error", role: "alert" }, ex.message)));
      return;
    }
    if (!view.alive()) return;
    count.textContent = t("cases.total", { n: fmtNum(page.total) });
    tbody.replaceChildren(...(page.items.length ? page.items.map((c) => h("tr", { class: "clickable", dataset: { id: c.id },
      onclick: () => { location.hash = `#/cases/${encodeURIComponent(c.id)}`; } },
    h("td", {}, caseSev(c.severity)),
    h("td", { class: "title" }, h("a", { href: `#/cases/${encodeURIComponent(c.id)}` }, c.title),
      h("div", { class: "small muted" }, t("cases.alerts", { n: fmtNum(c.alert_ids.length) }))),
    h("td", {}, caseStatus(c.status)),
    h("td", {}, c.assignee || "—"),
    h("td", {}, c.agencies.join(", ") || "—"),
    h("td", { class: "nowrap" }, fmtTime(c.detected_at, "short")),
    h("td", { class: "nowrap sla" }, runningClock(c)),
    h("td", { class: "nowrap report" }, reportBadge(c))))
      : [h("tr", {}, h("td", { colspan: 8, class: "empty" }, filtered() || listState.status ? t("cases.none_match") : t("cases.empty")))]));
  }

  view.mount(h("div", {},
    h("div", { class: "pagehead" }, h("h1", {}, t("cases.title")), count,
      h("span", { class: "right small muted" }, t("cases.create_hint"))),
    tabs,
    h("div", { class: "filters case-filters" }, sevSel, assigneeIn, agencyIn, mine, clear),
    h("div", { class: "panel flush" }, h("table", { id: "cases-table" },
      h("thead", {}, h("tr", {}, ["severity", "title", "status", "assignee", "agency", "detected", "sla", "report"]
        .map((c) => h("th", {}, t(`ccol.${c}`))))), tbody),
    h("div", { class: "hint" }, h("span", {}, t("cases.deadline_note")), h("span", { class: "right" }, t("tz"))))));
  await load();
  return startTicking();
}

// A modal dialog with a form; `submit` returns true to close it.
export function formDialog(title, fields, submitLabel, submit) {
  const err = h("div", { class: "error", role: "alert" });
  const dlg = h("dialog", { class: "case-dialog" });
  const form = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = "";
    try { if (await submit()) dlg.close(); } catch (ex) { err.textContent = ex.message; }
  } }, h("h2", {}, title), fields, err,
  h("div", { class: "actions" }, h("button", { type: "button", onclick: () => dlg.close() }, t("act.cancel")),
    submitLabel instanceof Node ? submitLabel : h("button", { type: "submit", class: "primary" }, submitLabel)));
  dlg.append(form);
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

export const labelled = (text, input) => h("label", { class: "field" }, h("span", {}, text), input);

// "Create a case" from one or many alerts, or add them to a case still open; opens the case.
export function createCaseDialog(alertIds) {
  const ids = [...alertIds];
  if (!ids.length) return;
  const target = h("select", { name: "case" }, h("option", { value: "" }, t("case.new")));
  const title = h("input", { name: "title", maxlength: 300, placeholder: t("case.title_default") });
  const sev = h("select", { name: "severity" }, h("option", { value: "" }, t("case.sev_auto")),
    severitiesHighFirst().map((s) => h("option", { value: s }, t(`sev.${s}`))));
  const mine = h("input", { type: "checkbox", name: "assign_me", checked: true });
  const fresh = [labelled(t("cfield.title"), title), labelled(t("cfield.severity"), sev), h("label", { class: "row" }, mine, t("case.assign_me"))];
  target.addEventListener("change", () => { for (const el of fresh) el.hidden = !!target.value; });
  const submit = h("button", { type: "submit", class: "primary" }, t("case.create"));
  target.addEventListener("change", () => { submit.textContent = target.value ? t("case.add") : t("case.create"); });
  formDialog(t("case.create_from", { n: ids.length }), [labelled(t("case.which"), target), fresh], submit, async () => {
    let caseId = target.value;
    if (caseId) {
      await api(`/api/v1/cases/${encodeURIComponent(caseId)}/alerts`, { method: "POST", body: { alert_ids: ids } });
      toast(t("case.added"));
    } else {
      const created = await api("/api/v1/cases", { method: "POST", body: { alert_ids: ids, title: title.value.trim() || undefined,
        severity: sev.value || undefined, assignee: mine.checked ? session.me.username : undefined } });
      caseId = created.id;
      toast(t("case.created"));
    }
    location.hash = `#/cases/${encodeURIComponent(caseId)}`;
    return true;
  });
  openCases().then((open) => target.append(...open.map((c) => h("option", { value: c.id }, caseLabel(c))))).catch(() => {});
}

const openCases = async () => (await api("/api/v1/cases", { query: { size: 200 } })).items.filter((c) => c.status !== "closed");
const caseLabel = (c) => `${c.title} · ${t(`cstatus.${c.status}`)} · ${fmtTime(c.created_at, "short")}`;

// Pick one of the cases still open (newest first), then `send(caseId, note)`.
async function chooseCase(title, extra, send) {
  const open = await openCases();
  if (!open.length) { toast(t("case.none_open"), true); return; }
  const pick = h("select", { name: "case" }, open.map((c) => h("option", { value: c.id }, caseLabel(c))));
  const note = h("textarea", { name: "note", maxlength: 2000, placeholder: t("case.note") });
  formDialog(title, [labelled(t("case.which"), pick), extra, labelled(t("case.note"), note)], t("case.add"), async () => {
    await send(pick.value, note.value.trim() || undefined);
    toast(t("case.added"));
    return true;
  });
}

// Pin an event to a case's timeline. `event` is the ECS event as Search shows it (`event.id` is
// what the API needs; `_index` is used when the caller has it). With `caseId`, no dialog.
export async function pinEvent(event, { caseId, note } = {}) {
  const eventId = event?.event?.id;
  if (!eventId) throw new Error("the event has no event.id");
  const body = (n) => ({ event_id: eventId, index: event._index || undefined, note: n });
  if (caseId) return api(`/api/v1/cases/${encodeURIComponent(caseId)}/events`, { method: "POST", body: body(note) });
  return chooseCase(t("case.pin_title"), h("div", { class: "msg small" }, event.message || eventId),
    (id, n) => api(`/api/v1/cases/${encodeURIComponent(id)}/events`, { method: "POST", body: body(n) }));
}

// Attach a search's result to a case: {query, start, end (Date or ISO), title, saved_search_id}.
// The server runs the search over the case's agencies' events and keeps a bounded snapshot.
export async function attachSearch(search, { caseId } = {}) {
  const iso = (v) => (v ? new Date(v).toISOString() : undefined);
  const body = (note) => ({ query: search.query || "*", start: iso(search.start), end: iso(search.end),
    title: search.title || undefined, saved_search_id: search.saved_search_id || undefined, rows: search.rows || undefined, note });
  if (caseId) return api(`/api/v1/cases/${encodeURIComponent(caseId)}/attachments`, { method: "POST", body: body() });
  return chooseCase(t("case.attach_title"), h("div", { class: "mono small" }, search.query || "*"),
    (id, note) => api(`/api/v1/cases/${encodeURIComponent(id)}/attachments`, { method: "POST", body: body(note) }));
}

// The cases holding an alert, as links (filled in when the answer comes; "—" for none).
export function casesOfAlert(alertId) {
  const el = h("span", { class: "alert-cases" }, "…");
  api("/api/v1/cases", { query: { alert_id: alertId, size: 20 } }).then(({ items }) => {
    el.replaceChildren(...(items.length ? items.flatMap((c, i) => [i ? ", " : "",
      h("a", { href: `#/cases/${encodeURIComponent(c.id)}` }, c.title), " ", caseStatus(c.status)]) : ["—"]));
  }).catch(() => { el.textContent = "—"; });
  return el;
}

window.canhgacCases = { pinEvent, attachSearch, createCase: createCaseDialog };
