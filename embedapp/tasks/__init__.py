"""Thin Celery tasks: validate the message, call the model or the store, record state.

`embed` runs on the embed workers (embed.interactive, embed.bulk); `store` on the store
worker, the one owner of embedded Qdrant.
"""
