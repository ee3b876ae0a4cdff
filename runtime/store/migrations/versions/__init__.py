"""Alembic revisions, oldest first. Each is a frozen snapshot: never import ``tables`` here."""
