// Onboarding a log source (issue 16, item 5): declare it, copy its ingest key (shown once), copy a
// ready configuration for rsyslog, syslog-ng, NXLog, Winlogbeat or Fluent Bit, then watch the
// "first event received" check turn green and the last hour's parse-error rate.
// #/onboarding: declare (admins) or pick a source; #/onboarding/<id>: connect that source.
import { api } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtTime, fmtNum } from "./i18n.js";
import { session } from "./app.js";

const POLL_MS = 3000;
const SHIPPERS = [["rsyslog", "rsyslog"], ["syslog-ng", "syslog-ng"], ["nxlog", "NXLog"], ["winlogbeat", "Winlogbeat"], ["fluent-bit", "Fluent Bit"]];
const FORMATS = ["syslog", "linux-auth", "auditd", "nginx-access", "apache-access", "iis-w3c", "winlogbeat", "nxlog-json",
  "fortigate", "pfsense", "cisco-asa", "cef", "leef", "json", "motcua-audit"];
const isAdmin = () => session.me?.permissions.includes("admin");

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch { // no clipboard API (plain http on another host): the old way
    const area = h("textarea", { readonly: true, style: "position:fixed;opacity:0" }, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  toast(t("onb.copied"));
}

function keyPanel(sourceId, key) {
  const panel = h("div", { class: "panel", id: "onb-key" }, h("h2", {}, t("sources.key_title", { id: sourceId })),
    h("div", { class: "error", role: "alert" }, t("onb.key_once")),
    h("div", { class: "row" }, h("code", { class: "mono", id: "onb-key-value" }, key),
      h("button", { type: "button", class: "primary", id: "onb-copy-key", onclick: () => copyText(key) }, t("onb.copy")),
      h("button", { type: "button", class: "ghost", onclick: () => panel.remove() }, t("onb.key_saved"))));
  return panel;
}

function configsPanel(answer) {
  const pre = h("pre", { class: "mono small", id: "onb-config", style: "max-height:420px;overflow:auto;white-space:pre" });
  const where = h("div", { class: "small muted" });
  const note = h("div", { class: "small", id: "onb-config-note" });
  let current = null;
  const tabs = SHIPPERS.map(([name, label]) => h("button", { type: "button", class: "ghost", role: "tab", dataset: { shipper: name },
    onclick: () => show(name) }, label));
  const show = (name) => {
    current = answer.items.find((c) => c.shipper === name);
    for (const b of tabs) { b.className = b.dataset.shipper === name ? "primary" : "ghost"; b.setAttribute("aria-selected", String(b.dataset.shipper === name)); }
    pre.textContent = current.text;
    where.textContent = `${t("onb.file")}: ${current.file_name} · ${t("onb.doc")}: ${current.doc}`;
    note.replaceChildren(current.uses_key
      ? (answer.key_filled ? t("onb.key_in") : t("onb.key_placeholder"))
      : (answer.allowed_addresses.length ? t("onb.by_address", { addresses: answer.allowed_addresses.join(", ") })
        : h("span", { class: "error" }, t("onb.no_address"))));
  };
  const panel = h("div", { class: "panel", id: "onb-configs" }, h("h2", {}, t("onb.configs")),
    h("div", { class: "row", role: "tablist" }, tabs), where, note, pre,
    h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "onb-copy-config",
      onclick: () => copyText(current.text) }, t("onb.copy_config"))));
  show("rsyslog");
  return panel;
}

function statusPanel(sourceId, view) {
  const panel = h("div", { class: "panel", id: "onb-status", dataset: { received: "false" } }, h("h2", {}, t("onb.check")));
  const body = h("div", {});
  panel.append(body);
  const render = (s) => {
    panel.dataset.received = String(s.received);
    const rate = s.last_hour_parse_error_rate;
    body.replaceChildren(...[ // replaceChildren, unlike h(), would show a null as "null"
      h("p", {}, s.received
        ? h("span", { class: "badge st-closed", id: "onb-first" }, "✓ ", t("onb.received", { at: fmtTime(s.first_event_at) }))
        : h("span", { class: "badge", id: "onb-first" }, t("onb.waiting"))),
      s.received ? h("p", { class: "small muted" }, t("onb.last", { at: fmtTime(s.last_event_at), n: fmtNum(s.events_total) })) : null,
      h("p", { id: "onb-errors" }, t("onb.errors_hour"), ": ", rate === null
        ? t("onb.no_events_hour")
        : h("span", { class: rate > 0 ? "badge st-new" : "badge st-closed" },
          `${fmtNum(s.last_hour_parse_errors)} / ${fmtNum(s.last_hour_events)} (${(rate * 100).toFixed(1)}%)`)),
      rate ? h("p", { class: "small" }, h("a", { href: `#/search?q=${encodeURIComponent(`canhgac.source_id:"${sourceId}" AND event.kind:pipeline_error`)}` }, t("onb.see_errors"))) : null,
    ].filter(Boolean));
  };
  let timer = null;
  const poll = async () => {
    if (!view.alive()) return;
    try { render(await api(`/api/v1/sources/${encodeURIComponent(sourceId)}/onboarding`)); }
    catch (ex) { body.replaceChildren(h("p", { class: "error" }, ex.message)); }
    if (view.alive()) timer = setTimeout(poll, POLL_MS);
  };
  poll();
  return [panel, () => clearTimeout(timer)];
}

function declareForm(onCreated) {
  const list = (v) => v.split(",").map((x) => x.trim()).filter(Boolean);
  const f = {
    id: h("input", { name: "id", required: true, pattern: "[a-z0-9][a-z0-9._\\-]+", placeholder: "ubnd-web01" }),
    agency: h("input", { name: "agency", required: true, placeholder: "so-tttt" }),
    format: h("input", { name: "format", value: "syslog", list: "onb-formats" }),
    addresses: h("input", { name: "allowed_addresses", placeholder: "10.1.2.0/24, 10.1.3.4" }),
    level: h("select", { name: "security_level" }, [1, 2, 3, 4, 5].map((n) => h("option", { value: n, selected: n === 3 }, String(n)))),
  };
  return h("form", { class: "panel", id: "onb-form", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const created = await api("/api/v1/sources", { method: "POST", body: { id: f.id.value.trim(), agency: f.agency.value.trim(),
        format: f.format.value.trim() || "syslog", allowed_addresses: list(f.addresses.value), security_level: Number(f.level.value) } });
      onCreated(created.id, created.ingest_key);
    } catch (ex) { toast(ex.message, true); }
  } }, h("h2", {}, t("onb.declare")), h("p", { class: "small muted" }, t("onb.declare_help")),
  h("datalist", { id: "onb-formats" }, FORMATS.map((x) => h("option", { value: x }))),
  h("div", { class: "row" }, h("label", {}, "ID ", f.id), h("label", {}, t("col.agency"), " ", f.agency),
    h("label", {}, t("sources.format"), " ", f.format), h("label", {}, t("sources.addresses"), " ", f.addresses),
    h("label", {}, t("sources.level"), " ", f.level), h("button", { type: "submit", class: "primary" }, t("onb.declare_go"))));
}

// The key (when just created or rotated), the configurations with it, and the live check.
async function connect(sourceId, key, area, view) {
  const answer = await api(`/api/v1/sources/${encodeURIComponent(sourceId)}/shipper-configs`, { method: "POST", body: key ? { ingest_key: key } : {} });
  const [status, stop] = statusPanel(sourceId, view);
  const rotate = isAdmin() && !key ? h("button", { type: "button", class: "ghost", id: "onb-rotate", onclick: async () => {
    if (!window.confirm(t("sources.confirm_rotate"))) return;
    try {
      const r = await api(`/api/v1/sources/${encodeURIComponent(sourceId)}/key`, { method: "POST" });
      stop();
      await connect(sourceId, r.ingest_key, area, view);
    } catch (ex) { toast(ex.message, true); }
  } }, t("onb.rotate_fill")) : null;
  area.replaceChildren(...[h("div", { class: "pagehead" }, h("h2", {}, t("onb.connect", { id: sourceId })), rotate),
    key ? keyPanel(sourceId, key) : null, configsPanel(answer), status].filter(Boolean));
  return stop;
}

export async function onboardingPage(sourceId, view) {
  const area = h("div", { id: "onb-area" });
  let stop = () => {};
  const { items } = await api("/api/v1/sources");
  const declared = items.filter((s) => s.declared);
  const pick = h("select", { id: "onb-pick", onchange: () => { if (pick.value) location.hash = `#/onboarding/${encodeURIComponent(pick.value)}`; } },
    h("option", { value: "" }, t("onb.pick")), declared.map((s) => h("option", { value: s.id, selected: s.id === sourceId }, `${s.id} (${s.agency || "—"})`)));
  view.mount(h("div", {}, h("div", { class: "pagehead" }, h("h1", {}, t("onb.title")), pick),
    h("p", { class: "muted" }, t("onb.intro")),
    !sourceId && isAdmin() ? declareForm(async (id, key) => {
      history.replaceState(null, "", `#/onboarding/${encodeURIComponent(id)}`); // no reload: the key lives on this page only
      document.getElementById("onb-form")?.remove();
      try { stop = await connect(id, key, area, view); } catch (ex) { toast(ex.message, true); }
    }) : null, area));
  if (sourceId) stop = await connect(sourceId, null, area, view);
  return () => stop();
}
