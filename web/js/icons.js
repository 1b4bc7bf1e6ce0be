// Small inline SVG icons for the buttons that had a symbol character (⧉ copy, 🔗 link, 🗑 delete):
// those glyphs are missing from many fonts (a Linux workstation's DejaVu has none of them) and
// showed as empty boxes. An SVG draws the same everywhere; the button keeps its title (tooltip)
// and aria-label, and the icon is hidden from screen readers.
const PATHS = {
  copy: '<rect x="5.5" y="5.5" width="8" height="8" rx="1.5"/><path d="M3.5 10.5h-1a1 1 0 0 1-1-1v-7a1 1 0 0 1 1-1h7a1 1 0 0 1 1 1v1"/>',
  link: '<path d="M6.5 9.5l3-3"/><path d="M7.5 4.5l1.2-1.2a2.5 2.5 0 0 1 3.5 3.5L11 8"/><path d="M8.5 11.5l-1.2 1.2a2.5 2.5 0 0 1-3.5-3.5L5 8"/>',
  trash: '<path d="M2.5 4.5h11"/><path d="M6 4.5V3h4v1.5"/><path d="M4 4.5l.7 9h6.6l.7-9"/>',
};

export function icon(name) {
  const span = document.createElement("span");
  span.className = "svg-icon";
  span.setAttribute("aria-hidden", "true");
  span.innerHTML = `<svg viewBox="0 0 16 16" width="14" height="14" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linecap="round" stroke-linejoin="round">${PATHS[name]}</svg>`;
  return span;
}
