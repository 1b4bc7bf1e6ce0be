"""Authentication (sessions with CSRF, bearer tokens), roles and permissions."""
