"""Queue bounds as RabbitMQ policies, set through the management API.

A bound declared as a queue argument (`x-max-length`) can only change by deleting the queue
with its waiting jobs: RabbitMQ refuses a declare whose arguments differ. A policy applies to
the queues its pattern matches and can be changed at any time; workers set embedapp's at
start, so a new `EMBEDAPP_QUEUE_MAX_LENGTH` takes effect on the next worker restart.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from embedapp.queues import STORE_QUEUE, embed_queues
from embedapp.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "embedapp-bound-"
# Above an operator's catch-all policies (priority 0), below anything they mean to win.
PRIORITY = 10
TIMEOUT_S = 5.0


class PolicyError(RuntimeError):
    """The management API refused or could not be reached."""


def bounds(settings: Settings) -> dict[str, int]:
    """Each bounded queue's bound. The store queue is bounded by admission instead: the
    gateway answers 429 while it holds EMBEDAPP_STORE_QUEUE_MAX_LENGTH jobs (a publish the
    embed task makes cannot be refused without failing work already done)."""
    found = {}
    for spec in settings.served_models:
        lanes = embed_queues(settings, spec.name)
        found[lanes.bulk] = settings.queue_max_length
        found[lanes.interactive] = settings.interactive_queue_max_length
    return found


def definitions(settings: Settings) -> dict[str, dict[str, Any]]:
    """Each queue's policy. A full queue refuses the publish (a nack, with confirms on): the
    gateway's 429. A quorum queue also dead-letters a message delivered `delivery_limit` times
    without an ack (a job that kills every child it reaches, on every node)."""
    limit = {"delivery-limit": settings.delivery_limit} if settings.queue_type == "quorum" else {}
    found = {queue: {**bounded(bound), **limit} for queue, bound in bounds(settings).items()}
    if limit:
        found[STORE_QUEUE] = limit
    return found


def bounded(bound: int) -> dict[str, Any]:
    """The policy keys of a bound."""
    return {"max-length": bound, "overflow": "reject-publish"}


def _api(settings: Settings) -> tuple[httpx.Client, str]:
    url = urlsplit(settings.management_api_url)
    auth = (url.username or "guest", url.password or "guest")
    base = f"{url.scheme}://{url.hostname}:{url.port or 15672}{url.path.rstrip('/')}"
    vhost = urlsplit(settings.broker_urls[0]).path.lstrip("/") or "/"
    return httpx.Client(base_url=base, auth=auth, timeout=TIMEOUT_S), quote(vhost, safe="")


def apply(settings: Settings) -> dict[str, dict[str, Any]]:
    """Set embedapp's policy on each of its queues; the policies set. PolicyError if the
    management API cannot do it (the queues then keep the policies they had)."""
    client, vhost = _api(settings)
    wanted = definitions(settings)
    try:
        with client:
            for queue, definition in wanted.items():
                _drop_declared_bound(client, vhost, queue)
                body = {
                    "pattern": f"^{re.escape(queue)}$",
                    "definition": definition,
                    "apply-to": "queues",
                    "priority": PRIORITY,
                }
                policy = quote(PREFIX + queue, safe="")
                client.put(f"/policies/{vhost}/{policy}", json=body).raise_for_status()
    except httpx.HTTPError as exc:
        raise PolicyError(f"RabbitMQ's management API: {exc}") from exc
    return wanted


def _drop_declared_bound(client: httpx.Client, vhost: str, queue: str) -> None:
    """Older embedapp declared the bound as an argument, and RabbitMQ refuses a declare
    without it: such a queue is deleted if it is empty, else the operator is told how."""
    found = client.get(f"/queues/{vhost}/{quote(queue, safe='')}")
    if found.status_code == 404:
        return
    found.raise_for_status()
    if "x-max-length" not in (found.json().get("arguments") or {}):
        return
    gone = client.delete(f"/queues/{vhost}/{quote(queue, safe='')}", params={"if-empty": "true"})
    if gone.status_code >= 400:
        raise PolicyError(
            f"queue {queue} was declared by an older embedapp with a fixed bound, and still "
            "holds jobs: let older workers drain it, then delete it (`rabbitmqctl "
            f"delete_queue {queue}`); embedapp declares it again with a changeable bound"
        )
    log.warning("queue %s (empty) declared again: its bound is now a policy", queue)
