"""embedapp: documents in over HTTP, embedded by Celery prefork workers, stored in Qdrant."""

from embedapp.celery_app import celery_app

__all__ = ["celery_app"]
