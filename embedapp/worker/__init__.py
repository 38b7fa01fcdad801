"""The worker side: per-child lifecycle, the embed and store tasks, and worker metrics.

Here the model and the store meet: embed tasks hand vectors to the store tasks."""
