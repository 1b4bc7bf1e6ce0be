"""The console: static ES modules and CSS served by the API at `/` (no build step)."""
