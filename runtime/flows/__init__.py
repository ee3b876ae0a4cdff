"""Flows: YAML documents compiled into checked, frozen ``Flow`` values."""

from runtime.flows.loader import load_flow_file, load_flow_text
from runtime.flows.model import Flow

__all__ = ["Flow", "load_flow_file", "load_flow_text"]
