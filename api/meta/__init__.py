"""The vocabulary the console and scripts read instead of keeping copies (GET /api/v1/meta)."""
