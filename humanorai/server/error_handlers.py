"""How every failure reaches a client: JSON ``{"error": ..., "detail": ...}`` with the right status.

Handlers are keyed by exception class; a stack trace never reaches a client (it goes to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from humanorai.errors import InputError
from humanorai.scoring.batching import Overloaded

logger = logging.getLogger(__name__)

RETRY_AFTER_BUSY_S = 1


class ApiError(Exception):
    """An expected failure with its HTTP status and a message the client can act on."""

    def __init__(self, status: int, message: str, retry_after: int | None = None, detail: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.detail = detail


def error_response(status: int, message: str, detail: object = None, retry_after: int | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The one error shape of the API."""
    headers = dict(headers or {})
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse({"error": message, "detail": detail}, status_code=status, headers=headers)


async def _api_error(_: Request, error: ApiError) -> JSONResponse:
    return error_response(error.status, error.message, error.detail, error.retry_after)


async def _overloaded(_: Request, error: Overloaded) -> JSONResponse:
    return error_response(429, str(error), retry_after=RETRY_AFTER_BUSY_S)


async def _input_error(_: Request, error: InputError) -> JSONResponse:
    return error_response(422, str(error))


async def _invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
    problems = [_describe_problem(problem) for problem in error.errors()]
    return error_response(422, "; ".join(problems), detail=problems)


async def _http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
    return error_response(error.status_code, str(error.detail), headers=error.headers)  # e.g. Allow on a 405


async def _unexpected(_: Request, error: Exception) -> JSONResponse:
    logger.exception("unexpected error while serving a request", exc_info=error)
    return error_response(500, "internal error; the server log has the details")


#: Exception class → its JSON answer.
ERROR_HANDLERS = {ApiError: _api_error, Overloaded: _overloaded, InputError: _input_error,
                  RequestValidationError: _invalid_request, StarletteHTTPException: _http_error,
                  Exception: _unexpected}


def _describe_problem(problem: dict[str, Any]) -> str:
    location = [str(part) for part in problem.get("loc", ()) if part != "body"]
    if problem.get("type") == "json_invalid":
        return "the body is not valid JSON"
    if not location:
        return 'the body must be a JSON object: send a JSON object like {"text": "..."}'
    where = ".".join(location) or "body"
    return f"{where}: {problem.get('msg', 'invalid')}"
