"""On-call: acknowledgement links, notification status, test sends."""
