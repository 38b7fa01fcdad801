# One image for every part: the command picks gateway, worker, store-worker or flower.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    EMBEDAPP_DATA_DIR=/data
WORKDIR /app

# torch first, from PyTorch's CPU index: PyPI's Linux wheel pulls in CUDA (GBs). For a GPU
# image pass a CUDA index: --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install torch==2.13.0 --index-url ${TORCH_INDEX_URL}

COPY pyproject.toml README.md celeryconfig.py ./
COPY embedapp ./embedapp
RUN pip install .

RUN useradd --create-home --uid 10001 embedapp && mkdir -p /data && chown embedapp /data
USER embedapp
EXPOSE 8000 5555 9540
CMD ["embedapp", "gateway", "--host", "0.0.0.0"]
