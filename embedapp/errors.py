"""Errors the gateway renders as `{"error": {"type": ..., "message": ...}}`."""


class EmbedappError(Exception):
    """Base error: a message safe to show the client and the HTTP status it maps to."""

    status_code = 500
    type = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        if status_code is not None:
            self.status_code = status_code


class ForbiddenError(EmbedappError):
    status_code = 403
    type = "forbidden"


class NotFoundError(EmbedappError):
    status_code = 404
    type = "not_found"


class ConflictError(EmbedappError):
    status_code = 409
    type = "conflict"


class QueueFullError(EmbedappError):
    status_code = 429
    type = "queue_full"


class UnavailableError(EmbedappError):
    status_code = 503
    type = "unavailable"


class BrokerUnavailableError(UnavailableError):
    """RabbitMQ did not take a publish: unreachable, or blocking publishers."""


class GatewayTimeoutError(EmbedappError):
    status_code = 504
    type = "timeout"


class InvalidRequestError(EmbedappError):
    status_code = 422
    type = "invalid_request"


class PayloadTooLargeError(EmbedappError):
    status_code = 413
    type = "payload_too_large"
