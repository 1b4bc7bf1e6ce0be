"""Issue 10 finding 7: the Lucene guard's bypasses, each refused, and ordinary queries still pass."""

from __future__ import annotations

import pytest
from canhgac.api.query_guard import MAX_REGEX_TERMS, check_lucene
from canhgac.core.errors import InvalidRequest


@pytest.mark.parametrize(
    "query",
    [
        '"x"/.*admin/',  # a regex right after a phrase (the old guard looked for a space before `/`)
        'message:"x"/.*admin/',
        "/\\w*x/",  # \w is a literal w in Lucene, made optional by *
        "/(.)*x/",  # a group first
        "a:/[ab]min/",  # a class first
        "a:/x*admin/",  # the first character optional
        "a:/x?admin/",
        "a:/x{0,3}admin/",
        "a:/admin|.*root/",  # one alternative without a prefix
        "a:/@admin/",  # @ is any string in Lucene's RegExp
        "a:/~x/",
        " OR ".join(f"a:/ab{i}.*/" for i in range(MAX_REGEX_TERMS + 1)),  # too many regexes
        "a:/unterminated",
        "x:foo-*bar",  # conservative: read as a leading wildcard
    ],
)
def test_bypasses_are_refused(query: str) -> None:
    with pytest.raises(InvalidRequest):
        check_lucene(query, 4096)


@pytest.mark.parametrize(
    "query",
    [
        "a:/ab.*c/",
        "a:/admin.*/",
        "a:/\\.exe/",  # an escaped character is a literal
        "a:/adm(in|un)/",
        "a:/ab+c/",
        " OR ".join(f"a:/ab{i}.*/" for i in range(MAX_REGEX_TERMS)),
        '"*quoted* /not a regex/"',
        "url.path:\\/admin*",  # an escaped slash is no regex
        "status:[* TO 300]",
        "status:{200 TO *}",
        "field:*",
        "host.name:web* AND NOT user.name:adm?n",
    ],
)
def test_ordinary_queries_pass(query: str) -> None:
    check_lucene(query, 4096)


async def test_alert_searches_carry_an_opensearch_timeout() -> None:
    from canhgac.api.alerts.service import list_alerts

    sent: list[dict[str, object]] = []

    class Client:
        async def search(self, *, body: dict[str, object], **_params: object) -> dict[str, object]:
            sent.append(body)
            return {"hits": {"total": {"value": 0}, "hits": []}}

    await list_alerts(Client(), "alerts", [], query={"query_string": {"query": "a:/ab.*/"}})  # type: ignore[arg-type]
    assert sent and sent[0]["timeout"] == "10s"
