"""Alembic migrations for the store (run by ``open_store``; ``env.py`` explains how)."""
