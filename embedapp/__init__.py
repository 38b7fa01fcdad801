"""embedapp: documents in over HTTP, embedded by Celery prefork workers, stored in Qdrant."""

from typing import Any


def __getattr__(name: str) -> Any:
    # `celery -A embedapp` looks up `embedapp.app`; built on first access so that importing
    # any embedapp module has no side effects.
    if name in ("app", "celery_app"):
        from embedapp.celery_app import celery_app

        return celery_app
    raise AttributeError(f"module 'embedapp' has no attribute {name!r}")
