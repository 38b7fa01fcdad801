#!/usr/bin/env bash
# The model's speed on a lent GPU machine (docs/performance.md, "On a GPU"): a machine with
# torch, sentence-transformers, typer and rich, Python 3.12, and no network. What it lacks
# travels in .accel/ (git-ignored, about 50 MB of the 64 MiB a call may carry).
#
#   bash benchmarks/accelerator.sh prepare   # here: .accel/ = wheels + the model in float16
#   bash benchmarks/accelerator.sh run       # there, with .accel carried: figures into $OUT
set -euo pipefail
cd "$(dirname "$0")/.."

prepare() {
    local python=${PYTHON:-.venv/bin/python}
    rm -rf .accel && mkdir -p .accel/wheels
    # The versions this checkout runs with, built for the machine's CPython 3.12.
    local wanted
    wanted=$("$python" -m pip list --format=freeze 2>/dev/null |
        grep -iE '^(pydantic|pydantic[-_]core|pydantic[-_]settings|annotated[-_]types|typing[-_]inspection|python[-_]dotenv)==')
    # shellcheck disable=SC2086
    "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .accel/wheels $wanted
    # float16 files, half of the 87 MB float32 ones; every run loads them as float32.
    "$python" - <<'EOF'
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from embedapp.settings import Settings

source, target = Path(Settings().model_source), Path(".accel/model")
skip = shutil.ignore_patterns("model.safetensors", "README.md", ".gitattributes", "onnx*")
shutil.copytree(source, target, ignore=skip)
weights = {name: w.half() for name, w in load_file(source / "model.safetensors").items()}
save_file(weights, target / "model.safetensors", metadata={"format": "pt"})
EOF
    du -sh .accel
}

run() {
    : "${OUT:?run this on the lent machine, where OUT names the folder that comes back}"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .accel/wheels/*.whl
    export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
    export EMBEDAPP_MODELS="sentence-transformers/all-MiniLM-L6-v2=$PWD/.accel/model"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
    python3 -c 'import torch, transformers, sentence_transformers as s
print("torch", torch.__version__, "transformers", transformers.__version__, "st", s.__version__)' |
        tee -a "$OUT/gpu.txt"
    for corpus in docstrings generated; do
        python3 -m embedapp.bench.accelerator --corpus "$corpus" --documents 20000 \
            --json "$OUT/accelerator-$corpus.json" 2>&1 | tee "$OUT/accelerator-$corpus.log"
    done
}

case "${1:-}" in
prepare) prepare ;;
run) run ;;
*)
    echo "usage: bash benchmarks/accelerator.sh prepare|run" >&2
    exit 2
    ;;
esac
