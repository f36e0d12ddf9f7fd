# One image for every service; the command picks it: registry, matcher, notifier or migrate.
FROM python:3.11.10-slim-bookworm

# NUMBA_CACHE_DIR: where the matcher keeps its compiled kernels (the installed code is read-only).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NUMBA_CACHE_DIR=/tmp/numba

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY involvim ./involvim
COPY services ./services
# Installed as root, run as a user who can write nothing of it.
RUN pip install . \
    && groupadd --system --gid 10001 involvim \
    && useradd --system --uid 10001 --gid involvim --no-create-home --home-dir /app involvim

USER 10001:10001
# The registry's API, and the matcher's and notifier's /healthz, /readyz and /metrics.
EXPOSE 8000 9101 9102
ENTRYPOINT ["involvim"]
CMD ["registry"]
