"""The user's plugin files: read as text for the form (catalog), imported by workers (loading)."""
