#!/usr/bin/env bash
# A venv with infinity-emb, for `embedapp bench --peer-python VENV/bin/python`: infinity on
# the same load, the same model files and the same cores, measured in the same run.
#   bash benchmarks/infinity-venv.sh [VENV]   (default .venv-infinity)
# torch is pinned first: left to infinity-emb's own requirement, pip takes a CUDA build of
# several GB even on a machine without a GPU.
set -euo pipefail
venv="${1:-.venv-infinity}"
python="${PYTHON:-python3.11}"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu \
  || "$venv/bin/pip" install --quiet "torch==2.13.0"
"$venv/bin/pip" install --quiet "infinity-emb[server,torch]==0.0.78" "torch==2.13.0"
"$venv/bin/infinity_emb" --help > /dev/null
echo "ready: embedapp bench --peer-python $venv/bin/python"
