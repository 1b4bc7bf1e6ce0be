// Inline SVG charts: stacked bars over time, and horizontal bar lists. No library.
import { h, s } from "./dom.js";
import { fmtNum, fmtTime } from "./i18n.js";

const PALETTE = ["#1f6feb", "#2da44e", "#bf8700", "#8250df", "#cf222e", "#1b7c83", "#9a6700", "#6e7781", "#e16f24", "#4c2889"];

export function stackedBars(buckets, { keys, classFor, colorFor, height = 200, width = 1200 } = {}) {
  const padL = 40, padB = 22, padT = 8;
  const n = Math.max(buckets.length, 1);
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const bw = (width - padL) / n;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  const plotH = height - padB - padT;
  for (const frac of max >= 2 ? [0, 0.5, 1] : [0, 1]) {
    const y = padT + plotH * (1 - frac);
    svg.append(s("line", { x1: padL, x2: width, y1: y, y2: y, class: "grid" }));
    svg.append(s("text", { x: padL - 6, y: y + 4, "text-anchor": "end", class: "axis" }, fmtNum(Math.round(max * frac))));
  }
  buckets.forEach((b, i) => {
    let y = padT + plotH;
    const parts = keys ? keys.map((k) => [k, (b.split || {})[k] || 0]) : [["", b.count]];
    for (const [k, v] of parts) {
      if (!v) continue;
      const bh = (v / max) * plotH;
      y -= bh;
      const rect = s("rect", { x: padL + i * bw + 1, y, width: Math.max(bw - 2, 1), height: bh, rx: 1.5 });
      if (classFor) rect.setAttribute("class", classFor(k)); else rect.setAttribute("fill", colorFor ? colorFor(k) : PALETTE[0]);
      rect.append(s("title", {}, `${fmtTime(b.t, "short")} ${k} ${fmtNum(v)}`));
      svg.append(rect);
    }
  });
  const step = Math.max(1, Math.ceil(n / 6));
  buckets.forEach((b, i) => {
    if (i % step) return;
    svg.append(s("text", { x: padL + i * bw + bw / 2, y: height - 6, "text-anchor": "middle", class: "axis" }, fmtTime(b.t, "short")));
  });
  return h("div", { class: "chart" }, svg);
}

export function colorOf(keys) {
  const map = {};
  keys.forEach((k, i) => { map[k] = PALETTE[i % PALETTE.length]; });
  return (k) => map[k] || PALETTE[0];
}

export function legend(keys, { classFor, colorFor, label = (k) => k } = {}) {
  return h("div", { class: "legend" }, keys.map((k) => {
    const sw = s("svg", { width: 10, height: 10 }, s("rect", { width: 10, height: 10, rx: 2,
      class: classFor ? classFor(k) : null, fill: colorFor ? colorFor(k) : null }));
    return h("span", { class: "row" }, sw, label(k));
  }));
}

export function barList(values, { onClick } = {}) {
  const max = Math.max(1, ...values.map((v) => v.count));
  return h("div", { class: "bars" }, values.map((v) => {
    const track = h("div", { class: "track" }, h("i"));
    track.firstChild.style.width = `${(v.count / max) * 100}%`;
    const label = onClick ? h("a", { href: "#", onclick: (e) => { e.preventDefault(); onClick(v.value); } }, String(v.value))
      : String(v.value);
    return h("div", { class: "bar-row" }, h("div", {}, h("div", { class: "bar-label", title: String(v.value) }, label), track),
      h("div", { class: "count" }, fmtNum(v.count)));
  }));
}
