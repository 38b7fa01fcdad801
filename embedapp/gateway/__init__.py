"""The HTTP gateway: takes work, publishes Celery tasks by name, never loads the model."""
