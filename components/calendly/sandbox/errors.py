"""Calendly error bodies ``{title, message, details[]}`` and the exception that carries them."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

TITLES = {
    400: "Invalid Argument",
    401: "Unauthenticated",
    403: "Permission Denied",
    404: "Resource Not Found",
    409: "Already Exists",
    424: "External Calendar Error",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
MESSAGES = {
    400: "The supplied parameters are invalid.",
    401: "The access token is invalid",
    403: "You do not have permission to access this resource.",
    404: "The server could not find the requested resource.",
    409: "Hook with this url already exists",
    424: "There is a problem accessing your calendar.",
    429: "You have exceeded the rate limit.",
    500: (
        "The server encountered an unexpected condition that prevented it from fulfilling "
        "the request."
    ),
    503: "The service is unavailable; retry later.",
}


class ApiError(Exception):
    """Raised by handlers; the gateway turns it into a Calendly-shaped JSON error response."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        details: list[dict[str, str]] | None = None,
        title: str | None = None,
    ) -> None:
        self.status = status
        self.title = title or TITLES.get(status, "Error")
        self.message = message or MESSAGES.get(status, "Error")
        self.details = details
        super().__init__(f"{status} {self.title}: {self.message}")

    def body(self) -> dict[str, Any]:
        """The JSON body Calendly sends for this error."""
        out: dict[str, Any] = {"title": self.title, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        """The error as a response."""
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def bad_param(parameter: str, message: str) -> ApiError:
    """400 for one bad parameter, with Calendly's ``details`` entry."""
    return ApiError(400, details=[{"parameter": parameter, "message": message}])


def not_found() -> ApiError:
    """404 for an unknown UUID."""
    return ApiError(404)


def forbidden(message: str | None = None) -> ApiError:
    """403 with an optional endpoint-specific message (the spec enumerates some of them)."""
    return ApiError(403, message)
