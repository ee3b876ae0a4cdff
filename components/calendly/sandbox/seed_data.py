"""The seed's fixed tables: names, weekdays, working hours, tracking and booking questions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import JSON

DAY = 86400.0
FIRST_NAMES = [
    "Alice",
    "Bruno",
    "Chen",
    "Dana",
    "Elif",
    "Farah",
    "Goran",
    "Hana",
    "Ivan",
    "Jonas",
    "Kemi",
    "Luca",
    "Maya",
    "Nils",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
]
LAST_NAMES = [
    "Anders",
    "Bauer",
    "Costa",
    "Diaz",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Rossi",
]
WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
TRACKING_EMPTY: JSON = {
    "utm_campaign": None,
    "utm_source": None,
    "utm_medium": None,
    "utm_content": None,
    "utm_term": None,
    "salesforce_uuid": None,
}


def empty_tracking() -> JSON:
    """A fresh tracking object with every field null."""
    return dict(TRACKING_EMPTY)


def working_hours(start: str = "09:00", end: str = "17:00") -> list[JSON]:
    """Weekly rules: the given hours Monday to Friday, nothing at weekends."""
    rules: list[JSON] = []
    for day in WEEKDAYS:
        weekend = day in ("saturday", "sunday")
        intervals = [] if weekend else [{"from": start, "to": end}]
        rules.append({"type": "wday", "wday": day, "intervals": intervals})
    return rules


def custom_questions() -> list[JSON]:
    """The booking questions every seeded event type asks (a fresh list each time)."""
    return [
        {
            "name": "Company Name",
            "type": "string",
            "position": 0,
            "enabled": True,
            "required": True,
            "answer_choices": [],
            "include_other": False,
        },
        {
            "name": "Number of employees",
            "type": "single_select",
            "position": 1,
            "enabled": True,
            "required": False,
            "answer_choices": ["1", "2-10", "11-50", "50+"],
            "include_other": True,
        },
    ]
