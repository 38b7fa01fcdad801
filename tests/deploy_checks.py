"""Static checks of docker-compose.yml, the Dockerfile and deploy/kubernetes (no Docker
engine or cluster here): each returns the problems it finds, so a test can assert that a
broken file is caught."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import kubernetes_validate
import typer
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from embedapp.cli.main import app as cli_app
from embedapp.queues import task_queues
from embedapp.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "EMBEDAPP_"
KUBERNETES_VERSION = "1.33.0"
QUEUES = {q.name for q in task_queues(Settings())}
# `${NAME:-default}` in compose files: checked as the default it falls back to.
# `${NAME:?message}` (required): checked as a placeholder value.
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*)|:?\?[^}]*)?\}")


def cli_problem(argv: Iterable[str]) -> str | None:
    """Why `argv` is not a command line the embedapp CLI accepts (parsed, never run)."""
    argv = list(argv)
    if not argv or argv[0] != "embedapp":
        return f"{argv}: not an embedapp command"
    command = typer.main.get_command(cli_app)
    words = argv[1:]
    try:
        while isinstance(command, typer.core.TyperGroup):  # e.g. `embedapp dlq list`
            if not words:
                return f"{argv}: no subcommand"
            name, words = words[0], words[1:]
            command = command.get_command(typer.Context(command), name)
            if command is None:
                return f"{argv}: no command {name!r}"
        command.make_context(command.name, list(words))  # parses and checks every option
    except typer.TyperException as exc:  # typer's own click: bad option, bad value
        return f"{argv}: {exc}"
    return None


def settings_problems(env: dict[str, Any], where: str) -> list[str]:
    """EMBEDAPP_ names that are no setting, and values the settings refuse."""
    fields = {f"{PREFIX}{name.upper()}": name for name in Settings.model_fields}
    found = [
        f"{where}: {name} is not a setting"
        for name in env
        if name.startswith(PREFIX) and name not in fields
    ]
    values = {
        fields[name]: INTERPOLATION.sub(lambda m: m.group(2) or "", str(value))
        for name, value in env.items()
        if name in fields
    }
    try:
        Settings.model_validate({k: v for k, v in values.items() if v != ""})
    except ValidationError as exc:
        found += [f"{where}: {error['loc'][0]}: {error['msg']}" for error in exc.errors()]
    return found


def _host(url: str) -> str | None:
    match = re.match(r"\w+://(?:[^@/]*@)?([^:/]+)", url)
    return match.group(1) if match else None


def compose_problems(path: Path) -> list[str]:
    """What is wrong with a docker-compose file for embedapp."""
    spec = yaml.safe_load(path.read_text())
    services: dict[str, dict[str, Any]] = spec.get("services") or {}
    volumes = set(spec.get("volumes") or {})
    found = ["the guest account is used: give RabbitMQ a user of its own"] * (
        re.search(r"\bguest:", path.read_text()) is not None
    )
    found += [
        f"no {name!r} service"
        for name in (
            "rabbitmq",
            "redis",
            "qdrant",
            "gateway",
            "embed-worker",
            "store-worker",
            "flower",
        )
        if name not in services
    ]
    if "management" not in services.get("rabbitmq", {}).get("image", ""):
        found.append("rabbitmq: use an image with the management plugin (Flower's queue view)")
    images = {s.get("image") for s in services.values() if "build" in s}
    if len(images) > 1:
        found.append(f"the services built here name different images: {sorted(map(str, images))}")
    for name, service in services.items():
        where = f"service {name}"
        if "healthcheck" not in service:
            found.append(f"{where}: no healthcheck")
        if name in ("rabbitmq", "redis", "qdrant") and service.get("ports"):
            found.append(f"{where}: publishes {service['ports']}; keep it inside the network")
        for target, condition in (service.get("depends_on") or {}).items():
            if target not in services:
                found.append(f"{where}: depends on unknown service {target!r}")
            elif (
                condition.get("condition") == "service_healthy"
                and "healthcheck" not in services[target]
            ):
                found.append(
                    f"{where}: waits for {target!r} to be healthy, which has no healthcheck"
                )
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            if not source.startswith((".", "/")) and source not in volumes:
                found.append(f"{where}: volume {source!r} is not declared")
        if "build" not in service:
            continue
        env = service.get("environment") or {}
        found += settings_problems(env, where)
        for setting in ("EMBEDAPP_BROKER_URL", "EMBEDAPP_RESULT_BACKEND", "EMBEDAPP_QDRANT_URL"):
            host = _host(str(env.get(setting, "")))
            if host not in services:
                found.append(f"{where}: {setting} points at {host!r}, which is no service")
        problem = cli_problem(service.get("command") or [])
        if problem:
            found.append(f"{where}: {problem}")
    return found


def dockerfile_problems(path: Path) -> list[str]:
    """What is wrong with the Dockerfile: torch from the CPU index, at our pin, before us."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", "\n".join(lines), re.M))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("torch"))
    found = []
    torch = next(
        (i for i, line in enumerate(lines) if re.search(r"pip install .*\btorch\b", line)), None
    )
    ours = next(
        (i for i, line in enumerate(lines) if re.search(r"pip install (-e )?\.(\s|$)", line)), None
    )
    if torch is None:
        return ["torch is not installed on its own before embedapp (PyPI's wheel pulls CUDA)"]
    install = INTERPOLATION.sub(lambda m: args.get(m.group(1), ""), lines[torch])
    if pin not in install:
        found.append(f"torch is installed as {install!r}, not at the project's pin {pin!r}")
    if "--index-url https://download.pytorch.org/whl/cpu" not in install:
        found.append("torch does not come from PyTorch's CPU index by default")
    if ours is None or ours < torch:
        found.append("embedapp is installed before torch: pip would pull the CUDA build")
    for line in lines:
        if line.startswith("COPY "):
            found += [
                f"COPY of missing {s!r}" for s in line.split()[1:-1] if not (ROOT / s).exists()
            ]
    cmd = next((line for line in lines if line.startswith("CMD ")), None)
    problem = cli_problem(yaml.safe_load(cmd[4:]) if cmd else [])
    if problem:
        found.append(f"CMD: {problem}")
    return found


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Metadata(BaseModel):
    name: str
    namespace: str | None = None


class _Reference(_Strict):
    name: str
    kind: str | None = None
    apiVersion: str | None = None


class _Trigger(_Strict):
    type: str
    metadata: dict[str, str]
    name: str | None = None
    authenticationRef: _Reference | None = None
    metricType: Literal["AverageValue", "Value", "Utilization"] | None = None
    useCachedMetrics: bool | None = None


class _ScaledObjectSpec(_Strict):
    scaleTargetRef: _Reference
    triggers: list[_Trigger] = Field(min_length=1)
    pollingInterval: int | None = Field(None, ge=1)
    cooldownPeriod: int | None = Field(None, ge=0)
    initialCooldownPeriod: int | None = Field(None, ge=0)
    idleReplicaCount: int | None = Field(None, ge=0)
    minReplicaCount: int | None = Field(None, ge=0)
    maxReplicaCount: int | None = Field(None, ge=1)
    fallback: dict[str, Any] | None = None
    advanced: dict[str, Any] | None = None


class _SecretTargetRef(_Strict):
    parameter: str
    name: str
    key: str


class _TriggerAuthenticationSpec(_Strict):
    secretTargetRef: list[_SecretTargetRef] | None = None
    env: list[dict[str, str]] | None = None


class _ScaledObject(_Strict):
    """KEDA's ScaledObject (keda.sh/v1alpha1), the fields its docs define."""

    apiVersion: Literal["keda.sh/v1alpha1"]
    kind: Literal["ScaledObject"]
    metadata: _Metadata
    spec: _ScaledObjectSpec


class _TriggerAuthentication(_Strict):
    apiVersion: Literal["keda.sh/v1alpha1"]
    kind: Literal["TriggerAuthentication"]
    metadata: _Metadata
    spec: _TriggerAuthenticationSpec


KEDA = {"ScaledObject": _ScaledObject, "TriggerAuthentication": _TriggerAuthentication}
RABBITMQ_MODES = {"QueueLength", "MessageRate"}


def _schema_problems(doc: dict[str, Any], where: str) -> list[str]:
    if str(doc.get("apiVersion", "")).startswith("keda.sh/"):
        model = KEDA.get(doc.get("kind", ""))
        if model is None:
            return [f"{where}: unknown KEDA kind {doc.get('kind')!r}"]
        try:
            model.model_validate(doc)
        except ValidationError as exc:
            return [f"{where}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        return []
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(map(str, exc.path))
        return [f"{where}: {path}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{where}: no schema for {doc.get('apiVersion')} {doc.get('kind')}"]
    return []


def kubernetes_problems(directory: Path) -> list[str]:
    """Schema errors (Kubernetes' own schemas; KEDA's fields) and references that do not meet."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    files = sorted(p.name for p in directory.glob("*.yaml") if p.name != "kustomization.yaml")
    found = []
    if sorted(kustomization["resources"]) != files:
        found.append(
            f"kustomization.yaml lists {kustomization['resources']}, the folder holds {files}"
        )
    docs: list[tuple[str, dict[str, Any]]] = []
    for name in files:
        for index, doc in enumerate(yaml.safe_load_all((directory / name).read_text())):
            if doc:
                where = f"{name}[{index}] {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
                docs.append((where, doc))
                found += _schema_problems(doc, where)

    def named(kind: str) -> dict[str, dict[str, Any]]:
        return {d["metadata"]["name"]: d for _, d in docs if d.get("kind") == kind}

    config_maps, secrets, deployments = named("ConfigMap"), named("Secret"), named("Deployment")
    auths = named("TriggerAuthentication")
    workloads = {**deployments, **named("StatefulSet")}
    for where, doc in docs:
        if doc.get("kind") in ("ConfigMap", "Secret"):
            found += settings_problems({**doc.get("data", {}), **doc.get("stringData", {})}, where)
    pod_labels = [w["spec"]["template"]["metadata"].get("labels", {}) for w in workloads.values()]
    gpu_workers = 0
    for name, workload in workloads.items():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            where = f"{workload['kind']} {name}, container {container['name']}"
            for source in container.get("envFrom", []):
                if "configMapRef" in source and source["configMapRef"]["name"] not in config_maps:
                    found.append(f"{where}: no ConfigMap {source['configMapRef']['name']!r}")
                if "secretRef" in source and source["secretRef"]["name"] not in secrets:
                    found.append(f"{where}: no Secret {source['secretRef']['name']!r}")
            found += settings_problems(
                {e["name"]: e.get("value", "") for e in container.get("env", [])}, where
            )
            if not container["image"].startswith("embedapp:"):
                continue
            problem = cli_problem(container.get("command", []))
            if problem:
                found.append(f"{where}: {problem}")
            if "nvidia.com/gpu" in container.get("resources", {}).get("limits", {}):
                gpu_workers += 1
                command = container.get("command", [])
                if (
                    command[:2] != ["embedapp", "worker"]
                    or "--concurrency" not in command
                    or (command[command.index("--concurrency") + 1] != "1")
                ):
                    found.append(f"{where}: a GPU worker runs one child (--concurrency 1)")
    if not gpu_workers:
        found.append("no GPU worker (a container with an nvidia.com/gpu limit)")
    for where, service in ((w, d) for w, d in docs if d.get("kind") == "Service"):
        selector = service["spec"].get("selector", {})
        if not any(selector.items() <= labels.items() for labels in pod_labels):
            found.append(f"{where}: selector {selector} matches no pod template")
    for where, scaled in ((w, d) for w, d in docs if d.get("kind") == "ScaledObject"):
        spec = scaled.get("spec", {})
        target = spec.get("scaleTargetRef", {}).get("name")
        if target not in deployments:
            found.append(f"{where}: scales {target!r}, which is no Deployment here")
        for trigger in spec.get("triggers", []):
            meta = trigger.get("metadata", {})
            if trigger.get("type") != "rabbitmq":
                continue
            if meta.get("queueName") not in QUEUES:
                found.append(
                    f"{where}: queue {meta.get('queueName')!r} is none of ours {sorted(QUEUES)}"
                )
            if meta.get("mode") not in RABBITMQ_MODES or not str(meta.get("value", "")).isdigit():
                found.append(
                    f"{where}: a rabbitmq trigger needs mode {RABBITMQ_MODES} and a numeric value"
                )
            auth = (trigger.get("authenticationRef") or {}).get("name")
            if auth not in auths:
                found.append(f"{where}: no TriggerAuthentication {auth!r}")
    for where, auth in ((w, d) for w, d in docs if d.get("kind") == "TriggerAuthentication"):
        for ref in auth.get("spec", {}).get("secretTargetRef", []):
            secret = secrets.get(ref.get("name"), {})
            if ref.get("key") not in {**secret.get("data", {}), **secret.get("stringData", {})}:
                found.append(f"{where}: Secret {ref.get('name')!r} has no key {ref.get('key')!r}")
    return found
