"""Local users: stored in the users config index with argon2 hashes."""
