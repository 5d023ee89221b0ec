"""Errors: one JSON shape for the API, plain pages for the browser, the same words for both.

Every 4xx and 5xx under `/api/` is ``{"error": {"code": ..., "message": ..., "details": {...}}}``.
An `InputError` (bad period, unknown ward, refused file) is a 400 carrying its own message.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from hotspots.errors import InputError

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ParameterError(InputError):
    """A bad request parameter: the message names it, `parameter` holds its name."""

    def __init__(self, parameter: str, message: str, *, value: Any = None) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.value = value


class ApiError(Exception):
    """An error with an explicit status, code and details (for the JSON API)."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = details or {}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    """The API's error shape."""
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


def _page(status: int, title: str, message: str, details: dict[str, Any] | None = None):
    return render_template("error.html", status=status, title=title, message=message,
                           details=details or {}), status


def init_errors(app: Flask) -> None:
    @app.errorhandler(ParameterError)
    def _parameter(exc: ParameterError):
        details = {"parameter": exc.parameter}
        if exc.value is not None:
            details["value"] = str(exc.value)[:200]
        if wants_json():
            return error_response(400, "invalid_parameter", str(exc), details)
        return _page(400, "That request could not be answered", str(exc), details)

    @app.errorhandler(InputError)
    def _input(exc: InputError):
        details: dict[str, Any] = {}
        if exc.problems:
            details["problems"] = [str(p) for p in exc.problems[:50]]
        if wants_json():
            return error_response(400, "invalid_input", str(exc), details)
        return _page(400, "That request could not be answered", str(exc), details)

    @app.errorhandler(ApiError)
    def _api(exc: ApiError):
        if wants_json():
            response = error_response(exc.status, exc.code, exc.message, exc.details)
        else:
            response = app.make_response(_page(exc.status, "That request could not be answered",
                                               exc.message, exc.details))
        if "retry_after_s" in exc.details:
            response.headers["Retry-After"] = str(exc.details["retry_after_s"])
        return response

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        message = f"The form's security token is missing or out of date ({exc.description}). Reload the page and try again."
        if wants_json():
            return error_response(400, "csrf_failed", message)
        return _page(400, "Form expired", message)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH") or 0
            message = f"The upload is larger than the limit of {limit // (1024 * 1024)} MB (setting upload_limit_mb)."
        else:
            message = exc.description or exc.name
        if wants_json():
            response = error_response(status, CODES.get(status, "error"), message)
            if status == 405 and exc.valid_methods:
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        return _page(status, exc.name, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):  # pragma: no cover - handled above
            return _http(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        message = "Something went wrong on the server; the error has been logged."
        if app.config.get("PROPAGATE_EXCEPTIONS"):
            raise exc
        if wants_json():
            return error_response(500, "internal_error", message)
        return _page(500, InternalServerError().name, message)
