"""Test helpers: a running emulator (in a thread or a subprocess) and its control surface.

with running_emulator(latency_ms=0) as emu:
    base_id = emu.create_base_connection(MARIADB_SPEC_ID)
    httpx.get(f"{emu.url}/data/foundation/flowservice/flows", headers=emu.headers())
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from emulator.app import DEFAULT_TOKEN_TTL, EmulatorConfig
from emulator.server import ServerThread
from emulator.specs import CONNECTION_STRING_AUTH, XED_FULL_V1

DEFAULT_ORG = "EMULATOR0000000000000000@AdobeOrg"
DEFAULT_CLIENT = ("emulator-test-client", "emulator-test-secret")
MARIADB_SPEC_ID = "3000eb99-cd47-43f3-827c-43caf170f015"
POSTGRES_SPEC_ID = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
FLOWSERVICE = "/data/foundation/flowservice"
SCHEMAREGISTRY = "/data/foundation/schemaregistry"
CATALOG = "/data/foundation/catalog"
CONVERSION = "/data/foundation/conversion"
PROFILE_CLASS = "https://ns.adobe.com/xdm/context/profile"
PERSON_FIELD_GROUP = "https://ns.adobe.com/xdm/context/profile-person-details"


class Emulator:
    """A running emulator seen from a test: its URL, credentials and control helpers."""

    def __init__(self, url: str, client: tuple[str, str] = DEFAULT_CLIENT) -> None:
        self.url = url
        self.client_id, self.client_secret = client
        self.org = DEFAULT_ORG
        self._http = httpx.Client(base_url=url, timeout=30)
        self._token: str | None = None

    def close(self) -> None:
        """Close the helper's HTTP client."""
        self._http.close()

    def token(self, *, fresh: bool = False) -> str:
        """An access token from the emulator's IMS (cached unless ``fresh``)."""
        if self._token is None or fresh:
            form = {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": "openid,AdobeID,read_organizations",
            }
            response = self._http.post("/ims/token/v3", data=form)
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return self._token

    def headers(self, sandbox: str = "prod", org: str | None = None) -> dict[str, str]:
        """The four Platform headers (plus JSON content type) for a sandbox."""
        return {
            "Authorization": f"Bearer {self.token()}",
            "x-api-key": self.client_id,
            "x-gw-ims-org-id": org or self.org,
            "x-sandbox-name": sandbox,
            "Content-Type": "application/json",
        }

    def resources(self) -> dict[str, list[dict[str, Any]]]:
        """``GET /__emulator/resources``."""
        result: dict[str, list[dict[str, Any]]] = self._control("GET", "resources")
        return result

    def requests(self) -> list[dict[str, Any]]:
        """``GET /__emulator/requests``: the recent requests, oldest first."""
        result: list[dict[str, Any]] = self._control("GET", "requests")
        return result

    def faults(self) -> dict[str, Any]:
        """``GET /__emulator/faults``."""
        result: dict[str, Any] = self._control("GET", "faults")
        return result

    def set_faults(self, faults: dict[str, Any]) -> dict[str, Any]:
        """``POST /__emulator/faults``: replace the fault settings."""
        result: dict[str, Any] = self._control("POST", "faults", faults)
        return result

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """``POST /__emulator/clock``: move the clock forward; the answer counts the new runs."""
        result: dict[str, Any] = self._control("POST", "clock", {"advance_seconds": seconds})
        return result

    def reset(self) -> None:
        """``POST /__emulator/reset``: forget resources, requests and faults."""
        self._control("POST", "reset")

    def create_base_connection(
        self,
        connector_spec_id: str = MARIADB_SPEC_ID,
        *,
        name: str = "test base connection",
        sandbox: str = "prod",
        org: str | None = None,
    ) -> str:
        """Create a connection-string base connection for a connector; returns its id."""
        body = {
            "name": name,
            "auth": {
                "specName": CONNECTION_STRING_AUTH,
                "params": {"connectionString": "Server=db;Port=3306;Database=crm;UID=u;PWD=p"},
            },
            "connectionSpec": {"id": connector_spec_id, "version": "1.0"},
        }
        response = self._http.post(
            f"{FLOWSERVICE}/connections", json=body, headers=self.headers(sandbox, org)
        )
        response.raise_for_status()
        return str(response.json()["id"])

    def client(self, sandbox: str = "prod", org: str | None = None) -> httpx.Client:
        """A new HTTP client on the emulator with the Platform headers set (close it)."""
        return httpx.Client(base_url=self.url, headers=self.headers(sandbox, org), timeout=30)

    def create_schema_and_dataset(
        self, title: str, *, sandbox: str = "prod", org: str | None = None
    ) -> tuple[str, str]:
        """A Profile schema with the person field group and a dataset of it: ``($id, id)``."""
        schema = {
            "type": "object",
            "title": title,
            "description": f"{title} (test)",
            "allOf": [{"$ref": PROFILE_CLASS}, {"$ref": PERSON_FIELD_GROUP}],
        }
        with self.client(sandbox, org) as http:
            response = http.post(f"{SCHEMAREGISTRY}/tenant/schemas", json=schema)
            response.raise_for_status()
            schema_id = str(response.json()["$id"])
            ref = {"id": schema_id, "contentType": "application/vnd.adobe.xed+json;version=1"}
            response = http.post(f"{CATALOG}/dataSets", json={"name": title, "schemaRef": ref})
            response.raise_for_status()
            return schema_id, str(response.json()[0]).rsplit("/", 1)[-1]

    def create_mapping_set(
        self,
        schema_id: str,
        mappings: dict[str, str],
        *,
        sandbox: str = "prod",
        org: str | None = None,
    ) -> str:
        """A mapping set (source column -> XDM path) for a schema; returns its id."""
        body = {
            "outputSchema": {"schemaRef": {"id": schema_id, "contentType": XED_FULL_V1}},
            "mappings": [
                {"sourceType": "ATTRIBUTE", "source": source, "destination": destination}
                for source, destination in mappings.items()
            ],
        }
        with self.client(sandbox, org) as http:
            response = http.post(f"{CONVERSION}/mappingSets", json=body)
            response.raise_for_status()
            return str(response.json()["id"])

    def _control(self, method: str, what: str, body: Any = None) -> Any:
        response = self._http.request(method, f"/__emulator/{what}", json=body)
        response.raise_for_status()
        return response.json() if response.content else None


@contextmanager
def running_emulator(
    latency_ms: float = 0,
    faults: dict[str, Any] | None = None,
    clients: dict[str, str] | None = None,
    sandboxes: tuple[str, ...] = (),
    token_ttl: int | None = None,
) -> Iterator[Emulator]:
    """An emulator on a free loopback port in a background thread, ready before it yields."""
    config = EmulatorConfig(
        clients=clients,
        sandboxes=tuple(sandboxes),
        token_ttl=token_ttl or DEFAULT_TOKEN_TTL,
        latency_ms=latency_ms,
        faults=dict(faults or {}),
    )
    server = ServerThread(config)
    server.start()
    client = next(iter(clients.items())) if clients else DEFAULT_CLIENT
    emulator = Emulator(server.url, client)
    try:
        yield emulator
    finally:
        emulator.close()
        server.stop()


class EmulatorProcess(Emulator):
    """An emulator served by ``dataflow-worker emulator`` in a child process (killable)."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        super().__init__(url)
        self.process = process

    def kill(self) -> None:
        """Kill the child process at once (SIGKILL) and reap it."""
        self.process.kill()
        self.process.wait(10)


@contextmanager
def emulator_process(
    *args: str, port: int = 0, timeout: float = 30, state_file: str | os.PathLike[str] | None = None
) -> Iterator[EmulatorProcess]:
    """Run ``python -m worker emulator --port PORT ARGS...``; yields once it is listening.

    On exit the process gets SIGTERM (a graceful stop: it writes ``state_file``, when given).
    """
    command = [sys.executable, "-m", "worker", "emulator", "--port", str(port), *args]
    if state_file is not None:
        command += ["--state-file", os.fspath(state_file)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter and arguments
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        url = _read_url(process)
        emulator = EmulatorProcess(process, url)
        try:
            yield emulator
        finally:
            emulator.close()
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _read_url(process: subprocess.Popen[str]) -> str:
    """The URL from the child's ``listening on URL`` line (the child prints it once bound)."""
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on " not in line:
        # Its stdout closes before the child is reaped: wait for it, then its stderr is whole.
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        stderr = process.stderr.read() if process.stderr else ""
        raise RuntimeError(f"the emulator did not start: {line.strip()} {stderr.strip()}")
    return line.rsplit("listening on ", 1)[1].split()[0]
