"""Migrations: a collection moved to another model while it keeps answering."""

from fastapi import APIRouter

from embedapp import queues
from embedapp.gateway.deps import AdminCollection, ReadCollection, ServicesDep
from embedapp.schemas import MigrationCreate, MigrationStatus

router = APIRouter(prefix="/v1/collections/{collection}/migrations", tags=["migrations"])


@router.post("", status_code=202, response_model=MigrationStatus)
async def start(
    collection: AdminCollection, body: MigrationCreate, services: ServicesDep
) -> MigrationStatus:
    """Begin re-embedding every stored document with `model` into a new version of the
    collection; searches keep using the old one, and every write reaches both, until the
    new one has caught up and the collection switches to it."""
    model = services.model_named(body.model)
    served = await services.loaded_model(model)
    found = await services.call(
        services.task(
            queues.MIGRATION_START,
            collection,
            model,
            served.dimension,
            served.fingerprint,
            min_overlap=body.min_overlap,
            switch=body.switch,
        )
    )
    return await _status(services, collection, found["id"])


async def _status(services: ServicesDep, collection: str, migration_id: str) -> MigrationStatus:
    found = await services.call(services.task(queues.MIGRATION_STATUS, collection, migration_id))
    return MigrationStatus.model_validate(found)


@router.get("/{migration_id}", response_model=MigrationStatus)
async def read(
    collection: ReadCollection, migration_id: str, services: ServicesDep
) -> MigrationStatus:
    """Progress: done of total documents, rate and estimate, the quality check's overlap."""
    return await _status(services, collection, migration_id)


async def _control(
    services: ServicesDep, task: str, collection: str, migration_id: str
) -> MigrationStatus:
    found = await services.call(services.task(task, collection, migration_id))
    services.collections.forget(collection)  # its model may have changed
    return MigrationStatus.model_validate(found)


@router.post("/{migration_id}/switch", response_model=MigrationStatus)
async def switch(
    collection: AdminCollection, migration_id: str, services: ServicesDep
) -> MigrationStatus:
    """Serve the new version now (a migration that has caught up: `ready`)."""
    return await _control(services, queues.MIGRATION_SWITCH, collection, migration_id)


@router.post("/{migration_id}/rollback", response_model=MigrationStatus)
async def rollback(
    collection: AdminCollection, migration_id: str, services: ServicesDep
) -> MigrationStatus:
    """Serve the old version again; the new one is kept, and kept current, until deleted."""
    return await _control(services, queues.MIGRATION_ROLLBACK, collection, migration_id)


@router.delete("/{migration_id}", response_model=MigrationStatus)
async def finish(
    collection: AdminCollection, migration_id: str, services: ServicesDep
) -> MigrationStatus:
    """Delete the version the collection does not serve: no rollback after this."""
    return await _control(services, queues.MIGRATION_FINISH, collection, migration_id)
