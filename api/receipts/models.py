from __future__ import annotations

from pydantic import BaseModel, Field


class Receipt(BaseModel):
    id: str = Field(description="<source_id>:<day>")
    source_id: str
    agency: str
    day: str = Field(description="YYYY-MM-DD in `timezone`")
    timezone: str
    count: int = Field(description="records stored for the source whose event.ingested falls in the day")
    first_ingested: str | None
    last_ingested: str | None
    chain_head: str = Field(description="sha256 chain over the day's records in (event.ingested, event.id) order")
    algorithm: str
    sealed_at: str
    key_id: str = Field(description="names the signing key without revealing it")
    signature: str = Field(description="HMAC-SHA256 over the canonical JSON of every other field")


class ReceiptList(BaseModel):
    items: list[Receipt] = Field(description="newest day first")


class ReceiptCheck(BaseModel):
    receipt: Receipt
    ok: bool
    problems: list[str] = Field(description="what no longer agrees with the records stored now")
