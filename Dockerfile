# dataflow-worker: one image for the worker (`run`, the default), the other commands and the
# emulator. Build from the repository root: docker build -t dataflow-worker:0.1.0 .
# docs/deployment.md says how to run it; tests/deploy/test_dockerfile.py checks this file.

# The build stage installs the project and its runtime dependencies (never the [dev] extra),
# pinned by constraints.txt, into /install; only that tree reaches the final image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY messages ./messages
COPY worker ./worker
COPY emulator ./emulator
RUN pip install --no-cache-dir --prefix=/install -c constraints.txt .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="dataflow-worker" \
      org.opencontainers.image.description="Turns DataflowRequested messages into Adobe Experience Platform dataflows" \
      org.opencontainers.image.licenses="Apache-2.0"
# Nothing runs pip at run time, so the installers go; the working directory belongs to the
# worker's user, so the default SQLite ledger (dataflow-state.db) and the emulator's
# --state-file can be written there (on Kubernetes the ledger is PostgreSQL and the root
# filesystem read-only).
RUN python -m pip uninstall --quiet --yes pip setuptools wheel \
    && useradd --system --no-log-init --uid 10001 --user-group --no-create-home \
       --home-dir /var/lib/dataflow --shell /usr/sbin/nologin dataflow \
    && install --directory --owner=10001 --group=10001 --mode=0750 /var/lib/dataflow
COPY --from=build /install /usr/local
# Byte code was compiled at install time; nothing needs to be written next to the code.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATAFLOW_LOG_FORMAT=json \
    DATAFLOW_METRICS_ADDR=0.0.0.0:9464
# Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/dataflow
EXPOSE 9464
# For `run` only: the emulator and the one-shot commands serve no /healthz (compose overrides it).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=2)"]
ENTRYPOINT ["dataflow-worker"]
CMD ["run"]
