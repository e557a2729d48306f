"""The errors the service answers a client with, free of any web framework: raised by
services and domain code, turned into HTTP answers by app.error_responses."""

from __future__ import annotations

import uuid

TITLES = {
    400: "Invalid request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Rate limit exceeded",
    500: "Internal server error",
    503: "Service unavailable",
}


class ApiError(Exception):
    """An error with everything the client needs to fix its request."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        title: str | None = None,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        run_id: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title or TITLES.get(status, "Error")
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.run_id = run_id
        self.retry_after = retry_after


class InvalidInput(ApiError):
    """400 with one `details` entry per bad field."""

    def __init__(self, details: list[dict[str, str]], message: str | None = None) -> None:
        fields = ", ".join(d["field"] for d in details)
        super().__init__(
            400,
            message or f"Invalid value for {fields}: see details",
            title="Invalid schedule configuration" if message is None else None,
            details=details,
        )


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def parse_id(value: str, what: str) -> uuid.UUID:
    """Path ids: anything that is not a UUID cannot exist, so it is a 404 like any other."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise not_found(what) from None
