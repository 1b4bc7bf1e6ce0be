// Pivots: a host, user, IP, rule or agency value is a menu — filter the queue by it, search for it,
// open its entity page. One menu is open at a time; it closes on Escape, a click elsewhere, or a
// new page.
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { filterQueue } from "./alerts.js";
import { searchFor } from "./search.js";

// kind -> the queue filter it sets, the field searched (and where), whether it has an entity page.
const KINDS = {
  host: { queue: "host", field: "host.name", target: "events", page: true },
  user: { queue: "user", field: "user.name", target: "events", page: true },
  ip: { field: "source.ip", target: "events", page: true },
  rule: { queue: "rule_id", field: "rule.id", target: "alerts" },
  agency: { queue: "agency", field: "canhgac.agency", target: "events" },
};

let openMenu = null;
export function closePivot() {
  if (openMenu) { openMenu.remove(); openMenu = null; }
}
document.addEventListener("click", (e) => { if (openMenu && !openMenu.contains(e.target)) closePivot(); });
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && openMenu) { e.stopPropagation(); closePivot(); } }, true);
window.addEventListener("hashchange", closePivot);

export const quoted = (v) => `"${String(v).replace(/(["\\])/g, "\\$1")}"`;

function menuFor(kind, value, anchor) {
  const k = KINDS[kind];
  const go = (fn) => (e) => { e.preventDefault(); e.stopPropagation(); closePivot(); fn(); };
  const items = [];
  if (k.queue) items.push([t("pivot.queue"), () => filterQueue({ [k.queue]: value })]);
  items.push([t(k.target === "alerts" ? "pivot.search_alerts" : "pivot.search_events"), () => searchFor(k.target, `${k.field}:${quoted(value)}`)]);
  if (kind === "ip") items.push([t("pivot.search_alerts"), () => searchFor("alerts", `source.ip:${quoted(value)}`)]);
  if (k.page) items.push([t(`pivot.page.${kind}`), () => { location.hash = `#/entity/${kind}/${encodeURIComponent(value)}`; }]);
  const menu = h("div", { class: "pivot-menu", role: "menu", "aria-label": String(value) },
    h("div", { class: "small muted pivot-head" }, `${t(`pivot.kind.${kind}`)}: `, h("b", {}, String(value))),
    items.map(([label, fn]) => h("button", { type: "button", role: "menuitem", onclick: go(fn) }, label)));
  const box = anchor.getBoundingClientRect();
  menu.style.left = `${Math.max(4, Math.min(box.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - 260))}px`;
  menu.style.top = `${box.bottom + window.scrollY + 2}px`;
  return menu;
}

// The value as a pivot: shown as text, a menu on click (or Enter). Clicks do not reach the row.
export function pivot(kind, value, label) {
  if (value === undefined || value === null || value === "") return "—";
  const el = h("button", { type: "button", class: "pivot", dataset: { kind, value: String(value) }, "aria-haspopup": "menu",
    title: t("pivot.hint") }, label ?? String(value));
  el.addEventListener("click", (e) => {
    e.preventDefault();
    e.stopPropagation();
    const again = openMenu && openMenu.dataset.for === `${kind}:${value}`;
    closePivot();
    if (again) return;
    openMenu = menuFor(kind, value, el);
    openMenu.dataset.for = `${kind}:${value}`;
    document.body.append(openMenu);
    openMenu.querySelector("button")?.focus();
  });
  return el;
}
