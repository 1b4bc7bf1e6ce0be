// The alert queue (live, keyboard-driven) and one alert's page.
import { api } from "./api.js";
import { h, toast, typing } from "./dom.js";
import { t, fmtTime, fmtNum, serverText } from "./i18n.js";
import { session, setLive } from "./app.js";
import { pivot } from "./pivot.js";
import { eventRow, clause } from "./eventview.js";
import { searchFor } from "./search.js";
import { casesOfAlert, createCaseDialog } from "./cases.js";
import { indicatorPanel } from "./intel.js";
import { canRequestException, ownsAlert } from "./agencyself.js";
import { GROUP_PARAM, queueFilters, queueQuery, savedViews } from "./queueviews.js";
import { readUrlState, writeUrlState } from "./urlstate.js";
import { ACTIONS, USUAL_RESOLUTION, canMove, initialStatus, severitiesHighFirst, vocab } from "./vocab.js";

const LIVE_GRACE_MS = 8000; // a reconnect takes ~2 s (the stream's `retry`)
const queueState = { status: null, severity: "", host: "", user: "", rule_id: "", agency: "", selected: 0 }; // status null: the first (new)
// The rest of the API's filters, sort, grouping and the saved view picked (queueviews.js).
Object.assign(queueState, { source_ip: "", assignee: "", range: "", sort: "last_seen", order: "desc", group_by: "", view: "" });
// The queue's state in its address (`#/alerts?status=all&rule_id=…&view=…`): a link to it, or to a
// saved view applied, opens the same queue for whoever follows it (urlstate.js).
const QUEUE_URL_KEYS = ["status", "severity", "host", "user", "rule_id", "agency", "source_ip", "assignee", "range", "sort", "order", "group_by", "view"];
const QUEUE_URL_DEFAULTS = { sort: "last_seen", order: "desc" };
// The queue filters a pivot sets (the API's `host`, `user`, `rule_id`, `agency`).
const PIVOT_FILTERS = ["host", "user", "rule_id", "agency"];

// A pivot's "filter the queue": exactly these filters, every status.
export function filterQueue(filters) {
  for (const key of PIVOT_FILTERS) queueState[key] = filters[key] ?? "";
  Object.assign(queueState, { source_ip: "", assignee: "", range: "", group_by: "", view: "" }); // and no other filter
  queueState.status = "all";
  queueState.selected = 0;
  if (location.hash === "#/alerts") window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = "#/alerts";
}

const canTriage = () => session.me?.permissions.includes("triage");
export const sevBadge = (sev) => h("span", { class: `sev sev-${sev}` }, t(`sev.${sev}`));
export const statusBadge = (st) => h("span", { class: `badge st-${st}` }, t(`status.${st}`));

function closeDialog(count, onDone) {
  const choices = vocab.resolutions;
  let resolution = choices.includes(USUAL_RESOLUTION) ? USUAL_RESOLUTION : choices[0];
  const comment = h("textarea", { name: "comment", placeholder: t("close.comment") });
  const dlg = h("dialog", { class: "close-dialog" },
    h("h2", {}, t("close.title") + (count > 1 ? ` (${count})` : "")),
    h("div", { class: "muted small" }, t("close.resolution")),
    h("div", { class: "choices" }, choices.map((r, i) =>
      h("label", {}, h("input", { type: "radio", name: "resolution", value: r, checked: r === resolution,
        onchange: () => { resolution = r; } }), h("span", {}, `${i + 1}. ${t(`res.${r}`)}`)))),
    comment,
    h("div", { class: "actions" },
      h("button", { type: "button", onclick: () => dlg.close() }, t("act.cancel")),
      h("button", { type: "button", class: "primary", onclick: async () => { dlg.close(); await onDone(resolution, comment.value.trim()); } },
        t("act.close"))));
  dlg.addEventListener("keydown", (e) => {
    const r = choices[Number(e.key) - 1];
    if (/^[1-9]$/.test(e.key) && r && e.target !== comment) {
      e.preventDefault();
      const radio = dlg.querySelector(`input[value=${r}]`);
      radio.click();
      radio.focus();
    }
  });
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  // Focus the chosen resolution, not the comment: `c` then `1` picks a resolution, never types "1".
  dlg.querySelector("input[name=resolution]:checked")?.focus();
}

async function setStatus(ids, status, resolution, comment) {
  try {
    await api(`/api/v1/alerts/${encodeURIComponent(ids[0])}/status`, { method: "POST",
      body: { status, resolution: resolution || undefined, comment: comment || undefined } });
    toast(t(`status.${status}`));
    return true;
  } catch (ex) { toast(ex.message, true); return false; }
}

// The API's bulk limit per call; a larger selection goes in a few calls, with progress shown.
const BULK_MAX = 200;

// Many alerts: one call per BULK_MAX, each answering item by item. `progress(done, n)` is told as
// calls finish; the answer lists every id with `ok`, its new status, or the (translated) error.
async function bulkStatus(ids, status, resolution, comment, progress) {
  const results = [];
  for (let i = 0; i < ids.length; i += BULK_MAX) {
    progress(i, ids.length);
    const chunk = ids.slice(i, i + BULK_MAX);
    try {
      const r = await api("/api/v1/alerts/bulk", { method: "POST",
        body: { ids: chunk, status, resolution: resolution || undefined, comment: comment || undefined } });
      results.push(...r.results.map((x) => (x.ok ? x : { ...x, error: serverText(x.error) })));
    } catch (ex) { results.push(...chunk.map((id) => ({ id, ok: false, error: ex.message }))); }
  }
  progress(ids.length, ids.length);
  return results;
}

export async function alertQueue(view) {
  const mount = view.mount;
  if (readUrlState("#/alerts", queueState, QUEUE_URL_KEYS)) {
    queueState.selected = 0;
    for (const [k, v] of Object.entries(QUEUE_URL_DEFAULTS)) queueState[k] ||= v;
  }
  queueState.status ||= initialStatus();
  let items = [];
  let next = null;
  let total = 0;
  const checked = new Set();
  let fresh = new Set();
  let pending = new Set(); // alerts a bulk change is being written to
  const tbody = h("tbody");
  const count = h("span", { class: "muted" });
  const bulkInfo = h("span", { class: "muted small" });
  const bulkResult = h("div", { id: "bulk-result", class: "bulk-result", role: "status", hidden: true });
  const allBox = h("input", { type: "checkbox", "aria-label": t("bulk.select_all"), title: t("bulk.select_all"), onchange: (e) => {
    if (e.target.checked) for (const a of items) checked.add(a.id); else checked.clear();
    render();
  } });
  const moreBtn = h("button", { type: "button", onclick: () => load(true) }, t("alerts.more"));
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const sevSel = h("select", { "aria-label": t("col.severity"), onchange: () => { queueState.severity = sevSel.value; load(); } },
    h("option", { value: "" }, t("alerts.allsev")), severitiesHighFirst().map((s) => h("option", { value: s, selected: queueState.severity === s }, t(`sev.${s}`))));
  const hostIn = h("input", { type: "search", placeholder: t("alerts.host"), value: queueState.host,
    onchange: () => { queueState.host = hostIn.value.trim(); load(); } });

  function renderTabs() {
    tabs.replaceChildren(...[...vocab.statuses, "all"].map((st) => h("button", { type: "button", role: "tab",
      class: queueState.status === st ? "on" : null, onclick: () => { queueState.status = st; queueState.selected = 0; load(); } }, t(`status.${st}`))));
  }

  function matches(a) {
    return (queueState.status === "all" || a.status === queueState.status)
      && (!queueState.severity || a.severity === queueState.severity)
      && (!queueState.host || a.host?.name === queueState.host)
      && (!queueState.user || a.user?.name === queueState.user)
      && (!queueState.rule_id || a.rule?.id === queueState.rule_id)
      && (!queueState.agency || a.agency === queueState.agency)
      && (!queueState.source_ip || a.source?.ip === queueState.source_ip)
      && (!queueState.assignee || a.assignee === queueState.assignee);
  }

  // Grouped (by rule, host or agency): the groups' counts from the API; an opened group lists its
  // alerts (the list filtered by the group's key), and `items` are the open groups' alerts in order.
  const groups = { data: null, open: new Map() };
  const grouped = () => Boolean(queueState.group_by);
  async function loadGroup(key) {
    const page = await api("/api/v1/alerts", { query: { ...queueQuery(queueState), [GROUP_PARAM[queueState.group_by]]: key,
      size: 50, sort: queueState.sort, order: queueState.order } });
    groups.open.set(key, page.items);
  }
  async function loadGroups() {
    const data = await api("/api/v1/alerts/groups", { query: { ...queueQuery(queueState), by: queueState.group_by } });
    const keys = new Set(data.groups.map((g) => g.key));
    for (const key of [...groups.open.keys()]) if (!keys.has(key)) groups.open.delete(key);
    await Promise.all([...groups.open.keys()].map(loadGroup));
    groups.data = data;
    items = data.groups.flatMap((g) => groups.open.get(g.key) || []);
    next = null; total = data.total;
  }
  async function toggleGroup(key) {
    try {
      if (groups.open.has(key)) groups.open.delete(key); else await loadGroup(key);
      items = groups.data.groups.flatMap((g) => groups.open.get(g.key) || []);
      render();
    } catch (ex) { toast(ex.message, true); }
  }
  function groupRows() {
    let i = 0;
    return groups.data.groups.flatMap((g) => {
      const open = groups.open.has(g.key);
      const head = h("tr", { class: "group", dataset: { group: g.key } }, h("td", { colspan: 9 },
        h("button", { type: "button", class: "ghost group-toggle", "aria-expanded": String(open), onclick: () => toggleGroup(g.key) },
          open ? "▾ " : "▸ ", h("b", {}, g.label), " ", h("span", { class: "badge" }, fmtNum(g.count)))));
      return [head, ...(open ? (groups.open.get(g.key) || []).map((a) => row(a, i++)) : [])];
    });
  }

  function render() {
    renderTabs();
    count.textContent = t("alerts.total", { n: fmtNum(total) });
    bulkInfo.textContent = checked.size ? t("bulk.selected", { n: checked.size }) : "";
    allBox.checked = items.length > 0 && items.every((a) => checked.has(a.id));
    queueState.selected = Math.min(queueState.selected, Math.max(items.length - 1, 0));
    if (grouped() && groups.data?.groups.length) {
      tbody.replaceChildren(...groupRows());
    } else if (!items.length) {
      // Empty: say why and what to do (a new analyst's first queue is often an empty tab).
      const filtered = ["severity", "host", "user", "rule_id", "agency", "source_ip", "assignee", "range"].some((k) => queueState[k]);
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: 9, class: "empty" }, t("alerts.empty"),
        filtered || queueState.status !== "all" ? h("div", { class: "small muted empty-hint" }, t(filtered ? "alerts.empty_filtered" : "alerts.empty_tab")) : null)));
    } else {
      tbody.replaceChildren(...items.map((a, i) => row(a, i)));
    }
    moreBtn.hidden = !next;
    fresh = new Set();
    tbody.querySelector("tr.sel")?.scrollIntoView({ block: "nearest" });
  }

  // One alert's row; `i` is its place in `items` (the keyboard's selection).
  function row(a, i) {
    return h("tr", {
      class: ["clickable", i === queueState.selected ? "sel" : "", fresh.has(a.id) ? "fresh" : ""].join(" "),
      dataset: { id: a.id }, onclick: (e) => { if (e.target.type !== "checkbox") location.hash = `#/alerts/${encodeURIComponent(a.id)}`; },
    },
    h("td", {}, h("input", { type: "checkbox", "aria-label": "select", checked: checked.has(a.id),
      onchange: (e) => { if (e.target.checked) checked.add(a.id); else checked.delete(a.id); render(); } })),
    h("td", {}, sevBadge(a.severity)),
    h("td", { class: "title" }, a.rule?.title || a.rule?.id),
    h("td", {}, pivot("host", a.host?.name)),
    h("td", {}, pivot("user", a.user?.name)),
    h("td", {}, pivot("agency", a.agency)),
    h("td", { class: "num" }, fmtNum(a.count)),
    h("td", { class: "nowrap" }, fmtTime(a.last_seen)),
    h("td", {}, pending.has(a.id) ? h("span", { class: "badge pending" }, "…") : statusBadge(a.status),
      a.assignee ? h("div", { class: "small muted" }, a.assignee) : null));
  }

  async function load(more = false) {
    if (view.alive()) writeUrlState("#/alerts", queueState, QUEUE_URL_KEYS, QUEUE_URL_DEFAULTS);
    const query = { ...queueQuery(queueState), size: 50, cursor: more ? next : undefined, sort: queueState.sort, order: queueState.order };
    try {
      if (grouped()) {
        await loadGroups();
        if (!more) checked.clear();
        render();
        return;
      }
      const page = await api("/api/v1/alerts", { query });
      items = more ? [...items, ...page.items] : page.items;
      next = page.next; total = page.total;
      if (!more) checked.clear();
      render();
    } catch (ex) {
      // Said where the alerts would be, not in a toast that outlives the page.
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: 9, class: "empty error page-error", role: "alert" }, ex.message)));
    }
  }

  const current = () => items[queueState.selected];
  const targets = () => (checked.size ? [...checked] : current() ? [current().id] : []);
  async function act(status) {
    let ids = targets();
    if (!ids.length || !canTriage()) return;
    if (status === ACTIONS.ack) {
      // `a` is a new alert's first step. The same move from a closed alert reopens it and erases its
      // resolution: that is done on the alert's page, on purpose, never from a selection.
      const byId = new Map(items.map((a) => [a.id, a]));
      const skipped = ids.filter((id) => byId.has(id) && byId.get(id).status !== initialStatus());
      if (skipped.length) {
        const closed = skipped.filter((id) => byId.get(id).status === ACTIONS.close).length;
        toast(closed ? t("bulk.skipped_closed", { n: closed }) : t("bulk.skipped", { n: skipped.length }), true);
        ids = ids.filter((id) => !skipped.includes(id));
        if (!ids.length) return;
      }
    }
    if (status === ACTIONS.close) {
      closeDialog(ids.length, (res, comment) => apply(ids, ACTIONS.close, res, comment));
      return;
    }
    await apply(ids, status);
  }

  async function apply(ids, status, resolution, comment) {
    if (ids.length === 1) {
      if (await setStatus(ids, status, resolution, comment)) load();
      return;
    }
    pending = new Set(ids);
    render();
    bulkResult.hidden = false;
    bulkResult.className = "bulk-result";
    const results = await bulkStatus(ids, status, resolution, comment,
      (done, n) => bulkResult.replaceChildren(t("bulk.working", { done, n })));
    pending = new Set();
    if (!view.alive()) return;
    const done = new Map(results.filter((r) => r.ok).map((r) => [r.id, r]));
    for (const a of items) {
      const r = done.get(a.id);
      if (r) { a.status = r.status; a.assignee = r.assignee ?? a.assignee; fresh.add(a.id); }
    }
    const before = items.length;
    items = items.filter(matches);
    total = Math.max(total - (before - items.length), 0);
    const failed = results.filter((r) => !r.ok);
    bulkResult.className = failed.length ? "bulk-result bad" : "bulk-result";
    bulkResult.replaceChildren(h("div", {}, h("b", {}, t("bulk.done", { action: t(`status.${status}`), ok: done.size, n: results.length }))),
      ...(failed.length ? [h("div", {}, t("bulk.failed", { n: failed.length })),
        h("ul", {}, failed.map((f) => h("li", {}, h("span", { class: "mono" }, f.id), `: ${f.error}`)))] : []));
    checked.clear();
    render();
    if (grouped()) load(); // the groups' counts changed
  }

  function onKey(e) {
    if (typing(e)) return;
    const keys = {
      j: () => { queueState.selected = Math.min(queueState.selected + 1, items.length - 1); render(); },
      k: () => { queueState.selected = Math.max(queueState.selected - 1, 0); render(); },
      Enter: () => { if (current()) location.hash = `#/alerts/${encodeURIComponent(current().id)}`; },
      o: () => keys.Enter(),
      x: () => { const a = current(); if (a) { if (checked.has(a.id)) checked.delete(a.id); else checked.add(a.id); render(); } },
      a: () => act(ACTIONS.ack),
      s: () => act(ACTIONS.start),
      c: () => act(ACTIONS.close),
      "/": () => { location.hash = "#/search"; },
      "?": () => help.showModal(),
    };
    const fn = keys[e.key];
    if (fn) { e.preventDefault(); fn(); }
  }

  // Live updates: a changed or new alert takes its place in the queue's order (last seen, newest
  // first, then id, as the API sorts); past the loaded page it waits for "load more".
  const before = (x, y) => (x.last_seen !== y.last_seen ? String(x.last_seen) > String(y.last_seen) : x.id < y.id);
  const source = new EventSource("/api/v1/alerts/stream");
  // The server ends each stream every few minutes and the browser reconnects within seconds: only
  // a reconnection that does not come back soon is "disconnected".
  let offTimer = null;
  const live = () => { clearTimeout(offTimer); offTimer = null; setLive(true); };
  const off = () => { clearTimeout(offTimer); offTimer = null; setLive(false); };
  source.addEventListener("open", live);
  source.addEventListener("ready", live);
  source.addEventListener("unavailable", off);
  source.addEventListener("ended", off);
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) off();
    else if (!offTimer) offTimer = setTimeout(off, LIVE_GRACE_MS);
  });
  // Grouped, or in another order than the live insertion's: the queue reloads (at most every 2 s).
  let reloadTimer = null;
  source.addEventListener("alert", (ev) => {
    const alert = JSON.parse(ev.data);
    live();
    if (grouped() || queueState.sort !== "last_seen" || queueState.order !== "desc") {
      reloadTimer ??= setTimeout(() => { reloadTimer = null; if (view.alive()) load(); }, 2000);
      return;
    }
    const selectedId = current()?.id;
    const at = items.findIndex((a) => a.id === alert.id);
    if (at >= 0) items.splice(at, 1);
    if (matches(alert)) {
      let to = items.findIndex((a) => before(alert, a));
      if (to < 0) to = items.length;
      if (to < items.length || !next) items.splice(to, 0, alert);
      if (at < 0) total += 1;
    } else if (at >= 0) total = Math.max(total - 1, 0);
    else return;
    const sel = items.findIndex((a) => a.id === selectedId);
    if (sel >= 0) queueState.selected = sel;
    fresh.add(alert.id);
    render();
  });

  const help = h("dialog", {}, h("h2", {}, t("keys.title")), h("div", { class: "help" },
    [["j / k", "keys.move"], ["Enter / o", "keys.open"], ["a", "keys.ack"], ["s", "keys.start"], ["c", "keys.close"],
      ["x", "keys.select"], ["/", "keys.search"], ["?", "keys.help"], ["1 2 3", "close.resolution"]].map(([k, l]) =>
      h("div", {}, h("kbd", {}, k), " ", t(l)))),
  h("div", { class: "actions" }, h("button", { type: "button", onclick: () => help.close() }, "OK")));

  const triage = canTriage();
  mount(h("div", {},
    h("div", { class: "pagehead" }, h("h1", {}, t("alerts.title")), count, h("span", { class: "right" }, bulkInfo),
      triage ? h("button", { type: "button", onclick: () => act(ACTIONS.ack) }, t("act.ack")) : null,
      triage ? h("button", { type: "button", onclick: () => act(ACTIONS.close) }, t("act.close")) : null,
      triage && !session.me.agency ? h("button", { type: "button", id: "make-case", onclick: () => createCaseDialog(targets()) }, t("case.create")) : null),
    tabs,
    h("div", { class: "panel flush" },
      h("div", { class: "filters" }, sevSel, hostIn, PIVOT_FILTERS.filter((k) => k !== "host" && queueState[k]).map((k) =>
        h("span", { class: "chip", dataset: { filter: k } }, `${t(`filter.${k}`)}: `, h("b", {}, queueState[k]),
          h("button", { type: "button", class: "ghost", title: t("filter.clear"), "aria-label": t("filter.clear"),
            onclick: () => { queueState[k] = ""; window.dispatchEvent(new HashChangeEvent("hashchange")); } }, "✕"))),
        h("span", { class: "right" }, savedViews(queueState))),
      queueFilters(queueState, () => load()),
      bulkResult,
      h("table", { class: "queue-table" }, h("thead", {}, h("tr", {}, h("th", {}, triage ? allBox : null), ["severity", "rule", "host", "user", "agency"].map((c) => h("th", {}, t(`col.${c}`))),
        h("th", { class: "num" }, t("col.count")), h("th", {}, t("col.last_seen")), h("th", {}, t("col.status")))), tbody),
      h("div", { class: "hint" }, h("span", {}, h("kbd", {}, "j"), " ", h("kbd", {}, "k"), " ", t("keys.move")),
        h("span", {}, h("kbd", {}, "Enter"), " ", t("keys.open")), triage ? [h("span", {}, h("kbd", {}, "a"), " ", t("keys.ack")),
          h("span", {}, h("kbd", {}, "s"), " ", t("keys.start")), h("span", {}, h("kbd", {}, "c"), " ", t("keys.close")),
          h("span", {}, h("kbd", {}, "x"), " ", t("keys.select"))] : null, h("span", {}, h("kbd", {}, "?"), " ", t("keys.help")),
        h("span", { class: "right" }, t("tz")))),
    h("div", { class: "row" }, moreBtn), help));
  await load();
  document.addEventListener("keydown", onKey);
  return () => { source.close(); clearTimeout(offTimer); clearTimeout(reloadTimer); document.removeEventListener("keydown", onKey); };
}

function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function historyText(item) {
  if (item.action === "status") return `${t("hist.status")}: ${t(`status.${item.from}`)} → ${t(`status.${item.to}`)}${item.resolution ? ` (${t(`res.${item.resolution}`)})` : ""}`;
  if (item.action === "assign") return `${t("hist.assign")}: ${item.to || "—"}`;
  return t(`hist.${item.action}`);
}

// Why an alert lists fewer events than its count: it keeps the ids of its first events only
// (the count goes on), or some have left retention.
function eventsNote(alert, events) {
  const kept = (alert.event_ids || []).length;
  const notes = [];
  if (kept && kept < (alert.count ?? 0)) notes.push(t("alert.ids_capped", { kept: fmtNum(kept), n: fmtNum(alert.count - kept) }));
  if (events.length < kept) notes.push(t("alert.events_missing", { n: fmtNum(kept - events.length) }));
  return notes.length ? h("div", { class: "small muted events-note" }, notes.join(" ")) : null;
}

export async function alertPage(id, view) {
  const mount = view.mount;
  let alert;
  try { alert = await api(`/api/v1/alerts/${encodeURIComponent(id)}`); } catch (ex) {
    mount(h("div", { class: "panel" }, h("h1", {}, t("error")), ex.message, h("p", {}, h("a", { href: "#/alerts" }, "← " + t("nav.alerts")))));
    return null;
  }
  // An agency analyst triages its own agency's alerts only (a SOC alert it is involved in is read-only).
  const triage = canTriage() && ownsAlert(alert);
  const agencyUser = Boolean(session.me.agency);
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const change = async (status, resolution, comment) => { if (await setStatus([id], status, resolution, comment)) reload(); };
  const rule = alert.rule || {};
  const actions = [];
  // Which moves an alert offers follows the contract's transitions; "acknowledge" is the first step
  // of a new alert, and the same move from a closed one is "reopen".
  const isNew = alert.status === initialStatus();
  const closed = alert.status === ACTIONS.close;
  const canStart = canMove(alert.status, ACTIONS.start);
  const closeIt = () => closeDialog(1, (r, c) => change(ACTIONS.close, r, c));
  if (triage) {
    if (isNew && canMove(alert.status, ACTIONS.ack)) actions.push(h("button", { type: "button", class: "primary", onclick: () => change(ACTIONS.ack) }, t("act.ack")));
    if (canStart) actions.push(h("button", { type: "button", onclick: () => change(ACTIONS.start) }, t("act.start")));
    if (canMove(alert.status, ACTIONS.close)) actions.push(h("button", { type: "button", onclick: closeIt }, t("act.close")));
    if (closed && canMove(alert.status, ACTIONS.ack)) actions.push(h("button", { type: "button", onclick: () => change(ACTIONS.ack) }, t("act.reopen")));
    // Exceptions act on detection rules; a correlation is silenced through the rules it is built on.
    if (session.me.permissions.includes("tune") && rule.id && !alert.correlation) actions.push(h("button", { type: "button", class: "ghost", id: "make-exception",
      onclick: () => { location.hash = `#/exceptions/new/${encodeURIComponent(id)}`; } }, t("exc.from_alert")));
    if (canRequestException() && rule.id && !alert.correlation) actions.push(h("button", { type: "button", class: "ghost", id: "request-exception",
      onclick: () => { location.hash = `#/exception-requests/new/${encodeURIComponent(id)}`; } }, t("req.from_alert")));
    // Cases and assignment are the SOC's; an agency analyst acknowledges, comments and closes.
    if (!agencyUser) actions.push(h("button", { type: "button", class: "ghost", id: "make-case", onclick: () => createCaseDialog([id]) }, t("case.create")));
    if (!agencyUser && alert.assignee !== session.me.username) actions.push(h("button", { type: "button", class: "ghost", onclick: async () => {
      try { await api(`/api/v1/alerts/${encodeURIComponent(id)}/assignee`, { method: "POST", body: { assignee: session.me.username } }); reload(); } catch (ex) { toast(ex.message, true); }
    } }, t("act.assign_me")));
  }
  const events = alert.events || [];
  // Each event opens its field table; the fields the rule fired on (the detector's matched_fields) are highlighted.
  const eventRows = events.map((ev) => eventRow([
    h("td", { class: "nowrap" }, fmtTime(ev["@timestamp"])), h("td", {}, ev.host?.name || ev.host?.hostname || "—"),
    h("td", { class: "msg" }, ev.message || ev.log?.original || ev.event?.original || "")], ev, 3,
  { matched: alert.matched_fields || [], conditions: alert.matched_conditions || [], onFilter: (field, value, negate) => searchFor("events", clause(field, value, negate)) }));
  const commentBox = h("textarea", { name: "comment", placeholder: t("act.comment") });
  const onKey = (e) => {
    if (typing(e)) return;
    if (e.key === "a" && triage && isNew) change(ACTIONS.ack);
    else if (e.key === "s" && triage && canStart) change(ACTIONS.start);
    else if (e.key === "c" && triage && canMove(alert.status, ACTIONS.close)) { e.preventDefault(); closeIt(); }
    else if (e.key === "Escape" || e.key === "u") location.hash = "#/alerts";
  };
  mount(h("div", {},
    h("div", { class: "small" }, h("a", { href: "#/alerts" }, "← " + t("nav.alerts"))),
    h("div", { class: "pagehead" }, sevBadge(alert.severity), h("h1", {}, rule.title || rule.id), statusBadge(alert.status),
      alert.resolution ? h("span", { class: "badge" }, t(`res.${alert.resolution}`)) : null,
      h("div", { class: "row right" }, actions)),
    h("div", { class: "grid2" },
      h("div", {},
        h("div", { class: "panel" }, h("h2", {}, t("alert.details")), kv([
          [t("col.host"), alert.host?.name && pivot("host", alert.host.name)], [t("col.user"), alert.user?.name && pivot("user", alert.user.name)],
          [t("alert.source_ip"), alert.source?.ip && pivot("ip", alert.source.ip)],
          [t("col.agency"), alert.agency && pivot("agency", alert.agency)],
          // A SOC alert of a cross-agency correlation names the agencies whose events are in it.
          [t("alert.agencies"), alert.agency === vocab.socAgency ? (alert.agencies || []).join(", ") : null],
          [t("col.count"), fmtNum(alert.count)], [t("alert.first_seen"), fmtTime(alert.first_seen)],
          [t("alert.last_seen"), fmtTime(alert.last_seen)], [t("col.assignee"), alert.assignee || "—"], [t("case.in_cases"), casesOfAlert(alert.id)],
          [t("alert.id"), h("span", { class: "mono small" }, alert.id)]])),
        h("div", { class: "panel flush" }, h("div", { class: "filters" }, h("h2", {}, t("alert.events"), " ",
          h("span", { class: "muted" }, events.length < (alert.count ?? 0) ? `(${fmtNum(events.length)} / ${fmtNum(alert.count)})` : `(${fmtNum(events.length)})`)),
          eventsNote(alert, events)),
          events.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, t("col.time")), h("th", {}, t("col.host")), h("th", {}, t("col.message")))),
            h("tbody", {}, eventRows)) : h("div", { class: "empty" }, t("alert.noevents"))),
        h("div", { class: "panel" }, h("h2", {}, t("alert.comments")),
          (alert.comments || []).length ? alert.comments.map((c) => h("div", { class: "comment" }, h("div", { class: "meta" }, `${c.by} · ${fmtTime(c.at)}`), c.text))
            : h("div", { class: "muted" }, t("alert.nocomments")),
          triage ? h("form", { onsubmit: async (e) => {
            e.preventDefault();
            if (!commentBox.value.trim()) return;
            try { await api(`/api/v1/alerts/${encodeURIComponent(id)}/comments`, { method: "POST", body: { text: commentBox.value.trim() } }); reload(); }
            catch (ex) { toast(ex.message, true); }
          } }, commentBox, h("div", { class: "actions" }, h("button", { type: "submit" }, t("act.comment")))) : null)),
      h("div", {},
        indicatorPanel(alert),
        h("div", { class: "panel" }, h("h2", {}, t("alert.rule")), kv([
          [t("col.title"), rule.id ? pivot("rule", rule.id, rule.title || rule.id) : rule.title], [t("col.author"), rule.author || "—"], [t("col.level"), rule.level ? sevBadge(rule.level) : null],
          [t("alert.description"), rule.description], [t("alert.tags"), (rule.tags || []).join(", ")],
          [t("alert.references"), (rule.references || []).length ? h("div", {}, rule.references.map((r) => h("div", {}, /^https?:\/\//.test(r) ? h("a", { href: r, rel: "noopener noreferrer", target: "_blank" }, r) : r))) : null],
          [t("alert.id"), h("span", { class: "mono small" }, rule.id)]])),
        h("div", { class: "panel" }, h("h2", {}, t("alert.history")), h("ul", { class: "timeline" },
          (alert.history || []).slice().reverse().map((item) => h("li", {}, h("div", {}, h("b", {}, item.by), " ", historyText(item)),
            h("div", { class: "small muted" }, fmtTime(item.at))))))))));
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
