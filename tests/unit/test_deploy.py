"""docker-compose.yml, the Dockerfile and deploy/kubernetes, checked without Docker or a
cluster; each check is also shown to catch a broken copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.deploy_checks import (
    ROOT,
    cli_problem,
    compose_problems,
    dockerfile_problems,
    kubernetes_problems,
)

COMPOSE = ROOT / "docker-compose.yml"
KUBERNETES = ROOT / "deploy" / "kubernetes"


def test_the_cli_check_parses_commands_without_running_them() -> None:
    assert cli_problem(["embedapp", "worker", "--lane", "bulk", "--concurrency", "2"]) is None
    assert cli_problem(["embedapp", "dlq", "list"]) is None
    assert "bulky" in cli_problem(["embedapp", "worker", "--lane", "bulky"])
    assert "--port" in cli_problem(["embedapp", "gateway", "--port", "eighty"])
    assert "no command" in cli_problem(["embedapp", "serve-all"])


def test_the_compose_file_is_consistent() -> None:
    assert compose_problems(COMPOSE) == []


def test_a_broken_compose_file_is_caught(tmp_path: Path) -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    worker = spec["services"]["embed-worker"]
    worker["environment"] = {**worker["environment"], "EMBEDAPP_QUEUE_MAXLEN": "5"}
    worker["environment"]["EMBEDAPP_LOG_LEVEL"] = "LOUD"
    worker["command"] = ["embedapp", "worker", "--lanes", "bulk"]
    worker["depends_on"] = {**worker["depends_on"], "postgres": {"condition": "service_healthy"}}
    del spec["services"]["qdrant"]["healthcheck"]
    spec["services"]["store-worker"]["image"] = "embedapp:old"
    spec["services"]["redis"]["ports"] = ["6379:6379"]
    spec["x-embedapp-env"]["EMBEDAPP_BROKER_URL"] = "amqp://guest:guest@rabbitmq:5672//"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(spec))
    found = "\n".join(compose_problems(broken))
    for expected in (
        "EMBEDAPP_QUEUE_MAXLEN is not a setting",
        "log_level",
        "No such option: --lanes",
        "unknown service 'postgres'",
        "service qdrant: no healthcheck",
        "different images",
        "service redis: publishes ['6379:6379']",
        "the guest account is used",
    ):
        assert expected in found


def test_the_dockerfile_installs_the_cpu_torch_at_our_pin_first() -> None:
    assert dockerfile_problems(ROOT / "Dockerfile") == []


def test_a_dockerfile_that_would_pull_cuda_is_caught(tmp_path: Path) -> None:
    text = (ROOT / "Dockerfile").read_text()
    broken = tmp_path / "Dockerfile"
    broken.write_text(
        text.replace(
            "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu",
            "ARG TORCH_INDEX_URL=https://pypi.org/simple",
        )
    )
    assert any("CPU index" in p for p in dockerfile_problems(broken))
    broken.write_text(text.replace("torch==2.13.0", "torch"))
    assert any("pin" in p for p in dockerfile_problems(broken))


def test_the_kubernetes_manifests_are_valid() -> None:
    assert kubernetes_problems(KUBERNETES) == []


def test_broken_kubernetes_manifests_are_caught(tmp_path: Path) -> None:
    target = tmp_path / "kubernetes"
    shutil.copytree(KUBERNETES, target)

    def edit(name: str, old: str, new: str) -> None:
        path = target / name
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))

    edit("embed-worker.yaml", "replicas: 1", "replicas: one")  # Kubernetes' schema
    edit("gateway.yaml", "readinessProbe:", "readinesProbe:")  # an unknown field (strict)
    edit("keda.yaml", "minReplicaCount: 1", "minReplicas: 1")  # KEDA's fields
    edit(
        "keda.yaml",
        "name: embed-worker-gpu\n  minReplicaCount",
        "name: embed-workers\n  minReplicaCount",
    )
    edit("keda.yaml", 'value: "100"', 'value: "100"\n        queueName: embeddings')
    edit("embed-worker-gpu.yaml", '"--concurrency", "1"', '"--concurrency", "4"')
    edit("config.yaml", "EMBEDAPP_QDRANT_URL", "EMBEDAPP_QDRANT_ADDRESS")
    found = "\n".join(kubernetes_problems(target))
    for expected in (
        "embed-worker.yaml[0] Deployment embed-worker: spec.replicas",
        "readinesProbe",
        "minReplicas",
        "'embed-workers', which is no Deployment",
        "queue 'embeddings' is none of ours",
        "a GPU worker runs one child",
        "EMBEDAPP_QDRANT_ADDRESS is not a setting",
    ):
        assert expected in found, f"{expected!r} not in:\n{found}"
