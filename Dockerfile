# The LiveFlow image: worker, notifier, simulator and the other `liveflow` commands (docker-compose.yml).
# Two stages: the wheel is built where gcc is (setup.py compiles liveflow/_idset.c, which the core imports),
# and only the wheel goes into the runtime image.
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# README.m[d]: copied when present (pyproject.toml names it as the readme); the glob may match nothing.
COPY pyproject.toml setup.py README.m[d] ./
COPY liveflow ./liveflow
COPY agents ./agents
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /var/lib/liveflow --create-home liveflow

USER liveflow
WORKDIR /var/lib/liveflow
# 6066: worker /metrics (LIVEFLOW_WEB_PORT), 6067: notifier /metrics (routing file metrics.port)
EXPOSE 6066 6067
CMD ["liveflow", "worker"]
