"""Signed daily receipts per source: sealed at day close, read and verified by the owning agency."""
