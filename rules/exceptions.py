"""Rule exceptions: "this rule must not alert on events like these", with a reason and an expiry.

An exception belongs to one rule and holds a list of conditions on event fields, all of which must
hold for an event to be excepted. A condition is {field, op, value}:

| op           | value        | holds when the event's field value …                          |
| ------------ | ------------ | ------------------------------------------------------------- |
| `equals`     | text         | equals the value                                              |
| `contains`   | text         | contains the value                                            |
| `startswith` | text         | starts with the value                                         |
| `endswith`   | text         | ends with the value                                           |
| `in`         | list of text | equals one of the values                                      |
| `cidr`       | network      | is an IP address inside the network (`10.0.0.0/8`, `::1/128`) |
| `in_list`    | a list name  | is in that live watch/allow list (core/watchlists.py)         |

Text comparisons ignore case, as Sigma's do, so an exception is as broad as the rule it tames.
A field holding a list holds the condition when one of its items does; a missing field never does.
Numbers and booleans are compared as their text (`4625`, `true`). An exception whose `expires_at`
has passed stops applying but is kept (and listed) until someone deletes it.

An exception on a correlation rule's id suppresses that correlation's alerts (counted like any
other): its conditions on group-by fields read the alert's group, others the event that raised or
updated it. The correlation's windows still count the matches; only the alert is held back.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from canhgac.core.event import get_path, set_path
from canhgac.core.watchlists import LIST_NAME, LISTS

Op = Literal["equals", "contains", "startswith", "endswith", "cidr", "in", "in_list"]
OPS: tuple[str, ...] = get_args(Op)
MAX_CONDITIONS = 20
MAX_IN_VALUES = 500

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: Op
    values: tuple[str, ...]  # lower-cased; one item unless op is `in`
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Condition:
        """Build from the stored/API form; ValueError says what is wrong."""
        field, op, value = raw.get("field"), raw.get("op"), raw.get("value")
        if not isinstance(field, str) or not field:
            raise ValueError("condition needs a field name")
        if op not in OPS:
            raise ValueError(f"op must be one of {', '.join(OPS)}")
        if op == "in":
            if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
                raise ValueError(f"`in` needs a list of 1 to {MAX_IN_VALUES} values")
            values = tuple(_text(v) for v in value)
        else:
            if isinstance(value, list) or value is None or value == "":
                raise ValueError(f"`{op}` needs one non-empty value (use `in` for a list)")
            values = (_text(value),)
        networks: tuple[Network, ...] = ()
        if op == "in_list":
            values = (str(value),)  # the list's name, kept as written
            if not LIST_NAME.match(values[0]):
                raise ValueError(f"`in_list` needs a list name: {value!r}")
        if op == "cidr":
            try:
                networks = (ipaddress.ip_network(values[0], strict=False),)
            except ValueError as exc:
                raise ValueError(f"`cidr` value is not a network: {values[0]!r}") from exc
        return cls(field=field, op=op, values=values, networks=networks)

    def holds(self, event: dict[str, Any]) -> bool:
        found = get_path(event, self.field)
        if found is None:
            return False
        items = found if isinstance(found, list) else [found]
        return any(self._holds_one(item) for item in items if item is not None and not isinstance(item, dict))

    def _holds_one(self, item: Any) -> bool:
        if self.op == "cidr":
            return _in_networks(item, self.networks)
        if self.op == "in_list":
            return LISTS.contains(self.values[0], item)
        text = _text(item)
        if self.op in ("equals", "in"):
            return text in self.values
        want = self.values[0]
        if self.op == "contains":
            return want in text
        if self.op == "startswith":
            return text.startswith(want)
        return text.endswith(want)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def _in_networks(value: Any, networks: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in networks)


def parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RuleException:
    id: str
    rule_id: str
    conditions: tuple[Condition, ...]
    expires_at: datetime | None = None

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> RuleException:
        """From a stored document; ValueError when it cannot apply (a bad condition, no rule id)."""
        raw_conditions = doc.get("conditions")
        if not isinstance(raw_conditions, list) or not raw_conditions:
            raise ValueError("an exception needs at least one condition")
        if len(raw_conditions) > MAX_CONDITIONS:
            raise ValueError(f"at most {MAX_CONDITIONS} conditions")
        rule_id = doc.get("rule_id")
        if not isinstance(rule_id, str) or not rule_id:
            raise ValueError("an exception needs a rule_id")
        try:
            expires_at = parse_time(doc.get("expires_at"))
        except ValueError as exc:
            raise ValueError(f"expires_at is not a time: {doc.get('expires_at')!r}") from exc
        return cls(
            id=str(doc.get("id") or ""),
            rule_id=rule_id,
            conditions=tuple(Condition.parse(c) for c in raw_conditions),
            expires_at=expires_at,
        )

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def matches(self, event: dict[str, Any]) -> bool:
        return all(c.holds(event) for c in self.conditions)

    def matches_group(self, group: dict[str, Any], event: dict[str, Any]) -> bool:
        """For a correlation alert: a condition on a group-by field reads the group's value (the
        whole window shares it); any other field reads the event that raised or updated the alert."""
        return all(c.holds(group) if get_path(group, c.field) is not None else c.holds(event) for c in self.conditions)


class ExceptionSet:
    """The exceptions in force, by rule id. Immutable: the detector swaps in a new set on refresh."""

    def __init__(self, exceptions: Iterable[RuleException] = ()) -> None:
        by_rule: dict[str, list[RuleException]] = {}
        for exc in exceptions:
            by_rule.setdefault(exc.rule_id, []).append(exc)
        self._by_rule = {k: tuple(v) for k, v in by_rule.items()}

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_rule.values())

    def suppressing_correlation(
        self, rule_id: str, group: Mapping[str, Any], event: dict[str, Any], now: datetime
    ) -> RuleException | None:
        """The first unexpired exception of this correlation rule that matches its alert (group)."""
        found = self._by_rule.get(rule_id)
        if not found:
            return None
        nested: dict[str, Any] = {}
        for name, value in group.items():
            set_path(nested, name, value)
        for exc in found:
            if exc.active(now) and exc.matches_group(nested, event):
                return exc
        return None

    def suppressing(self, rule_id: str, event: dict[str, Any], now: datetime) -> RuleException | None:
        """The first unexpired exception of this rule that matches the event, or None."""
        for exc in self._by_rule.get(rule_id, ()):
            if exc.active(now) and exc.matches(event):
                return exc
        return None
