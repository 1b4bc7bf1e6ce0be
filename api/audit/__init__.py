"""The audit log: every analyst and admin action, who, when, what."""
