// The queue's filters beyond the tabs (every filter of the alerts API), sort, grouping and saved
// views (issue 14 item 5). The queue (alerts.js) keeps one state object; this module reads and
// writes it and builds the controls; the API's `/alerts` and `/alerts/groups` take the same query.
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { copyText } from "./eventview.js";
import { icon } from "./icons.js";
import { t } from "./i18n.js";

export const RANGES = ["", "1h", "24h", "7d", "30d"];
export const SORTS = ["last_seen", "first_seen", "priority", "severity", "count", "status"];
export const GROUPS = ["", "rule", "host", "agency"];
// The list's filter a group's key stands for.
export const GROUP_PARAM = { rule: "rule_id", host: "host", agency: "agency" };
const TEXT_FILTERS = ["agency", "user", "source_ip", "assignee"];
const UNIT_MS = { m: 60e3, h: 3600e3, d: 86400e3 };

// The API query (filters only) for the queue's state.
export function queueQuery(qs) {
  const start = qs.range ? new Date(Date.now() - parseInt(qs.range, 10) * UNIT_MS[qs.range.slice(-1)]).toISOString() : undefined;
  return { status: qs.status === "all" ? undefined : qs.status, severity: qs.severity || undefined,
    host: qs.host || undefined, user: qs.user || undefined, rule_id: qs.rule_id || undefined, agency: qs.agency || undefined,
    source_ip: qs.source_ip || undefined, assignee: qs.assignee || undefined, start };
}

// What a saved view keeps (the API's `filters`), and back.
function viewOf(qs) {
  const f = { status: qs.status, severity: qs.severity ? [qs.severity] : [], sort: qs.sort || "last_seen", order: qs.order || "desc",
    group_by: qs.group_by || null, range: qs.range || null };
  for (const k of ["rule_id", "host", ...TEXT_FILTERS]) f[k] = qs[k] || null;
  return f;
}

function applyView(qs, f) {
  qs.status = f.status || "all";
  qs.severity = (f.severity || [])[0] || "";
  for (const k of ["rule_id", "host", ...TEXT_FILTERS]) qs[k] = f[k] || "";
  qs.range = f.range || "";
  qs.sort = f.sort || "last_seen";
  qs.order = f.order || "desc";
  qs.group_by = f.group_by || "";
  qs.selected = 0;
}

const rebuild = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

// Rule (by title), agency, user, source address, assignee, time range, sort, order, grouping.
export function queueFilters(qs, reload) {
  const changed = (key, value) => { qs[key] = value; qs.selected = 0; reload(); };
  const ruleSel = h("select", { name: "rule_id", "aria-label": t("filter.rule_id"), onchange: () => changed("rule_id", ruleSel.value) },
    h("option", { value: "" }, t("q.allrules")), qs.rule_id ? h("option", { value: qs.rule_id, selected: true }, qs.rule_id) : null);
  // Titles come with the rule list; the filter works before they arrive (the id is shown meanwhile).
  api("/api/v1/rules").then((rules) => {
    const seen = new Set();
    const opts = rules.items.filter((r) => !seen.has(r.id) && seen.add(r.id))
      .map((r) => h("option", { value: r.id, selected: r.id === qs.rule_id }, r.title || r.id));
    if (qs.rule_id && !seen.has(qs.rule_id)) opts.push(h("option", { value: qs.rule_id, selected: true }, qs.rule_id));
    ruleSel.replaceChildren(h("option", { value: "" }, t("q.allrules")), ...opts);
  }).catch(() => {});
  const text = (key) => {
    const el = h("input", { type: "search", name: key, placeholder: t(`q.${key}`), "aria-label": t(`q.${key}`), value: qs[key] || "",
      onchange: () => changed(key, el.value.trim()) });
    return el;
  };
  const select = (key, values, label, fallback) => h("select", { name: key, "aria-label": t(label),
    onchange: (e) => changed(key, e.target.value) },
  values.map((v) => h("option", { value: v, selected: (qs[key] || fallback) === v }, t(`${label}.${v || "none"}`))));
  return h("div", { class: "filters queue-more" }, ruleSel, TEXT_FILTERS.map(text),
    select("range", RANGES, "q.range", ""), select("sort", SORTS, "q.sort", "last_seen"),
    select("order", ["desc", "asc"], "q.order", "desc"), select("group_by", GROUPS, "q.group", ""));
}

// The saved views: pick one (its filters replace the queue's), save the current filters, delete.
export function savedViews(qs) {
  const pick = h("select", { name: "saved-view", "aria-label": t("view.pick"), onchange: () => {
    const v = views.find((x) => x.id === pick.value);
    qs.view = v ? v.id : "";
    if (v) { applyView(qs, v.filters); rebuild(); } else del.hidden = true;
  } }, h("option", { value: "" }, t("view.pick")));
  let views = [];
  const del = h("button", { type: "button", class: "ghost", hidden: true, title: t("view.delete"), "aria-label": t("view.delete"),
    onclick: async () => {
      const v = views.find((x) => x.id === pick.value);
      if (!v || !window.confirm(t("view.confirm_delete", { name: v.name }))) return;
      try { await api(`/api/v1/saved-views/${encodeURIComponent(v.id)}`, { method: "DELETE" }); qs.view = ""; toast(t("view.deleted")); await list(); }
      catch (ex) { toast(ex.message, true); }
    } }, "✕");
  async function list() {
    try { views = (await api("/api/v1/saved-views")).items; } catch (ex) { toast(ex.message, true); return; }
    pick.replaceChildren(h("option", { value: "" }, t("view.pick")), ...views.map((v) =>
      h("option", { value: v.id, selected: v.id === qs.view }, v.shared ? `${v.name} · ${t("view.shared")}` : v.name)));
    del.hidden = !views.some((v) => v.id === qs.view);
  }
  const save = h("button", { type: "button", id: "save-view", onclick: () => saveDialog(qs, async (id) => { qs.view = id; await list(); }) },
    t("view.save"));
  // The queue as it is now (filters, sort, grouping, the view picked) is in the address: copy it to share.
  const link = h("button", { type: "button", name: "copy-queue-link", title: t("view.copy_link"), "aria-label": t("view.copy_link"),
    onclick: () => copyText(location.href) }, icon("link"));
  list();
  return h("span", { class: "row saved-views" }, pick, del, save, link);
}

function saveDialog(qs, onSaved) {
  const name = h("input", { name: "view-name", required: true, maxlength: 200 });
  const shared = h("input", { type: "checkbox", name: "view-shared" });
  const dlg = h("dialog", { class: "view-dialog" }, h("form", { method: "dialog", onsubmit: async (e) => {
    e.preventDefault();
    if (!name.value.trim()) return;
    try {
      const v = await api("/api/v1/saved-views", { method: "POST", body: { name: name.value.trim(), shared: shared.checked, filters: viewOf(qs) } });
      dlg.close();
      toast(t("view.done"));
      await onSaved(v.id);
    } catch (ex) { toast(ex.message, true); }
  } },
  h("h2", {}, t("view.save")), h("label", {}, t("view.name"), " ", name),
  h("label", { class: "row" }, shared, t("view.share")),
  h("div", { class: "actions" }, h("button", { type: "button", onclick: () => dlg.close() }, t("act.cancel")),
    h("button", { type: "submit", class: "primary" }, t("view.save")))));
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  name.focus();
}
