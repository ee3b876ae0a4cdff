"""Calendly data sources (picklists)."""

from runtime import DataSource

DATA_SOURCES: tuple[DataSource, ...] = ()
