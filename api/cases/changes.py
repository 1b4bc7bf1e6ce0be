"""The changes an analyst makes to a case, each a function of the stored case that returns the
fields to write and what the audit record says (`service.change_case` writes them conditionally).
Each appends its timeline entry with the actor and the UTC time."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from canhgac.api.auth.models import Principal
from canhgac.api.cases import observables
from canhgac.api.cases.models import CaseStatus, CaseUpdate, EventPin, SearchAttach, can_move
from canhgac.core.alert import SOC_AGENCY, iso
from canhgac.core.errors import Conflict, NotFound

Change = Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]


def now_iso() -> str:
    return iso(datetime.now(UTC))


# The parts of a pinned event kept on the timeline (the event itself stays in its index).
PINNED_FIELDS = ("@timestamp", "message", "event", "host", "user", "source", "destination", "url", "process", "canhgac")


def entry(principal: Principal, kind: str, **details: Any) -> dict[str, Any]:
    return {
        "at": now_iso(),
        "by": principal.username,
        "kind": kind,
        **{k: v for k, v in details.items() if v is not None},
    }


def owners(alerts: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """(tenant, agencies) of a set of alerts: one agency owning them all is the tenant; else the SOC."""
    agencies: dict[str, None] = {}
    owning: set[str] = set()
    for alert in alerts:
        owner = alert.get("agency") or SOC_AGENCY
        owning.add(owner)
        for agency in [owner] if owner != SOC_AGENCY else alert.get("agencies") or []:
            agencies[agency] = None
    tenant = next(iter(owning)) if len(owning) == 1 and SOC_AGENCY not in owning else SOC_AGENCY
    return tenant, sorted(agencies)


def titles(alerts: list[dict[str, Any]]) -> list[str]:
    return [str((a.get("rule") or {}).get("title") or a["id"]) for a in alerts]


def system_of(alerts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The information system of the highest-level system among the alerts (alerts carry it)."""
    systems = [a["system"] for a in alerts if isinstance(a.get("system"), dict) and a["system"].get("id")]
    if not systems:
        return None
    best = max(systems, key=lambda s: int(s.get("security_level") or 0))
    return {"id": best.get("id"), "name": best.get("name"), "security_level": best.get("security_level")}


def update_change(principal: Principal, body: CaseUpdate, system: dict[str, Any] | None) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        changes = body.model_dump(mode="json", exclude_unset=True)
        updates: dict[str, Any] = {}
        for name in ("title", "description", "severity", "impact", "measures"):
            if name in changes:
                updates[name] = changes[name]
        if "assignee" in changes:
            updates["assignee"] = changes["assignee"] or None
        if system is not None:
            updates["system"] = system
        entries = []
        if "assignee" in updates and updates["assignee"] != case.get("assignee"):
            entries.append(entry(principal, "assignee", assignee=updates["assignee"], previous=case.get("assignee")))
        others = sorted(k for k in updates if k != "assignee")
        if others:
            entries.append(entry(principal, "updated", fields=others))
        updates["timeline"] = [*case.get("timeline", []), *entries]
        return updates, {"changed": sorted(changes), **{k: v for k, v in updates.items() if k != "timeline"}}

    return apply


def status_change(principal: Principal, to: CaseStatus, comment: str | None) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        current = case.get("status", CaseStatus.OPEN.value)
        if not can_move(current, to):
            raise Conflict(f"a case cannot go from {current} to {to.value}")
        now = now_iso()
        updates: dict[str, Any] = {"status": to.value}
        # Each clock stops the first time its milestone is reached; reopening does not restart it.
        if not case.get("acknowledged_at"):
            updates["acknowledged_at"] = now
        if to in (CaseStatus.CONTAINED, CaseStatus.CLOSED) and not case.get("contained_at"):
            updates["contained_at"] = now
        if to is CaseStatus.CLOSED:
            updates["closed_at"] = now
        elif case.get("closed_at"):
            updates["closed_at"] = None  # reopened: the close clock runs again
        step = entry(principal, "status", status=to.value, previous=current, text=comment)
        updates["timeline"] = [*case.get("timeline", []), step]
        return updates, {"from": current, "to": to.value, "comment": comment}

    return apply


def comment_change(principal: Principal, text: str) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"timeline": [*case.get("timeline", []), entry(principal, "comment", text=text)]}, {"text": text}

    return apply


def task_added(principal: Principal, title: str) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        task = {
            "id": uuid.uuid4().hex[:12],
            "title": title,
            "done": False,
            "created_at": now_iso(),
            "created_by": principal.username,
        }
        step = entry(principal, "task_added", task_id=task["id"], text=title)
        return {"tasks": [*case.get("tasks", []), task], "timeline": [*case.get("timeline", []), step]}, {
            "task_id": task["id"],
            "title": title,
        }

    return apply


def task_done(principal: Principal, task_id: str) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        tasks = [dict(t) for t in case.get("tasks", [])]
        task = next((t for t in tasks if t.get("id") == task_id), None)
        if task is None:
            raise NotFound(f"no task {task_id} in this case")
        if task.get("done"):
            raise Conflict(f"task {task_id} is done already")
        task.update(done=True, done_at=now_iso(), done_by=principal.username)
        step = entry(principal, "task_done", task_id=task_id, text=task.get("title"))
        return {"tasks": tasks, "timeline": [*case.get("timeline", []), step]}, {"task_id": task_id}

    return apply


def alerts_added(principal: Principal, alerts: list[dict[str, Any]]) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        new = [a for a in alerts if a["id"] not in case.get("alert_ids", [])]
        if not new:
            raise Conflict("these alerts are in the case already")
        tenant, agencies = owners(new)
        merged_agencies = sorted({*case.get("agencies", []), *agencies})
        if tenant != case.get("tenant") or (case.get("tenant") != SOC_AGENCY and len(merged_agencies) > 1):
            raise Conflict(
                f"these alerts belong to {', '.join(agencies) or SOC_AGENCY}, the case to {case.get('tenant')}: "
                "open a new case for alerts of several agencies"
            )
        step = entry(principal, "alerts_added", alert_ids=[a["id"] for a in new], titles=titles(new))
        detected = min([case.get("detected_at") or now_iso(), *(str(a.get("first_seen") or now_iso()) for a in new)])
        return {
            "alert_ids": [*case.get("alert_ids", []), *(a["id"] for a in new)],
            "agencies": merged_agencies,
            "observables": observables.merge(case.get("observables", []), new),
            "detected_at": detected,
            "system": case.get("system") or system_of(new),
            "timeline": [*case.get("timeline", []), step],
        }, {"alert_ids": [a["id"] for a in new]}

    return apply


def event_pinned(principal: Principal, pin: EventPin, found: dict[str, Any]) -> Change:
    event = found["source"]

    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        agency = (event.get("canhgac") or {}).get("agency")
        if agency not in case.get("agencies", []):
            raise Conflict(
                f"the event belongs to {agency}, not to the case's agencies ({', '.join(case.get('agencies', []))})"
            )
        if any(e.get("kind") == "event_pinned" and e.get("event_id") == pin.event_id for e in case.get("timeline", [])):
            raise Conflict(f"event {pin.event_id} is pinned already")
        snapshot = {k: event[k] for k in PINNED_FIELDS if k in event}
        step = entry(
            principal, "event_pinned", event_id=pin.event_id, index=found["index"], text=pin.note, event=snapshot
        )
        return {
            "observables": observables.merge(
                case.get("observables", []), [{**snapshot, "id": f"event:{pin.event_id}", "event": snapshot}]
            ),
            "timeline": [*case.get("timeline", []), step],
        }, {"event_id": pin.event_id, "index": found["index"]}

    return apply


def search_attached(principal: Principal, body: SearchAttach, snapshot: dict[str, Any]) -> Change:
    """The search and its rows as they were when attached (the events themselves stay in their
    indices and may leave with retention; the snapshot stays with the case)."""
    rows = [{k: row[k] for k in PINNED_FIELDS if k in row} for row in snapshot["rows"]]
    attachment_id = uuid.uuid4().hex[:12]

    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        step = entry(
            principal,
            "search_attached",
            attachment_id=attachment_id,
            title=body.title,
            query=body.query,
            saved_search_id=body.saved_search_id,
            start=iso(snapshot["start"]),
            end=iso(snapshot["end"]),
            total=snapshot["total"],
            rows=rows,
            text=body.note,
        )
        return {"timeline": [*case.get("timeline", []), step]}, {
            "attachment_id": attachment_id,
            "query": body.query,
            "start": step["start"],
            "end": step["end"],
            "total": snapshot["total"],
            "rows": len(rows),
        }

    return apply


def report_sent(principal: Principal, comment: str | None) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        now = now_iso()
        step = entry(principal, "report_sent", text=comment)
        return {"report_sent_at": now, "timeline": [*case.get("timeline", []), step]}, {"comment": comment}

    return apply
