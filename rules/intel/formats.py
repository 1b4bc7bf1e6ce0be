"""Feed formats -> indicator candidates (no I/O): STIX 2.1 bundles, MISP feed events, CSV and plain
lists. What cannot be an indicator (an AND pattern, an unknown attribute type, a bad value) is
counted in `Parsed.skipped` with the reason, never silently lost.

STIX: `indicator` objects with `pattern_type: stix` whose pattern is one comparison or several
joined by OR, each `<object>:<path> = '<value>'` on ipv4-addr/ipv6-addr/domain-name/url/email-addr
values, `file:hashes.*`, or the HTTP request extension's User-Agent header. `valid_until` is the
expiry, `confidence` the confidence, `indicator_types`/`labels` and ATT&CK `external_references`
the tags, `name`/`description` the reason.

MISP: an event (`{"Event": {...}}`, as a MISP feed serves `<uuid>.json`) gives its attributes,
including those inside objects, whose `to_ids` is set (what MISP exports to detection systems);
the event's `threat_level_id` gives the severity, its tags and the attribute's tags the tags.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from canhgac.core.alert import Severity, severity_of
from canhgac.rules.intel.indicators import IndicatorType, detect_type, normalise


@dataclass(frozen=True, slots=True)
class Candidate:
    """An indicator as a feed gives it, normalised; the store adds feed, scope and times."""

    type: IndicatorType
    value: str
    confidence: int | None = None
    severity: Severity | None = None
    tags: tuple[str, ...] = ()
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    expires_at: datetime | None = None
    reason: str | None = None
    reference: str | None = None  # the feed's own id (STIX indicator id, MISP attribute uuid)


@dataclass
class Parsed:
    candidates: list[Candidate] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, kind: IndicatorType | str, value: str, **extra: Any) -> None:
        try:
            final_kind, final_value = normalise(IndicatorType(kind), value)
        except ValueError as exc:
            self.skipped[f"bad value: {str(exc)[:80]}"] += 1
            return
        self.candidates.append(Candidate(final_kind, final_value, **extra))

    def extend(self, other: Parsed) -> None:
        self.candidates.extend(other.candidates)
        self.skipped.update(other.skipped)


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value), UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------- STIX 2.1

_COMPARISON = re.compile(r"([a-z0-9-]+):([A-Za-z0-9_.'\-]+)\s*(=|!=|>|<|LIKE|MATCHES|IN)\s*'((?:[^'\\]|\\.)*)'")
_JOINER = re.compile(r"\]\s*(OR|AND|FOLLOWEDBY)\s*\[|\s(OR|AND)\s")
_STIX_HASHES = {
    "md5": IndicatorType.MD5,
    "sha-1": IndicatorType.SHA1,
    "sha1": IndicatorType.SHA1,
    "sha-256": IndicatorType.SHA256,
    "sha256": IndicatorType.SHA256,
}
_STIX_OBJECTS = {
    "ipv4-addr": IndicatorType.IPV4,
    "ipv6-addr": IndicatorType.IPV6,
    "domain-name": IndicatorType.DOMAIN,
    "url": IndicatorType.URL,
    "email-addr": IndicatorType.EMAIL,
}


def stix_pattern_values(pattern: str) -> list[tuple[IndicatorType, str]] | str:
    """The (type, value) pairs an OR-only equality pattern names, or why it is not one."""
    joiners = {m.group(1) or m.group(2) for m in _JOINER.finditer(pattern)}
    if joiners - {"OR"}:
        return "pattern joins with " + "/".join(sorted(joiners - {"OR"}))
    found: list[tuple[IndicatorType, str]] = []
    for obj, path, op, raw in _COMPARISON.findall(pattern):
        if op != "=":
            return f"pattern operator {op}"
        value = raw.replace("\\'", "'").replace("\\\\", "\\")
        path_l = path.lower()
        if obj in _STIX_OBJECTS and path_l == "value":
            found.append((_STIX_OBJECTS[obj], value))
        elif obj == "file" and path_l.startswith("hashes."):
            algorithm = path_l.split(".", 1)[1].strip("'")
            if algorithm not in _STIX_HASHES:
                return f"hash algorithm {algorithm}"
            found.append((_STIX_HASHES[algorithm], value))
        elif obj == "network-traffic" and path_l.endswith("request_header.'user-agent'"):
            found.append((IndicatorType.USER_AGENT, value))
        else:
            return f"pattern on {obj}:{path}"
    return found or "no comparison in pattern"


def _stix_tags(obj: Mapping[str, Any]) -> tuple[str, ...]:
    tags = [str(t) for t in (obj.get("indicator_types") or []) + (obj.get("labels") or [])]
    for ref in obj.get("external_references") or []:
        if isinstance(ref, dict) and ref.get("source_name") == "mitre-attack" and ref.get("external_id"):
            tags.append(f"attack.{str(ref['external_id']).lower()}")
    for phase in obj.get("kill_chain_phases") or []:
        if isinstance(phase, dict) and phase.get("kill_chain_name") == "mitre-attack" and phase.get("phase_name"):
            tags.append(f"attack.{str(phase['phase_name']).replace('-', '_')}")
    return tuple(dict.fromkeys(tags))


def parse_stix_objects(objects: Iterable[Any]) -> Parsed:
    """STIX 2.1 objects (a bundle's `objects`, a TAXII envelope's); only indicators count."""
    parsed = Parsed()
    for obj in objects:
        if not isinstance(obj, dict) or obj.get("type") != "indicator":
            continue
        if obj.get("revoked"):
            parsed.skipped["revoked"] += 1
            continue
        if obj.get("pattern_type", "stix") != "stix" or not isinstance(obj.get("pattern"), str):
            parsed.skipped[f"pattern type {obj.get('pattern_type')}"] += 1
            continue
        values = stix_pattern_values(obj["pattern"])
        if isinstance(values, str):
            parsed.skipped[values] += 1
            continue
        confidence = obj.get("confidence")
        reason = obj.get("name") or obj.get("description")
        for kind, value in values:
            parsed.add(
                kind,
                value,
                confidence=int(confidence) if isinstance(confidence, int) else None,
                tags=_stix_tags(obj),
                first_seen=parse_time(obj.get("valid_from")),
                last_seen=parse_time(obj.get("modified")),
                expires_at=parse_time(obj.get("valid_until")),
                reason=str(reason)[:2000] if reason else None,
                reference=str(obj.get("id")) if obj.get("id") else None,
            )
    return parsed


def parse_stix_bundle(bundle: Any) -> Parsed:
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
        raise ValueError("not a STIX 2.1 bundle (no `type: bundle`)")
    objects = bundle.get("objects") or []
    if not isinstance(objects, list):
        raise ValueError("the bundle's `objects` is not a list")
    return parse_stix_objects(objects)


# -------------------------------------------------------------------------------------------- MISP

# MISP attribute types -> ours; composite types (`a|b`) list one entry per part (None: not an indicator).
_MISP_TYPES: dict[str, tuple[IndicatorType | None, ...]] = {
    "ip-src": (IndicatorType.IPV4,),
    "ip-dst": (IndicatorType.IPV4,),
    "ip-src|port": (IndicatorType.IPV4, None),
    "ip-dst|port": (IndicatorType.IPV4, None),
    "domain": (IndicatorType.DOMAIN,),
    "hostname": (IndicatorType.DOMAIN,),
    "domain|ip": (IndicatorType.DOMAIN, IndicatorType.IPV4),
    "hostname|port": (IndicatorType.DOMAIN, None),
    "url": (IndicatorType.URL,),
    "uri": (IndicatorType.URL,),
    "link": (IndicatorType.URL,),
    "md5": (IndicatorType.MD5,),
    "sha1": (IndicatorType.SHA1,),
    "sha256": (IndicatorType.SHA256,),
    "filename|md5": (None, IndicatorType.MD5),
    "filename|sha1": (None, IndicatorType.SHA1),
    "filename|sha256": (None, IndicatorType.SHA256),
    "email": (IndicatorType.EMAIL,),
    "email-src": (IndicatorType.EMAIL,),
    "email-dst": (IndicatorType.EMAIL,),
    "user-agent": (IndicatorType.USER_AGENT,),
}
# MISP threat levels: 1 high, 2 medium, 3 low, 4 undefined.
_MISP_LEVELS = {"1": Severity.HIGH, "2": Severity.MEDIUM, "3": Severity.LOW}


def _misp_tags(tags: Any) -> list[str]:
    return [str(t["name"]) for t in tags or [] if isinstance(t, dict) and t.get("name")]


def parse_misp_event(document: Any) -> Parsed:
    parsed = Parsed()
    event = document.get("Event") if isinstance(document, dict) else None
    if not isinstance(event, dict):
        raise ValueError("not a MISP event (no `Event` object)")
    severity = _MISP_LEVELS.get(str(event.get("threat_level_id")))
    event_tags = _misp_tags(event.get("Tag"))
    info = event.get("info")
    attributes = list(event.get("Attribute") or [])
    for obj in event.get("Object") or []:
        if isinstance(obj, dict):
            attributes.extend(obj.get("Attribute") or [])
    for attribute in attributes:
        if not isinstance(attribute, dict):
            continue
        if attribute.get("to_ids") in (False, 0, "0") or attribute.get("deleted") in (True, 1, "1"):
            parsed.skipped["not for detection (to_ids off)"] += 1
            continue
        kinds = _MISP_TYPES.get(str(attribute.get("type")))
        value = attribute.get("value")
        if kinds is None or not isinstance(value, str):
            parsed.skipped[f"MISP type {attribute.get('type')}"] += 1
            continue
        parts = value.split("|") if len(kinds) > 1 else [value]
        seen = parse_time(attribute.get("last_seen")) or parse_time(attribute.get("timestamp"))
        tags = tuple(dict.fromkeys(event_tags + _misp_tags(attribute.get("Tag"))))
        for kind, part in zip(kinds, parts, strict=False):
            if kind is None:
                continue
            if kind is IndicatorType.IPV4 and ":" in part:
                kind = IndicatorType.IPV6
            parsed.add(
                kind,
                part,
                severity=severity,
                tags=tags,
                first_seen=parse_time(attribute.get("first_seen")),
                last_seen=seen,
                reason=str(attribute.get("comment") or info or "")[:2000] or None,
                reference=str(attribute.get("uuid")) if attribute.get("uuid") else None,
            )
    return parsed


def misp_attributes(document: Any) -> list[dict[str, Any]]:
    """The attributes of a MISP REST search answer (`POST /attributes/restSearch`, `returnFormat:
    json`): `{"response": {"Attribute": [...]}}`, or the list of `{"Attribute": …}` older MISP
    versions answer."""
    response = document.get("response") if isinstance(document, dict) else None
    if isinstance(response, list):
        attributes = [a for item in response if isinstance(item, dict) for a in [item.get("Attribute")]]
    elif isinstance(response, dict):
        attributes = list(response.get("Attribute") or [])
    else:
        raise ValueError("not a MISP restSearch answer (no `response`)")
    return [a for a in attributes if isinstance(a, dict)]


def misp_timestamp(item: Mapping[str, Any]) -> int:
    """A MISP event's or attribute's `timestamp` (whole seconds, sent as text); 0 when missing."""
    stamp = str(item.get("timestamp") or "")
    return int(stamp) if stamp.isdigit() else 0


def parse_misp_attributes(attributes: Iterable[dict[str, Any]]) -> Parsed:
    """Attributes from a REST search, each read as in an event (its `Event` summary gives the info
    and threat level when MISP includes them, `Tag` the tags)."""
    parsed = Parsed()
    for attribute in attributes:
        summary = attribute.get("Event")
        event: dict[str, Any] = summary if isinstance(summary, dict) else {}
        parsed.extend(parse_misp_event({"Event": {**event, "Attribute": [attribute], "Object": []}}))
    return parsed


# ------------------------------------------------------------------------------- CSV, plain lists

CSV_COLUMNS = ("type", "value", "confidence", "severity", "tags", "expires_at", "reason")


def parse_plain(text: str, kind: IndicatorType | None = None) -> Parsed:
    """One value per line; `#` starts a comment; the type is guessed unless given."""
    parsed = Parsed()
    for line in text.splitlines():
        value = line.split("#", 1)[0].strip() if kind is not IndicatorType.USER_AGENT else line.strip()
        if not value:
            continue
        try:
            parsed.add(kind or detect_type(value), value)
        except ValueError as exc:
            parsed.skipped[f"bad value: {str(exc)[:80]}"] += 1
    return parsed


def parse_csv(text: str) -> Parsed:
    """A header row naming at least `value` (any of CSV_COLUMNS; others are ignored); `tags` are
    separated by `;` or `,`; `expires_at` is ISO 8601; a missing `type` is guessed."""
    parsed = Parsed()
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "value" not in header:
        raise ValueError("the CSV needs a header row with a `value` column")
    reader.fieldnames = header
    for row in reader:
        value = (row.get("value") or "").strip()
        if not value:
            continue
        try:
            kind = IndicatorType((row.get("type") or "").strip().lower()) if row.get("type") else detect_type(value)
        except ValueError as exc:
            parsed.skipped[f"bad type: {str(exc)[:80]}"] += 1
            continue
        confidence = (row.get("confidence") or "").strip()
        severity = (row.get("severity") or "").strip()
        parsed.add(
            kind,
            value,
            confidence=max(0, min(100, int(confidence))) if confidence.isdigit() else None,
            severity=severity_of(severity) if severity else None,
            tags=tuple(t.strip() for t in re.split(r"[;,]", row.get("tags") or "") if t.strip()),
            expires_at=parse_time((row.get("expires_at") or "").strip()),
            reason=(row.get("reason") or "").strip()[:2000] or None,
        )
    return parsed
