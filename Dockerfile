# moviebot: the bot (serving only, no TensorFlow) by default. It cannot build models; its
# "no built artifacts" error says so and points at the build image below.
#   docker build -t moviebot .
#   docker run -e TELEGRAM_BOT_TOKEN=... -v moviebot-data:/data moviebot
# Without TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN (and no TTY) `serve auto` exits with code 78
# and names them; `docker run -it moviebot` (a TTY) chats on the console instead.
# For an image that can also train (`moviebot build`, the jobs), add the train extra:
#   docker build --build-arg EXTRAS=train,telegram,discord,postgres,report -t moviebot-jobs .
#   docker run -v moviebot-data:/data -v "$PWD/data/raw:/data/raw:ro" moviebot-jobs moviebot build
# docker-compose.yml wires both: a one-shot `build` service, then the bot and the job runner.

FROM python:3.11-slim AS build
ARG EXTRAS=telegram,discord,postgres
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY engine ./engine
COPY jobs ./jobs
COPY data/manifest.json ./data/manifest.json
# annoy ships no wheels: compile it here so the runtime image needs no compiler.
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[${EXTRAS}]"

FROM python:3.11-slim
ARG EXTRAS=telegram,discord,postgres
ENV PYTHONUNBUFFERED=1 \
    MOVIEBOT_DATA_DIR=/data/raw \
    MOVIEBOT_ARTIFACTS=/data/artifacts \
    DATABASE_URL=sqlite:////data/moviebot.db \
    MOVIEBOT_DATA_MANIFEST=/app/data/manifest.json
RUN useradd --create-home --uid 10001 moviebot && mkdir -p /data && chown moviebot /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels /wheels/*.whl && rm -rf /wheels
COPY data/manifest.json /app/data/manifest.json
USER moviebot
WORKDIR /data
VOLUME ["/data"]
# Raw data goes to /data/raw (`moviebot data fetch` or a bind mount), built artifacts to
# /data/artifacts (`moviebot build` in the jobs image, or mount them).
CMD ["moviebot", "serve", "auto"]
