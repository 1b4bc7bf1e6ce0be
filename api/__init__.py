"""The HTTP API (FastAPI) and the console it serves."""
