"""The README's install paths: torch from the right index, and a wheel that runs on its own."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

from tests.readme import README, block_after

ROOT = README.parent


def _torch_pin() -> str:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(d for d in dependencies if d.startswith("torch=="))


def test_cpu_and_gpu_paths_install_the_pinned_torch_from_their_index_before_embedapp() -> None:
    pin = _torch_pin()
    for marker, index in (("install-cpu", "whl/cpu"), ("install-gpu", "whl/cu")):
        lines = [line for line in block_after(marker).splitlines() if "pip install" in line]
        assert len(lines) == 2, lines
        assert pin in lines[0] and f"--index-url https://download.pytorch.org/{index}" in lines[0]
        assert lines[1].endswith("pip install -e .")
    makefile = (ROOT / "Makefile").read_text()
    assert f"TORCH ?= {pin}" in makefile
    assert "whl/cpu" in makefile and "whl/$(CUDA)" in makefile


def test_examples_run_the_commands_from_the_venv() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    for block in blocks:
        commands = [line.strip() for line in block.splitlines()]
        if any(line.startswith("embedapp ") for line in commands):
            assert ". .venv/bin/activate" in commands, block


def test_the_built_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    build, install = block_after("install-wheel").strip().splitlines()
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip"]
    wheel_command = build.replace(".venv/bin/pip", " ".join(pip)).replace("-w dist", f"-w {dist}")
    subprocess.run(wheel_command, shell=True, cwd=ROOT, check=True, capture_output=True)
    (wheel,) = dist.glob("embedapp-*.whl")
    assert wheel.name in install

    # A fresh venv holding only the wheel; its dependencies come from this one's site-packages
    # as a plain path (so this checkout's editable install is not seen).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next(venv.glob("lib/python3.*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import embedapp, celeryconfig; "
         "import embedapp.gateway.app, embedapp.worker.embed; print(embedapp.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert found.stdout.strip().startswith(str(site))
    version = subprocess.run(
        [str(venv / "bin" / "embedapp"), "--version"], cwd=tmp_path, capture_output=True, text=True
    )
    assert version.stdout.strip() == "embedapp 0.1.0", version.stderr
