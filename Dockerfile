# ollagram in a container; see deploy/docker-compose.yml for running it next to Ollama.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_PATH=/data/ollagram.sqlite3

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data ollagram \
    && mkdir -p /data && chown ollagram /data

USER ollagram
VOLUME ["/data"]
# Settings come from the environment (docker compose's env_file), not from a file in the image.
ENTRYPOINT ["ollagram"]
CMD ["run"]
