"""Retro-hunts: stored events searched when indicators arrive or a rule is added or changed."""
