# One image for every service; the command picks the service (registry, matcher, notifier, migrate).
FROM python:3.11.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app involvim

USER involvim
ENTRYPOINT ["involvim"]
CMD ["registry"]
