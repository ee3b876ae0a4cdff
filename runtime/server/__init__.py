"""The HTTP server: webhook endpoints, health and metrics."""

from runtime.server.app import create_app

__all__ = ["create_app"]
