// Managing the information systems inventory from the console (docs/agencies.md): "New system" and
// "Import CSV" on the Systems page, "Edit" and "Delete" on a system's page. Shown only to users with
// the admin permission (the API's role check for POST/PATCH/DELETE /api/v1/systems and the import);
// agency users keep the read-only pages. Errors are the API's, shown as they come.
import { api, apiText, ApiError } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { session } from "./app.js";

export const canManage = () => Boolean(session.me?.permissions.includes("admin"));

const split = (text) => text.split(/[\n;,]/).map((s) => s.trim()).filter(Boolean);
// One contact per line: name | email | phone | role (the CSV's form).
const contacts = (text) => text.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
  const [name, email, phone, role] = l.split("|").map((s) => s.trim() || null);
  return { name, email, phone, role };
});
const contactLine = (c) => [c.name, c.email || "", c.phone || "", c.role || ""].join(" | ").replace(/( \| )+$/, "");

function errorText(e) {
  if (e instanceof ApiError && Array.isArray(e.data?.problems) && e.data.problems.length) {
    return e.data.detail || e.message;
  }
  return e.message;
}

// The form for a new system (system = null) or a change; `done` gets the saved system.
function systemForm(system, done) {
  const field = (name, label, input) => h("label", { class: "field" }, h("span", {}, t(label)), input);
  const inp = (name, value, extra = {}) => h("input", { name, value: value ?? "", ...extra });
  const area = (name, value) => { const a = h("textarea", { name, rows: 2 }); a.value = value; return a; };
  const level = h("select", { name: "security_level" }, [1, 2, 3, 4, 5].map((n) =>
    h("option", { value: String(n), selected: system ? system.security_level === n : n === 3 }, t("sys.level_n", { n }))));
  const crit = h("select", { name: "criticality" }, ["low", "medium", "high", "vital"].map((c) =>
    h("option", { value: c, selected: (system?.criticality || "medium") === c }, t(`sys.crit.${c}`))));
  const err = h("div", { class: "error", role: "alert" });
  const form = h("form", { id: "system-form", class: "panel" },
    system ? null : field("id", "sys.id", inp("id", "", { required: true, pattern: "[a-z0-9][a-z0-9._-]*" })),
    field("name", "sys.name", inp("name", system?.name, { required: true })),
    field("agency", "sys.agency", inp("agency", system?.agency, { required: true })),
    field("security_level", "sys.level", level),
    field("criticality", "sys.criticality", crit),
    field("hosts", "sys.hosts", area("hosts", (system?.hosts || []).join("\n"))),
    field("sources", "sys.sources", area("sources", (system?.sources || []).join("\n"))),
    field("contacts", "sys.contacts_form", area("contacts", (system?.contacts || []).map(contactLine).join("\n"))),
    h("button", { type: "submit", class: "primary" }, t("sys.save")), err);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    const f = new FormData(form);
    const body = {
      name: f.get("name"), agency: f.get("agency"), security_level: Number(f.get("security_level")),
      criticality: f.get("criticality"), hosts: split(f.get("hosts")), sources: split(f.get("sources")),
      contacts: contacts(f.get("contacts")),
    };
    try {
      const saved = system
        ? await api(`/api/v1/systems/${encodeURIComponent(system.id)}`, { method: "PATCH", body })
        : await api("/api/v1/systems", { method: "POST", body: { id: f.get("id"), ...body } });
      done(saved);
    } catch (e) { err.textContent = errorText(e); }
  });
  return form;
}

// Buttons and panels for the Systems list: "New system" and "Import CSV" with the per-line result.
export function listTools() {
  if (!canManage()) return null;
  const slot = h("div", { id: "systems-manage" });
  const result = h("div", { id: "import-result" });
  const file = h("input", { type: "file", accept: ".csv,text/csv", id: "import-file", hidden: true });
  file.addEventListener("change", async () => {
    const one = file.files[0];
    if (!one) return;
    result.replaceChildren();
    try {
      const r = await apiText("/api/v1/systems/import", await one.text());
      result.append(h("div", { class: "panel ok" }, t("sys.import_ok", { c: r.created.length, u: r.updated.length }),
        " ", [...r.created, ...r.updated].join(", ")));
    } catch (e) {
      const problems = e.data?.problems || [];
      result.append(h("div", { class: "panel error", role: "alert" }, h("div", {}, errorText(e)),
        problems.length ? h("ul", { class: "import-problems" }, problems.map((p) =>
          h("li", {}, t("sys.import_line", { n: p.line }), " ", p.message))) : null));
    }
    file.value = "";
  });
  const newBtn = h("button", { type: "button", id: "system-new" }, t("sys.new"));
  newBtn.addEventListener("click", () => slot.replaceChildren(systemForm(null, (s) => {
    location.hash = `#/systems/${encodeURIComponent(s.id)}`;
  })));
  const importBtn = h("button", { type: "button", id: "system-import" }, t("sys.import"));
  importBtn.addEventListener("click", () => file.click());
  return h("div", {}, h("div", { class: "actions" }, newBtn, " ", importBtn, file), slot, result);
}

// "Edit" and "Delete" on a system's page.
export function systemTools(system, reload) {
  if (!canManage()) return null;
  const slot = h("div", { id: "system-manage" });
  const err = h("div", { class: "error", role: "alert" });
  const edit = h("button", { type: "button", id: "system-edit" }, t("sys.edit"));
  edit.addEventListener("click", () => slot.replaceChildren(systemForm(system, () => reload())));
  const del = h("button", { type: "button", id: "system-delete", class: "danger" }, t("sys.delete"));
  del.addEventListener("click", async () => {
    if (!window.confirm(t("sys.delete_confirm", { name: system.name }))) return;
    try {
      await api(`/api/v1/systems/${encodeURIComponent(system.id)}`, { method: "DELETE" });
      location.hash = "#/systems";
    } catch (e) { err.textContent = errorText(e); }
  });
  return h("div", {}, h("div", { class: "actions" }, edit, " ", del), err, slot);
}
