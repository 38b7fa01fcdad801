# Install paths for real machines (see README, "Install for your machine").
PYTHON ?= python3.11
TORCH ?= torch==2.13.0
CUDA ?= cu128

.venv:
	$(PYTHON) -m venv .venv

install-cpu: .venv  ## CPU only: torch from PyTorch's CPU index, never a CUDA wheel
	.venv/bin/pip install $(TORCH) --index-url https://download.pytorch.org/whl/cpu
	.venv/bin/pip install -e .

install-gpu: .venv  ## NVIDIA GPU: torch built for CUDA=$(CUDA)
	.venv/bin/pip install $(TORCH) --index-url https://download.pytorch.org/whl/$(CUDA)
	.venv/bin/pip install -e .

wheel: .venv  ## dist/embedapp-*.whl, for `pip install` on a machine without this checkout
	.venv/bin/pip wheel --no-deps -w dist .

.PHONY: install-cpu install-gpu wheel
