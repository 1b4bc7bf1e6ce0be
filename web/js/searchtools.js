// Search tools: absolute ranges picked in the viewer's zone (sent in UTC), drag-to-zoom on the
// histogram, the search in the URL (shareable), saved searches (private or shared with the team),
// and export as CSV / NDJSON.
import { api, apiBlob } from "./api.js";
import { h, toast } from "./dom.js";
import { t, fmtNum, TIME_ZONE } from "./i18n.js";
import { session } from "./app.js";
import { copyText } from "./eventview.js";
import { icon } from "./icons.js";

// --- time zones: the pickers show wall time in TIME_ZONE, the API gets UTC instants ---
const PARTS = {};
function zoneParts(instantMs, zone) {
  const fmt = PARTS[zone] || (PARTS[zone] = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }));
  return Object.fromEntries(fmt.formatToParts(new Date(instantMs)).map((p) => [p.type, p.value]));
}

function offsetMs(instantMs, zone) {
  const p = zoneParts(instantMs, zone);
  const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return wall - Math.floor(instantMs / 1000) * 1000;
}

// "2026-12-06T08:30" as wall time in `zone` -> the instant (Date); null when not a time.
export function zonedToDate(local, zone = TIME_ZONE) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  let instant = wall - offsetMs(wall, zone);
  instant = wall - offsetMs(instant, zone); // a second pass settles a zone whose offset changed in between
  return new Date(instant);
}

// An instant as the `datetime-local` value of its wall time in `zone`.
export function dateToZoned(value, zone = TIME_ZONE) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  const p = zoneParts(d.getTime(), zone);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

// --- the search in the URL: #/search?t=events&q=…&r=24h (or &from=…&to=… in UTC) ---
export function readHash() {
  const i = location.hash.indexOf("?");
  if (!location.hash.startsWith("#/search") || i < 0) return null;
  const p = new URLSearchParams(location.hash.slice(i + 1));
  const out = { target: p.get("t") === "alerts" ? "alerts" : "events", query: p.get("q") || "" };
  if (p.get("from") && p.get("to")) Object.assign(out, { range: "abs", from: p.get("from"), to: p.get("to") });
  else if (p.get("r")) out.range = p.get("r");
  return out;
}

export function searchUrl(state) {
  const p = new URLSearchParams({ t: state.target, q: state.query || "" });
  if (state.range === "abs") { p.set("from", state.from); p.set("to", state.to); } else p.set("r", state.range);
  return `#/search?${p}`;
}

// The address bar follows the search without a navigation (no hashchange, no reload).
export function writeHash(state) {
  const url = searchUrl(state);
  if (location.hash !== url) history.replaceState(null, "", url);
}

// --- drag-to-zoom on the histogram (charts.stackedBars' geometry: viewBox width, left padding) ---
export function enableZoom(container, buckets, intervalSecs, onZoom, { width = 800, padL = 40 } = {}) {
  const svg = container.querySelector("svg");
  if (!svg || !buckets.length) return;
  const n = buckets.length;
  const bw = (width - padL) / n;
  const sel = h("div", { class: "zoom-sel", hidden: true });
  container.append(sel);
  const index = (clientX) => {
    const box = svg.getBoundingClientRect();
    const x = ((clientX - box.left) * width) / box.width;
    return Math.max(0, Math.min(n - 1, Math.floor((x - padL) / bw)));
  };
  const startOf = (i) => new Date(typeof buckets[i].t === "number" ? buckets[i].t : Date.parse(buckets[i].t));
  let from = null;
  let fromX = 0;
  const draw = (clientX) => {
    const box = container.getBoundingClientRect();
    const left = Math.min(fromX, clientX) - box.left;
    sel.style.left = `${left}px`;
    sel.style.width = `${Math.abs(clientX - fromX)}px`;
    sel.hidden = false;
  };
  svg.addEventListener("mousedown", (e) => { e.preventDefault(); from = index(e.clientX); fromX = e.clientX; });
  svg.addEventListener("mousemove", (e) => { if (from !== null) draw(e.clientX); });
  const finish = (e) => {
    if (from === null) return;
    const to = index(e.clientX);
    const moved = Math.abs(e.clientX - fromX) >= 4;
    const a = Math.min(from, to);
    const b = Math.max(from, to);
    from = null;
    sel.hidden = true;
    if (!moved) return;
    onZoom(startOf(a), new Date(startOf(b).getTime() + intervalSecs * 1000));
  };
  svg.addEventListener("mouseup", finish);
  svg.addEventListener("mouseleave", (e) => { if (from !== null) finish(e); });
}

// --- saved searches ---
export function savedSearches({ current, apply }) {
  const pick = h("select", { name: "saved", "aria-label": t("saved.pick") });
  const del = h("button", { type: "button", class: "ghost", disabled: true, title: t("saved.delete"), "aria-label": t("saved.delete") }, icon("trash"));
  let items = [];
  const label = (s) => `${s.name}${s.shared ? ` · ${t("saved.shared_by", { who: s.owner })}` : ""}`;
  async function load(selectId) {
    try {
      items = (await api("/api/v1/saved-searches")).items;
    } catch (ex) { toast(ex.message, true); items = []; }
    pick.replaceChildren(h("option", { value: "" }, t("saved.pick")),
      ...items.map((s) => h("option", { value: s.id, selected: s.id === selectId }, label(s))));
    del.disabled = !selectId;
  }
  pick.addEventListener("change", () => {
    const s = items.find((x) => x.id === pick.value);
    del.disabled = !s || (s.owner !== session.me?.username && session.me?.role !== "admin");
    if (s) apply(s);
  });
  del.addEventListener("click", async () => {
    const s = items.find((x) => x.id === pick.value);
    if (!s || !confirm(t("saved.confirm_delete", { name: s.name }))) return;
    try {
      await api(`/api/v1/saved-searches/${encodeURIComponent(s.id)}`, { method: "DELETE" });
      toast(t("saved.deleted"));
      await load();
    } catch (ex) { toast(ex.message, true); }
  });
  const save = h("button", { type: "button", name: "save-search", onclick: () => {
    const name = h("input", { name: "saved-name", required: true, maxlength: 200 });
    const shared = h("input", { type: "checkbox", name: "saved-shared" });
    const err = h("div", { class: "error", role: "alert" });
    const dialog = h("dialog", { class: "panel save-search" }, h("form", { method: "dialog", onsubmit: async (e) => {
      e.preventDefault();
      const s = current();
      const body = { name: name.value.trim(), target: s.target, query: s.query || "*", shared: shared.checked, zone: TIME_ZONE };
      if (s.range === "abs") Object.assign(body, { start: s.from, end: s.to, range: null }); else body.range = s.range;
      try {
        const made = await api("/api/v1/saved-searches", { method: "POST", body });
        dialog.close();
        dialog.remove();
        toast(t("saved.done"));
        await load(made.id);
      } catch (ex) { err.textContent = ex.message; }
    } },
    h("h2", {}, t("saved.title")),
    h("label", {}, t("saved.name"), name),
    h("label", { class: "row" }, shared, t("saved.share")),
    err,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("act.save")),
      h("button", { type: "button", onclick: () => { dialog.close(); dialog.remove(); } }, t("act.cancel")))));
    document.body.append(dialog);
    dialog.showModal();
    name.focus();
  } }, t("saved.save"));
  load();
  return h("span", { class: "row saved-searches" }, pick, del, save);
}

// A saved search as the search page's state.
export function stateOf(saved) {
  const out = { target: saved.target, query: saved.query === "*" ? "" : saved.query };
  if (saved.start && saved.end) Object.assign(out, { range: "abs", from: saved.start, to: saved.end });
  else out.range = saved.range || "24h";
  return out;
}

// --- export ---
export function exportButtons(body) {
  const go = (format) => async () => {
    try {
      const { blob, headers } = await apiBlob("/api/v1/events/export", { body: { ...body(), format } });
      const name = /filename="([^"]+)"/.exec(headers.get("Content-Disposition") || "")?.[1] || `canhgac-events.${format}`;
      const link = h("a", { href: URL.createObjectURL(blob), download: name, hidden: true });
      document.body.append(link);
      link.click();
      setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 60_000);
      const rows = headers.get("X-Export-Rows");
      const total = headers.get("X-Export-Total");
      toast(t(headers.get("X-Export-Truncated") === "true" ? "export.capped" : "export.done",
        { rows: fmtNum(+rows), total: fmtNum(+total), cap: fmtNum(+headers.get("X-Export-Cap")) }));
    } catch (ex) { toast(ex.message, true); }
  };
  return h("span", { class: "row export" }, h("span", { class: "small muted" }, t("export.title")),
    h("button", { type: "button", name: "export-csv", onclick: go("csv") }, "CSV"),
    h("button", { type: "button", name: "export-ndjson", onclick: go("ndjson") }, "NDJSON"));
}

export function copyLinkButton() {
  return h("button", { type: "button", name: "copy-link", title: t("search.copy_link"), "aria-label": t("search.copy_link"), onclick: () => copyText(location.href) }, icon("link"));
}
