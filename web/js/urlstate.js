// A page's filters in its address (`#/alerts?status=new&rule_id=…`, `#/cases?severity=high`), so a
// link to it is shared like a search's: whoever opens it (after logging in) gets the same filters.
// The page writes its state with `writeUrlState` on every load (replaceState: no history entry, no
// hashchange); `readUrlState` takes the address's filters only when they are not the ones the page
// wrote itself (a link opened, the browser's back/forward), so a filter changed in the page is never
// overwritten by the address of a moment before.
const written = new Map();

export function readUrlState(page, state, keys) {
  const hash = location.hash;
  const i = hash.indexOf("?");
  if (i < 0 || written.get(page) === hash) return false;
  const p = new URLSearchParams(hash.slice(i + 1));
  for (const k of keys) state[k] = p.get(k) ?? "";
  return true;
}

export function writeUrlState(page, state, keys, defaults = {}) {
  const p = new URLSearchParams();
  for (const k of keys) if (state[k] && state[k] !== defaults[k]) p.set(k, state[k]);
  const query = p.toString();
  const url = query ? `${page}?${query}` : page;
  const here = location.hash;
  if (here !== page && !here.startsWith(`${page}?`)) return; // the analyst has gone elsewhere meanwhile
  if (here !== url) history.replaceState(null, "", url);
  written.set(page, location.hash);
}
