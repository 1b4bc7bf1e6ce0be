// The alert vocabulary, read once per session from GET /api/v1/meta, which serves the alert contract
// (canhgac.core.alert): severities with their scores, statuses and the moves allowed between them,
// resolutions. Nothing here is a copy of those lists; labels stay in i18n.js, keyed by the values.
import { api } from "./api.js";

export const vocab = { severities: [], scores: {}, statuses: [], transitions: {}, resolutions: [], socAgency: null,
  caseStatuses: [], caseTransitions: {}, loaded: false };

// Which status each of the console's triage verbs moves an alert to. These are the UI's choices,
// checked against the vocabulary when it loads (a mismatch shows up in the browser console).
export const ACTIONS = { ack: "acknowledged", start: "in_progress", close: "closed" };
// The resolution the close dialog starts on: most closed alerts are false positives.
export const USUAL_RESOLUTION = "false_positive";

export async function loadVocab() {
  if (vocab.loaded) return;
  const meta = await api("/api/v1/meta");
  vocab.severities = meta.severities.map((s) => s.value);
  vocab.scores = Object.fromEntries(meta.severities.map((s) => [s.value, s.score]));
  vocab.statuses = meta.statuses;
  vocab.transitions = meta.transitions;
  vocab.resolutions = meta.resolutions;
  vocab.socAgency = meta.soc_agency;
  vocab.caseStatuses = meta.case_statuses; // cases (incidents): their own workflow
  vocab.caseTransitions = meta.case_transitions;
  vocab.loaded = true;
  const unknown = Object.values(ACTIONS).filter((st) => !vocab.statuses.includes(st));
  if (!vocab.resolutions.includes(USUAL_RESOLUTION)) unknown.push(USUAL_RESOLUTION);
  if (unknown.length) console.error(`the console names unknown statuses or resolutions: ${unknown.join(", ")}`);
}

// The status a new alert has (the first of the workflow).
export const initialStatus = () => vocab.statuses[0];
// Most severe first, as the queue's filter and the dashboard show them.
export const severitiesHighFirst = () => [...vocab.severities].sort((a, b) => vocab.scores[b] - vocab.scores[a]);
export const canMove = (from, to) => (vocab.transitions[from] || []).includes(to);
