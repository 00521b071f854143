# dataflow-worker: one image for the worker, the CLI and the emulator.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY messages ./messages
COPY worker ./worker
COPY emulator ./emulator
RUN pip install --no-cache-dir --prefix=/install -c constraints.txt .

FROM python:3.11-slim
RUN useradd --system --uid 10001 dataflow
COPY --from=build /install /usr/local
USER dataflow
WORKDIR /var/lib/dataflow
ENV DATAFLOW_LOG_FORMAT=json DATAFLOW_METRICS_ADDR=0.0.0.0:9464
EXPOSE 9464
HEALTHCHECK CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=2)" || exit 1
ENTRYPOINT ["dataflow-worker"]
CMD ["run"]
