"""Every channel module, imported so each registers itself once in `notifiers` (see base.py)."""

from canhgac.pipeline.notify.notifiers import email, slack, teams, telegram, webhook

__all__ = ["email", "slack", "teams", "telegram", "webhook"]
