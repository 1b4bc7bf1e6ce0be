// Watch/allow lists and lookup tables (docs/threat-intel.md): view and edit. Lists are values of
// one type that rules (`%list:name%`) and exceptions (`in_list`) name; an edit applies within the
// detector's reload interval. Lookup tables map addresses and host names to agency, system and
// owner, written into events at normalisation (`canhgac.lookup.<side>`).
import { api, apiText } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime, fmtNum } from "./i18n.js";
import { session } from "./app.js";

const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
const lines = (text) => text.split(/\r?\n/).map((v) => v.trim()).filter(Boolean);
const updated = (x) => (x.updated_at ? `${fmtTime(x.updated_at)} · ${x.updated_by || ""}` : "");

function listEditor(item, canEdit) {
  const values = h("textarea", { name: "values", rows: 6, class: "mono", "aria-label": t("lst.values"), readonly: !canEdit },
    (item.values || []).join("\n"));
  const description = h("input", { name: "description", value: item.description || "", size: 40, "aria-label": t("lst.description"),
    readonly: !canEdit });
  return h("form", { class: "panel", dataset: { list: item.name }, onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api(`/api/v1/lists/${encodeURIComponent(item.name)}`, { method: "PUT",
        body: { type: item.type, description: description.value.trim(), values: lines(values.value) } });
      toast(t("saved")); reload();
    } catch (ex) { toast(ex.message, true); }
  } },
  h("h2", {}, h("span", { class: "mono" }, item.name), " ", h("span", { class: "badge" }, t(`lst.t.${item.type}`)), " ",
    h("span", { class: "muted small" }, t("lst.count", { n: fmtNum(item.count) }))),
  h("div", { class: "muted small" }, t("lst.use", { name: item.name }), " · ", updated(item)),
  h("label", {}, t("lst.description"), " ", description), h("label", {}, t("lst.values_hint"), values),
  canEdit ? h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("act.save")),
    h("button", { type: "button", class: "ghost", onclick: async () => {
      if (!window.confirm(t("lst.confirm_delete", { name: item.name }))) return;
      try { await api(`/api/v1/lists/${encodeURIComponent(item.name)}`, { method: "DELETE" }); toast(t("saved")); reload(); }
      catch (ex) { toast(ex.message, true); }
    } }, t("act.delete"))) : null);
}

function newListForm() {
  const name = h("input", { name: "name", required: true, pattern: "[a-z0-9][a-z0-9_.\\-]*", placeholder: "scanners", "aria-label": t("lst.name") });
  const type = h("select", { name: "type", "aria-label": t("lst.type") }, ["ip", "string"].map((v) => h("option", { value: v }, t(`lst.t.${v}`))));
  const values = h("textarea", { name: "values", rows: 4, class: "mono", placeholder: "10.0.0.0/8\n203.0.113.7", "aria-label": t("lst.values") });
  return h("form", { class: "panel", id: "list-new", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api(`/api/v1/lists/${encodeURIComponent(name.value.trim())}`, { method: "PUT", body: { type: type.value, values: lines(values.value) } });
      toast(t("saved")); reload();
    } catch (ex) { toast(ex.message, true); }
  } }, h("h2", {}, t("lst.new")), h("div", { class: "muted small" }, t("lst.help")),
  h("div", { class: "row" }, h("label", {}, t("lst.name"), " ", name), type), h("label", {}, t("lst.values_hint"), values),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("act.create"))));
}

export async function listsPage(view) {
  const { items } = await api("/api/v1/lists");
  const found = await Promise.all(items.map((x) => api(`/api/v1/lists/${encodeURIComponent(x.name)}`)));
  const tune = session.me?.permissions.includes("tune");
  view.mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("lst.title"))),
    tune ? newListForm() : null,
    found.length ? found.map((x) => listEditor(x, tune)) : h("div", { class: "panel empty" }, t("lst.empty"))));
  return null;
}

const COLUMNS = ["match", "agency", "system", "owner", "note"];
const csvCell = (v) => (v === undefined || v === null ? "" : /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
const toCsv = (rows) => [COLUMNS.join(","), ...rows.map((r) => COLUMNS.map((c) => csvCell(r[c])).join(","))].join("\n");

function tablePanel(table, canEdit) {
  const csv = h("textarea", { name: "csv", rows: 6, class: "mono", "aria-label": t("lk.csv") }, toCsv(table.rows));
  const rows = table.rows.map((r) => h("tr", {}, COLUMNS.map((c) => h("td", { class: c === "match" ? "mono small" : null },
    r[c] || ""))));
  return h("div", { class: "panel", dataset: { table: table.name } },
    h("h2", {}, h("span", { class: "mono" }, table.name), " ", h("span", { class: "muted small" }, t("lk.count", { n: fmtNum(table.count) }))),
    h("div", { class: "muted small" }, table.description || "", " ", updated(table)),
    rows.length ? h("table", {}, h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", {}, t(`lk.c.${c}`))))), h("tbody", {}, rows))
      : h("div", { class: "empty" }, t("lk.no_rows")),
    canEdit ? h("form", { onsubmit: async (e) => {
      e.preventDefault();
      try { await apiText(`/api/v1/lookups/${encodeURIComponent(table.name)}/import`, csv.value); toast(t("saved")); reload(); }
      catch (ex) { toast(ex.message, true); }
    } }, h("label", {}, t("lk.edit_csv"), csv), h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("act.save")),
      h("button", { type: "button", class: "ghost", onclick: async () => {
        if (!window.confirm(t("lk.confirm_delete", { name: table.name }))) return;
        try { await api(`/api/v1/lookups/${encodeURIComponent(table.name)}`, { method: "DELETE" }); toast(t("saved")); reload(); }
        catch (ex) { toast(ex.message, true); }
      } }, t("act.delete")))) : null);
}

function newTableForm() {
  const name = h("input", { name: "name", required: true, pattern: "[a-z0-9][a-z0-9_.\\-]*", placeholder: "assets", "aria-label": t("lk.name") });
  const csv = h("textarea", { name: "csv", rows: 4, class: "mono", "aria-label": t("lk.csv"),
    placeholder: "match,agency,system,owner,note\n10.20.0.0/16,so-yte,his-benhvien,Phòng CNTT," });
  return h("form", { class: "panel", id: "lookup-new", onsubmit: async (e) => {
    e.preventDefault();
    try { await apiText(`/api/v1/lookups/${encodeURIComponent(name.value.trim())}/import`, csv.value); toast(t("saved")); reload(); }
    catch (ex) { toast(ex.message, true); }
  } }, h("h2", {}, t("lk.new")), h("div", { class: "muted small" }, t("lk.help")),
  h("label", {}, t("lk.name"), " ", name), h("label", {}, t("lk.csv"), csv),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("act.create"))));
}

export async function lookupsPage(view) {
  const { items } = await api("/api/v1/lookups");
  const tables = await Promise.all(items.map((x) => api(`/api/v1/lookups/${encodeURIComponent(x.name)}`)));
  const admin = session.me?.permissions.includes("admin");
  view.mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("lk.title"))),
    h("div", { class: "muted small" }, t("lk.tenancy")),
    admin ? newTableForm() : null,
    tables.length ? tables.map((x) => tablePanel(x, admin)) : h("div", { class: "panel empty" }, t("lk.empty"))));
  return null;
}
