// An agency's own notification routes (issue 16, item 4): its alerts, from a severity up, also go to
// channels the SOC gave the agency (notify.agency_channels). An agency analyst sees and edits its
// agency's routes only; an admin any agency's. The API refuses a channel not given to the agency.
// #/notify-routes
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime } from "./i18n.js";
import { session } from "./app.js";
import { severitiesHighFirst } from "./vocab.js";

const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
const routePath = (agency, name) => `/api/v1/notify/routes/${encodeURIComponent(agency)}/${encodeURIComponent(name)}`;

async function remove(route) {
  if (!window.confirm(t("nr.confirm_delete", { name: route.name }))) return;
  try { await api(routePath(route.agency, route.name), { method: "DELETE" }); toast(t("nr.deleted")); reload(); }
  catch (ex) { toast(ex.message, true); }
}

function routeForm(channels) {
  const own = session.me?.agency;
  const f = {
    agency: own ? null : h("input", { name: "agency", required: true, placeholder: "so-tttt" }),
    name: h("input", { name: "name", required: true, pattern: "[A-Za-z0-9_.\\-]+", placeholder: "truc-ca" }),
    severity: h("select", { name: "min_severity" }, h("option", { value: "" }, t("nr.any_severity")),
      severitiesHighFirst().map((s) => h("option", { value: s }, t(`sev.${s}`)))),
    enabled: h("input", { type: "checkbox", name: "enabled", checked: true }),
  };
  const boxes = channels.map((c) => h("label", { class: "row" }, h("input", { type: "checkbox", name: "channel", value: c }), h("span", { class: "mono small" }, c)));
  return h("form", { class: "panel", id: "route-form", onsubmit: async (e) => {
    e.preventDefault();
    const picked = boxes.map((b) => b.querySelector("input")).filter((b) => b.checked).map((b) => b.value);
    if (!picked.length) { toast(t("nr.need_channel"), true); return; }
    const agency = own || f.agency.value.trim();
    try {
      await api(routePath(agency, f.name.value.trim()), { method: "PUT",
        body: { min_severity: f.severity.value || null, channels: picked, enabled: f.enabled.checked } });
      toast(t("saved"));
      reload();
    } catch (ex) { toast(ex.message, true); }
  } }, h("h2", {}, t("nr.new")), h("p", { class: "small muted" }, t("nr.help")),
  h("div", { class: "row" }, f.agency ? h("label", {}, t("col.agency"), " ", f.agency) : null,
    h("label", {}, t("nr.name"), " ", f.name), h("label", {}, t("nr.min_severity"), " ", f.severity),
    h("label", { class: "row" }, f.enabled, t("nr.enabled"))),
  h("fieldset", { id: "route-channels" }, h("legend", {}, t("nr.channels")),
    boxes.length ? boxes : h("div", { class: "muted" }, t("nr.no_channels"))),
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("act.save"))));
}

export async function notifyRoutesPage(view) {
  const { items, channels } = await api("/api/v1/notify/routes");
  const rows = items.map((r) => h("tr", { dataset: { key: `${r.agency}/${r.name}` } },
    h("td", {}, r.agency), h("td", {}, h("b", {}, r.name)),
    h("td", {}, r.min_severity ? t(`sev.${r.min_severity}`) : t("nr.any_severity")),
    h("td", { class: "mono small" }, r.channels.join(", ")),
    h("td", {}, h("span", { class: `badge ${r.enabled ? "st-closed" : ""}` }, r.enabled ? t("nr.on") : t("nr.off"))),
    h("td", { class: "small" }, r.updated_by || "", h("div", { class: "muted" }, fmtTime(r.updated_at))),
    h("td", {}, h("button", { type: "button", class: "ghost", onclick: () => remove(r) }, t("act.delete")))));
  view.mount(h("div", {},
    h("div", { class: "pagehead" }, h("h1", {}, t("nr.title")), session.me?.agency ? h("span", { class: "muted" }, session.me.agency) : null),
    h("div", { class: "panel flush" }, items.length ? h("table", { id: "route-table" },
      h("thead", {}, h("tr", {}, ["col.agency", "nr.name", "nr.min_severity", "nr.channels", "col.status", "nr.updated", ""].map((k) => h("th", {}, k ? t(k) : "")))),
      h("tbody", {}, rows)) : h("div", { class: "empty", id: "route-none" }, t("nr.none"))),
    routeForm(channels)));
  return null;
}
