"""The Celery app: `celery -A embedapp worker` finds it here, the gateway sends tasks by name."""

from celery import Celery

import celeryconfig
from embedapp.settings import Settings, get_settings


def create_celery(settings: Settings) -> Celery:
    """A Celery app configured from these settings."""
    app = Celery("embedapp", set_as_current=False)
    app.conf.update(celeryconfig.build(settings))
    return app


celery_app = create_celery(get_settings())
