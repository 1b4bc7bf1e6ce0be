// Tiny DOM helpers. Text always goes through textContent: nothing from the server is parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

export function mount(el) {
  const main = document.getElementById("main");
  main.replaceChildren(el);
  return main;
}

let toastTimer;
export function toast(text, bad = false) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.className = bad ? "toast bad" : "toast";
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 3500);
}

// A new page starts without the previous page's message.
export function clearToast() {
  clearTimeout(toastTimer);
  document.getElementById("toast").hidden = true;
}

export function typing(ev) {
  const t = ev.target;
  // A checked box keeps the focus after a click; the shortcuts still work there.
  const box = t instanceof HTMLInputElement && (t.type === "checkbox" || t.type === "radio");
  return (t instanceof HTMLInputElement && !box) || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement
    || ev.ctrlKey || ev.metaKey || ev.altKey || document.querySelector("dialog[open]");
}
