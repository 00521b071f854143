"""Faults and the control surface over real HTTP: latency, errors, throttling, drops, reset, IMS."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from emulator.testing import MARIADB_SPEC_ID, Emulator, emulator_process, running_emulator

pytestmark = pytest.mark.integration

FS = "/data/foundation/flowservice"
CONNECTIONS = f"{FS}/connections"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A fresh emulator per test, since faults are emulator-wide."""
    with running_emulator() as running:
        yield running


def base_body(name: str) -> dict[str, object]:
    """A valid base connection body with this name."""
    return {
        "name": name,
        "auth": {
            "specName": "Connection String Based Authentication",
            "params": {"connectionString": "Server=db;PWD=secret"},
        },
        "connectionSpec": {"id": MARIADB_SPEC_ID, "version": "1.0"},
    }


def names(emu: Emulator, kind: str = "connections") -> list[str]:
    """The names of every resource of a kind the emulator holds."""
    return [item["name"] for item in emu.resources()[kind]]


def test_latency_comes_after_the_create_so_a_client_that_gives_up_leaves_it_behind(
    emu: Emulator,
) -> None:
    emu.set_faults({"latency_ms": 3000})
    name = f"slow {uuid.uuid4()}"
    with emu.client() as http, pytest.raises(httpx.ReadTimeout):
        http.post(CONNECTIONS, json=base_body(name), timeout=0.3)
    assert name in names(emu)


def test_commit_then_drop_applies_the_create_and_closes_the_connection_without_a_response(
    emu: Emulator,
) -> None:
    emu.set_faults({"commit_then_drop": 1})
    name = f"dropped {uuid.uuid4()}"
    with emu.client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(CONNECTIONS, json=base_body(name))
        listed = http.get(CONNECTIONS, params={"property": f"name=={name}"})
    assert name in names(emu)
    assert listed.status_code == 200  # reads are never dropped
    assert len(listed.json()["items"]) == 1
    dropped = [r for r in emu.requests() if r["method"] == "POST" and r["path"] == CONNECTIONS]
    assert dropped[-1]["status"] is None


def test_a_failed_create_is_not_dropped(emu: Emulator) -> None:
    emu.set_faults({"commit_then_drop": 1})
    with emu.client() as http:
        response = http.post(CONNECTIONS, json={"name": "no auth"})
    assert response.status_code == 400


@pytest.mark.parametrize("status", [500, 503, 504])
def test_an_injected_error_answers_in_the_service_shape_and_creates_nothing(
    emu: Emulator, status: int
) -> None:
    emu.set_faults({"errors": {str(status): 1}})
    name = f"failed {uuid.uuid4()}"
    with emu.client() as http:
        response = http.post(CONNECTIONS, json=base_body(name))
    assert response.status_code == status
    assert response.json()["type"].startswith("https://ns.adobe.com/aep/errors/FLOW-")
    assert response.json()["status"] == status
    assert name not in names(emu)


@pytest.mark.parametrize(("retry_after", "header"), [(2, "2"), (None, None)])
def test_throttling_answers_429_with_or_without_retry_after(
    emu: Emulator, retry_after: int | None, header: str | None
) -> None:
    emu.set_faults({"throttle": {"rate": 1, "retry_after_s": retry_after}})
    with emu.client() as http:
        response = http.get(CONNECTIONS)
    assert response.status_code == 429
    assert response.json() == {"error_code": "429050", "message": "Too many requests"}
    assert response.headers.get("retry-after") == header


def test_the_rate_limit_is_a_token_bucket_per_org(emu: Emulator) -> None:
    emu.set_faults({"rate_limit_rps": 1})
    with emu.client() as http, emu.client(org="SECOND@AdobeOrg") as second:
        assert http.get(CONNECTIONS).status_code == 200
        limited = http.get(CONNECTIONS)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert second.get(CONNECTIONS).status_code == 200


def test_a_seed_replays_the_same_faults_for_a_sequential_client(emu: Emulator) -> None:
    settings = {"seed": 11, "errors": {"503": 0.5}}

    def statuses() -> list[int]:
        """The statuses of sixteen sequential requests under freshly set faults."""
        emu.set_faults(settings)
        with emu.client() as http:
            return [http.get(CONNECTIONS).status_code for _ in range(16)]

    first = statuses()
    assert first == statuses()
    assert set(first) == {200, 503}


def test_faults_apply_only_to_the_paths_they_name_and_never_to_ims_by_default(
    emu: Emulator,
) -> None:
    emu.set_faults({"errors": {"503": 1}, "paths": "^/data/foundation/catalog/"})
    with emu.client() as http:
        assert http.get(CONNECTIONS).status_code == 200
        assert http.get("/data/foundation/catalog/dataSets").status_code == 503
    emu.set_faults({"errors": {"503": 1}})
    assert emu.token(fresh=True)
    emu.set_faults({"errors": {"503": 1}, "paths": "^/ims/"})
    form = {"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"}
    refused = httpx.post(f"{emu.url}/ims/token/v3", data=form)
    assert refused.status_code == 503
    assert refused.json()["error"] == "server_error"


def test_fault_settings_round_trip_and_invalid_ones_are_refused(emu: Emulator) -> None:
    settings = {"latency_ms": [0, 1], "throttle": {"rate": 0, "retry_after_s": None}}
    assert emu.set_faults(settings) == settings
    assert emu.faults() == settings
    refused = httpx.post(f"{emu.url}/__emulator/faults", json={"errors": {"503": 2}})
    assert refused.status_code == 400
    assert "probability" in refused.json()["error"]
    assert emu.faults() == settings


def test_the_faults_injected_are_counted_by_kind_until_a_reset(emu: Emulator) -> None:
    emu.set_faults({"latency_ms": 1, "errors": {"503": 1}})
    with emu.client() as http:
        assert http.get(CONNECTIONS).status_code == 503
    emu.set_faults({"rate_limit_rps": 1})
    with emu.client() as http:
        assert [http.get(CONNECTIONS).status_code for _ in range(2)] == [200, 429]
    injected = httpx.get(f"{emu.url}/__emulator/faults/injected").json()
    assert injected == {"503": 1, "latency": 1, "rate_limited": 1}
    emu.reset()
    assert httpx.get(f"{emu.url}/__emulator/faults/injected").json() == {}


def test_reset_forgets_resources_requests_and_faults(emu: Emulator) -> None:
    emu.create_base_connection(MARIADB_SPEC_ID)
    emu.set_faults({"latency_ms": 1})
    emu.reset()
    assert all(items == [] for items in emu.resources().values())
    assert emu.requests() == []
    assert emu.faults() == {}


def test_resources_lists_every_kind_of_the_contract(emu: Emulator) -> None:
    base_id = emu.create_base_connection(MARIADB_SPEC_ID, name="listed")
    listed = emu.resources()
    assert set(listed) == {
        "connections",
        "sourceConnections",
        "targetConnections",
        "flows",
        "schemas",
        "fieldGroups",
        "dataSets",
        "mappingSets",
        "runs",
    }
    assert {"id": base_id, "name": "listed"}.items() <= listed["connections"][0].items()


def test_the_request_log_keeps_method_path_status_and_time_but_no_secrets(emu: Emulator) -> None:
    emu.create_base_connection(MARIADB_SPEC_ID)
    log = emu.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/ims/token/v3", 200),
        ("POST", CONNECTIONS, 201),
    ]
    assert set(log[0]) == {"method", "path", "status", "time"}
    assert "secret" not in str(log)


def test_hundreds_of_concurrent_slow_requests_are_all_served() -> None:
    # A separate process: a client in the server's own process would compete for its GIL.
    with emulator_process("--latency-ms", "100") as emu:
        statuses = asyncio.run(_burst(emu, 300))
    assert statuses == [200] * 300


async def _burst(emu: Emulator, count: int) -> list[int]:
    # Ten clients of 30 connections each: one httpx pool with hundreds of waiting requests is
    # slow on the client side, and a client per request pays for an SSL context each time.
    headers = emu.headers()

    async def group(size: int) -> list[int]:
        """One client's share of the burst, all at once."""
        limits = httpx.Limits(max_connections=size)
        async with httpx.AsyncClient(base_url=emu.url, limits=limits, timeout=30) as client:
            responses = await asyncio.gather(
                *(client.get(CONNECTIONS, headers=headers) for _ in range(size))
            )
        return [r.status_code for r in responses]

    groups = await asyncio.gather(*(group(count // 10) for _ in range(10)))
    return [status for statuses in groups for status in statuses]


@pytest.fixture
def restricted() -> Iterator[Emulator]:
    """An emulator that accepts one client and issues one-second tokens."""
    with running_emulator(clients={"app": "s3cret"}, token_ttl=1) as running:
        yield running


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": "app", "client_secret": "no"},
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "who", "client_secret": "s3cret"},
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "password", "client_id": "app", "client_secret": "s3cret"},
            400,
            "unsupported_grant_type",
        ),
        ({"client_id": "app", "client_secret": "s3cret"}, 400, "invalid_request"),
        ({"grant_type": "client_credentials", "client_secret": "s3cret"}, 400, "invalid_request"),
    ],
)
def test_ims_refuses_bad_credentials_oauth_style(
    restricted: Emulator, form: dict[str, str], status: int, error: str
) -> None:
    response = httpx.post(f"{restricted.url}/ims/token/v3", data=form)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_a_short_lived_token_expires_and_the_gateway_refuses_it(restricted: Emulator) -> None:
    form = {"grant_type": "client_credentials", "client_id": "app", "client_secret": "s3cret"}
    issued = httpx.post(f"{restricted.url}/ims/token/v3", data=form).json()
    assert issued["token_type"] == "bearer"
    assert issued["expires_in"] == 1
    headers = restricted.headers()
    headers["Authorization"] = f"Bearer {issued['access_token']}"
    assert httpx.get(f"{restricted.url}{CONNECTIONS}", headers=headers).status_code == 200
    time.sleep(1.05)
    expired = httpx.get(f"{restricted.url}{CONNECTIONS}", headers=headers)
    assert expired.status_code == 401
    assert expired.json() == {"error_code": "401013", "message": "Oauth token is not valid"}
