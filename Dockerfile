# torchdash, CPU image. The same install steps as the Makefile's `install` and `data` targets;
# keep the torch pins in sync with TORCH_PINS there. Its CUDA sibling is Dockerfile.gpu: every
# line from WORKDIR on is the same in both (tests/unit/test_docker_pins.py checks it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TORCHDASH_HOME=/srv/torchdash/var \
    TORCHDASH_HOST=0.0.0.0 \
    TORCHDASH_PORT=8000

WORKDIR /srv/torchdash

# The CPU builds of the Makefile's pins (Dockerfile.gpu: the CUDA builds, from PyTorch's image).
RUN pip install torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY app ./app
COPY trainer ./trainer
COPY templates ./templates
COPY static ./static
COPY examples ./examples
COPY torchdash_track ./torchdash_track
RUN pip install -e '.[cluster]'

RUN useradd --create-home --uid 1000 torchdash \
    && mkdir -p "$TORCHDASH_HOME" \
    && chown -R torchdash:torchdash /srv/torchdash
USER torchdash

# Runs, checkpoints, the database and the demo data live here: keep them across containers.
VOLUME ["/srv/torchdash/var"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"

CMD ["sh", "-c", "python -m app prepare-data && exec python -m app serve"]
