from __future__ import annotations

from canhgac.api.cases.models import CASE_TRANSITIONS, CaseStatus
from canhgac.api.deps import Reader
from canhgac.api.meta.models import SeverityInfo, Vocabulary
from canhgac.core.alert import SEVERITY_SCORES, SOC_AGENCY, TRANSITIONS, Resolution, Severity, Status
from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["meta"])


def vocabulary() -> Vocabulary:
    return Vocabulary(
        severities=[SeverityInfo(value=s, score=SEVERITY_SCORES[s]) for s in Severity],
        statuses=list(Status),
        # In workflow order, so the console can offer the moves in a stable order.
        transitions={s: [t for t in Status if t in TRANSITIONS[s]] for s in Status},
        resolutions=list(Resolution),
        soc_agency=SOC_AGENCY,
        case_statuses=list(CaseStatus),
        case_transitions={s: [t for t in CaseStatus if t in CASE_TRANSITIONS[s]] for s in CaseStatus},
    )


@router.get("/meta", response_model=Vocabulary)
async def meta(principal: Reader) -> Vocabulary:
    """Severities (with scores), statuses and their allowed transitions, resolutions; the case
    statuses and their transitions."""
    return vocabulary()
