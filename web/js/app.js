// The console's shell: session, navigation (hash routes), language switch, live connection state.
import { api, setCsrf, whenUnauthorized, ApiError } from "./api.js";
import { h, mount, toast, clearToast } from "./dom.js";
import { t, getLang, setLang } from "./i18n.js";
import { alertQueue, alertPage } from "./alerts.js";
import { searchPage } from "./search.js";
import { dashboardPage } from "./dashboard.js";
import { usersPage, rulesPage, sourcesPage, auditPage } from "./admin.js";
import { exceptionsPage } from "./exceptions.js";
import { indicatorsPage } from "./intel.js";
import { retroHuntsPage } from "./retrohunts.js";
import { listsPage, lookupsPage } from "./tables.js";
import { entityPage } from "./entity.js";
import { rulePage } from "./rulepage.js";
import { casesPage } from "./cases.js";
import { casePage } from "./casepage.js";
import { exceptionRequestsPage } from "./agencyself.js";
import { onboardingPage } from "./onboarding.js";
import { notifyRoutesPage } from "./notifyroutes.js";
import { systemsPage, systemPage } from "./systems.js";
import { reportsPage, receiptsPage } from "./reports.js";
import { loadVocab } from "./vocab.js";

export const session = { me: null };
let cleanup = null;

// Each page gets a `view`: its own `mount`, which does nothing once the analyst has gone to another
// page (a slow answer must not replace the page asked for later), and `alive()`.
const ROUTES = [
  [/^#\/alerts\/(.+)$/, (m, view) => alertPage(decodeURIComponent(m[1]), view)],
  [/^#\/alerts(?:\?.*)?$/, (m, view) => alertQueue(view)], // ?…: the queue's filters, a saved view (urlstate.js)
  [/^#\/cases(?:\?.*)?$/, (m, view) => casesPage(view)], // ?…: the list's filters (urlstate.js)
  [/^#\/cases\/(.+)$/, (m, view) => casePage(decodeURIComponent(m[1]), view)],
  [/^#\/search(?:\?.*)?$/, (m, view) => searchPage(view)], // ?…: a shared search (searchtools.js)
  [/^#\/dashboard$/, (m, view) => dashboardPage(view)],
  [/^#\/rules$/, (m, view) => rulesPage(view)],
  [/^#\/rules\/(.+)$/, (m, view) => rulePage(decodeURIComponent(m[1]), view)],
  [/^#\/exceptions\/new\/(.+)$/, (m, view) => exceptionsPage(decodeURIComponent(m[1]), view)],
  [/^#\/exceptions$/, (m, view) => exceptionsPage(undefined, view)],
  [/^#\/indicators(?:\?.*)?$/, (m, view) => indicatorsPage(view)],
  [/^#\/retro-hunts$/, (m, view) => retroHuntsPage(view)],
  [/^#\/lists$/, (m, view) => listsPage(view)],
  [/^#\/lookups$/, (m, view) => lookupsPage(view)],
  [/^#\/exception-requests\/new\/(.+)$/, (m, view) => exceptionRequestsPage(decodeURIComponent(m[1]), view)],
  [/^#\/exception-requests$/, (m, view) => exceptionRequestsPage(undefined, view)],
  [/^#\/sources$/, (m, view) => sourcesPage(view)],
  [/^#\/onboarding$/, (m, view) => onboardingPage(undefined, view)],
  [/^#\/onboarding\/(.+)$/, (m, view) => onboardingPage(decodeURIComponent(m[1]), view)],
  [/^#\/notify-routes$/, (m, view) => notifyRoutesPage(view)],
  [/^#\/systems$/, (m, view) => systemsPage(view)],
  [/^#\/systems\/(.+)$/, (m, view) => systemPage(decodeURIComponent(m[1]), view)],
  [/^#\/reports$/, (m, view) => reportsPage(view)],
  [/^#\/receipts$/, (m, view) => receiptsPage(view)],
  [/^#\/users$/, (m, view) => usersPage(view)],
  [/^#\/audit$/, (m, view) => auditPage(view)],
  [/^#\/entity\/(host|user|ip)\/(.+)$/, (m, view) => entityPage(m[1], decodeURIComponent(m[2]), view)],
];
let navigation = 0;

function pageView(nav) {
  const alive = () => nav === navigation;
  return { alive, mount: (el) => (alive() ? mount(el) : null) };
}

// What a page that could not load shows instead of itself (and never a stale "…").
export function errorPanel(ex) {
  const forbidden = ex instanceof ApiError && ex.status === 403;
  return h("div", { class: "panel page-error", role: "alert" }, h("h1", {}, t("error")),
    h("p", {}, forbidden ? t("error.forbidden") : ex.message),
    h("p", {}, h("a", { href: "#/alerts" }, "← " + t("error.back"))));
}

function navItems() {
  const admin = session.me?.permissions.includes("admin");
  const tuning = session.me?.permissions.includes("read_tuning");
  return [["#/alerts", "nav.alerts"], ["#/cases", "nav.cases"], ["#/search", "nav.search"], ["#/dashboard", "nav.dashboard"],
    ["#/rules", "nav.rules"], ...(tuning ? [["#/exceptions", "nav.exceptions"], ["#/indicators", "nav.indicators"], ["#/retro-hunts", "nav.hunts"], ["#/lists", "nav.lists"], ["#/lookups", "nav.lookups"]] : []), ["#/sources", "nav.sources"], ["#/systems", "nav.systems"], ["#/reports", "nav.reports"], ["#/receipts", "nav.receipts"],
    ...(session.me?.permissions.includes("request_exception") || session.me?.permissions.includes("tune") ? [["#/exception-requests", "nav.requests"]] : []),
    ...(session.me?.permissions.includes("manage_routes") ? [["#/notify-routes", "nav.routes"]] : []),
    ...(admin ? [["#/users", "nav.users"], ["#/audit", "nav.audit"]] : [])];
}

function renderChrome() {
  const bar = document.getElementById("topbar");
  bar.hidden = !session.me;
  document.getElementById("lang-toggle").textContent = getLang() === "vi" ? "EN" : "VI";
  document.getElementById("lang-toggle").title = getLang() === "vi" ? "English" : "Tiếng Việt";
  document.getElementById("logout").textContent = t("logout");
  if (!session.me) return;
  document.getElementById("who").textContent = `${session.me.username} · ${t(`role.${session.me.role}`)}${session.me.agency ? ` · ${session.me.agency}` : ""}`;
  const current = location.hash.split("?")[0].split("/").slice(0, 2).join("/");
  document.getElementById("nav").replaceChildren(...navItems().map(([href, key]) =>
    h("a", { href, class: current === href ? "active" : null }, t(key))));
}

export function setLive(on) {
  const el = document.getElementById("live");
  el.hidden = on === null;
  el.className = on ? "live" : "live off";
  el.textContent = on ? t("live.on") : t("live.off");
}

async function route() {
  const nav = ++navigation;
  if (cleanup) { cleanup(); cleanup = null; }
  setLive(null);
  clearToast();
  if (!session.me) { loginPage(); renderChrome(); return; }
  if (!location.hash || location.hash === "#/" || location.hash === "#/login") { location.hash = "#/alerts"; return; }
  renderChrome();
  try { await loadVocab(); } catch (ex) { toast(ex.message, true); } // once per session; pages then read it
  if (nav !== navigation) return;
  for (const [re, page] of ROUTES) {
    const m = location.hash.match(re);
    if (!m) continue;
    const view = pageView(nav);
    let done = null;
    try { done = (await page(m, view)) || null; } catch (ex) { view.mount(errorPanel(ex)); }
    // Left meanwhile: the page's key handlers and live stream go now, not with the next page.
    if (nav !== navigation) { if (done) done(); return; }
    cleanup = done;
    return;
  }
  location.hash = "#/alerts";
}

function loginPage() {
  const err = h("div", { class: "error", role: "alert" });
  const user = h("input", { name: "username", autocomplete: "username", required: true, autofocus: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "panel login", onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = "";
    try {
      const me = await api("/api/v1/auth/login", { method: "POST", body: { username: user.value, password: pass.value } });
      setCsrf(me.csrf_token);
      session.me = me;
      if (!location.hash || location.hash === "#/login") location.hash = "#/alerts"; else route();
    } catch (ex) {
      err.textContent = ex instanceof ApiError && ex.status === 429 ? t("login.limited", { s: ex.retryAfter || 60 })
        : ex instanceof ApiError && ex.status === 401 ? t("login.bad") : `${t("error")}: ${ex.message}`;
    }
  } },
  h("h1", {}, h("img", { src: "favicon.svg", width: 28, height: 28, alt: "" }), "Canhgac"),
  h("div", { class: "muted" }, t("login.tagline")),
  h("label", { for: "login-user" }, t("login.user")), Object.assign(user, { id: "login-user" }),
  h("label", { for: "login-pass" }, t("login.password")), Object.assign(pass, { id: "login-pass" }),
  h("button", { class: "primary", type: "submit" }, t("login.submit")), err,
  h("div", { class: "row small muted" }, h("span", {}, t("tz")), h("button", { type: "button", class: "ghost right",
    onclick: () => { setLang(getLang() === "vi" ? "en" : "vi"); route(); } }, getLang() === "vi" ? "English" : "Tiếng Việt")));
  mount(h("div", { class: "login-wrap" }, form));
  user.focus();
}

async function start() {
  setLang(getLang());
  whenUnauthorized(() => { session.me = null; setCsrf(null); route(); });
  document.getElementById("lang-toggle").addEventListener("click", () => { setLang(getLang() === "vi" ? "en" : "vi"); route(); });
  document.getElementById("logout").addEventListener("click", async () => {
    try { await api("/api/v1/auth/logout", { method: "POST" }); } catch { /* already gone */ }
    session.me = null; setCsrf(null); location.hash = "#/login"; route();
  });
  try {
    session.me = await api("/api/v1/auth/me");
    setCsrf(session.me.csrf_token);
  } catch { session.me = null; }
  window.addEventListener("hashchange", route);
  route();
}

start();
