"""The gateway's one error renderer: `{"error": {"type": ..., "message": ...}}`."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from embedapp.errors import EmbedappError

log = logging.getLogger(__name__)


def error_response(
    status_code: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON body every error shares."""
    return JSONResponse(
        {"error": {"type": type_, "message": message}}, status_code=status_code, headers=headers
    )


def _describe(error: dict) -> str:
    if error.get("type") == "json_invalid":
        reason = error.get("ctx", {}).get("error", "")
        return f"body is not valid JSON ({reason} at character {error['loc'][-1]})"
    if tuple(error.get("loc", ())) == ("body",) and error.get("type") == "model_attributes_type":
        return "body must be a JSON object; send it with Content-Type: application/json"
    # Union members appear in the location under pydantic's labels of their types
    # (`function-after[not_blank(), …]`, `list[…]`): the client named none of them.
    parts = [str(p) for p in error.get("loc", ()) if p != "body" and "[" not in str(p)]
    where = ".".join(parts) or "body"
    message = error.get("msg", "invalid").removeprefix("Value error, ")
    return f"{where}: {message}"


async def _embedapp_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EmbedappError)
    if exc.status_code >= 500 and exc.status_code not in (503, 504):
        log.error("internal error: %s", exc.message)
        return error_response(exc.status_code, exc.type, "internal error")
    return error_response(exc.status_code, exc.type, exc.message, exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    message = "; ".join(_describe(e) for e in exc.errors()[:10])
    return error_response(422, "invalid_request", message)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, kind, str(exc.detail))


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through one JSON shape; a 500 never echoes exception text."""
    app.add_exception_handler(EmbedappError, _embedapp_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
