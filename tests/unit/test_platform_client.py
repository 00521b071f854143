"""The client's calls: headers, paths, paging, exact-name finds, caches, logs and metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from tests.unit.platform_fakes import mock_client
from worker.errors import NotFoundError, RejectedError, RetryableError
from worker.observability.metrics import Metrics
from worker.platform import MappingSetRef, PlatformClient

pytestmark = pytest.mark.anyio


Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A fake Platform: answers from a route table and keeps every request it saw."""

    def __init__(self, routes: dict[tuple[str, str], Handler]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer a token request, or route a Platform request."""
        if request.url.path == "/ims/token/v3":
            return httpx.Response(200, json={"access_token": "tok-123", "expires_in": 3600})
        self.requests.append(request)
        path = request.url.path.removeprefix("/data/foundation")
        return self.routes[(request.method, path)](request)


def make_client(recorder: Recorder, metrics: Metrics | None = None) -> PlatformClient:
    """A client whose IMS and Platform are the recorder."""
    return mock_client(recorder, metrics=metrics)


def answer(body: Any, status: int = 200) -> Handler:
    """A handler that always answers with this JSON body and status."""
    return lambda request: httpx.Response(status, json=body)


async def test_every_call_carries_the_identity_and_sandbox_headers() -> None:
    recorder = Recorder(
        {
            ("POST", "/flowservice/sourceConnections"): answer({"id": "s1", "etag": '"e"'}, 201),
            ("GET", "/flowservice/sourceConnections/s1"): answer({"items": [{"id": "s1"}]}),
        }
    )
    async with make_client(recorder) as client:
        assert await client.create_source_connection("dev", {"name": "n"}) == "s1"
        assert await client.get_source_connection(None, "s1") == {"id": "s1"}
        post, get = recorder.requests
        for request in (post, get):
            assert request.headers["Authorization"] == "Bearer tok-123"
            assert request.headers["x-api-key"] == "id-1"
            assert request.headers["x-gw-ims-org-id"] == "ORG@AdobeOrg"
        assert post.headers["x-sandbox-name"] == "dev"
        assert get.headers["x-sandbox-name"] == "prod"
        assert post.headers["Content-Type"] == "application/json"
        assert json.loads(post.content) == {"name": "n"}


async def test_schema_registry_lookups_and_lists_send_their_accept_headers() -> None:
    recorder = Recorder(
        {
            ("GET", "/schemaregistry/tenant/schemas/https://ns.adobe.com/acme/schemas/1"): answer(
                {"$id": "https://ns.adobe.com/acme/schemas/1", "title": "t"}
            ),
            ("GET", "/schemaregistry/tenant/schemas"): answer(
                {"results": [], "_page": {"next": None}}
            ),
        }
    )
    async with make_client(recorder) as client:
        schema = await client.get_schema(None, "https://ns.adobe.com/acme/schemas/1")
        assert schema["id"] == "https://ns.adobe.com/acme/schemas/1"
        assert await client.find_schema(None, "t") is None
        lookup, listing = recorder.requests
        assert lookup.headers["Accept"] == "application/vnd.adobe.xed+json; version=1"
        assert b"https%3A%2F%2Fns.adobe.com%2Facme%2Fschemas%2F1" in lookup.url.raw_path
        assert listing.headers["Accept"] == "application/vnd.adobe.xed-id+json"
        assert listing.url.params["property"] == 'title=="t"'


async def test_flow_service_lists_follow_continuation_tokens_to_the_end() -> None:
    def pages(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("continuationToken")
        if token is None:
            return httpx.Response(
                200,
                json={
                    "items": [{"id": "1", "name": "x"}],
                    "_links": {
                        "next": {"href": "/flows?continuationToken=abc&property=name%3D%3D%22x%22"}
                    },
                },
            )
        assert token == "abc"
        return httpx.Response(200, json={"items": [{"id": "2", "name": "x"}], "_links": {}})

    recorder = Recorder({("GET", "/flowservice/runs"): pages})
    async with make_client(recorder) as client:
        assert [run["id"] for run in await client.runs(None, "flow-1")] == ["1", "2"]
        assert recorder.requests[0].url.params["property"] == 'flowId=="flow-1"'


async def test_schema_registry_lists_follow_the_next_page() -> None:
    def pages(request: httpx.Request) -> httpx.Response:
        start = request.url.params.get("start")
        results = [{"$id": f"fg{i}", "title": "other"} for i in range(300)]
        if start is None:
            return httpx.Response(200, json={"results": results, "_page": {"next": "other300"}})
        return httpx.Response(
            200, json={"results": [{"$id": "fgX", "title": "a,b"}], "_page": {"next": None}}
        )

    recorder = Recorder({("GET", "/schemaregistry/tenant/fieldgroups"): pages})
    async with make_client(recorder) as client:
        found = await client.find_field_group(None, "a,b")
        assert found is not None
        assert found["id"] == "fgX"
        assert "property" not in recorder.requests[0].url.params  # "a,b" cannot be filtered exactly
        assert recorder.requests[1].url.params["start"] == "other300"


async def test_catalog_lists_page_by_offset_and_match_names_exactly() -> None:
    def pages(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["start"])
        assert request.url.params["limit"] == "100"
        if start == 0:
            return httpx.Response(200, json={f"d{i}": {"name": "a*b!"} for i in range(100)})
        return httpx.Response(
            200, json={"x": {"name": "a*b", "created": 2}, "y": {"name": "a*b", "created": 1}}
        )

    recorder = Recorder({("GET", "/catalog/dataSets"): pages})
    async with make_client(recorder) as client:
        found = await client.find_dataset(None, "a*b")
        assert found is not None
        assert found["id"] == "y"  # the oldest of two with the same exact name
        assert recorder.requests[0].url.params["name"] == "a**b"
        assert recorder.requests[1].url.params["start"] == "100"


AWKWARD = "it's 100% #1 & more = Übersicht 注文"


async def test_names_reach_the_platform_only_as_quoted_and_percent_encoded_data() -> None:
    recorder = Recorder(
        {
            ("GET", "/flowservice/sourceConnections"): answer({"items": [], "_links": {}}),
            ("GET", "/schemaregistry/tenant/schemas"): answer({"results": [], "_page": {}}),
            ("GET", "/catalog/dataSets"): answer({}),
        }
    )
    async with make_client(recorder) as client:
        assert await client.find_source_connection(None, AWKWARD) is None
        assert await client.find_schema(None, "it's 100% #1 & more Übersicht") is None
        assert await client.find_dataset(None, AWKWARD) is None
    flow, registry, catalog = (
        parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
        for request in recorder.requests
    )
    # Each value arrives whole: an unencoded `&` would split it, `#` cut the URL, `%` decode.
    assert flow == [("property", f'name=="{AWKWARD}"')]
    assert registry == [
        ("orderby", "title"),
        ("property", 'title=="it\'s 100% #1 & more Übersicht"'),
    ]
    assert ("name", AWKWARD) in catalog
    assert all(request.url.fragment == "" for request in recorder.requests)


async def test_a_find_ignores_near_misses_the_service_returns() -> None:
    items = [{"id": "1", "name": "crm (flow) [r1] "}, {"id": "2", "name": "CRM (flow) [r1]"}]
    recorder = Recorder({("GET", "/flowservice/flows"): answer({"items": items, "_links": {}})})
    async with make_client(recorder) as client:
        assert await client.find_flow(None, "crm (flow) [r1]") is None


async def test_creates_return_the_ids_each_service_answers_with() -> None:
    recorder = Recorder(
        {
            ("POST", "/catalog/dataSets"): answer(["@/dataSets/5c8c3c555033b814b69f947f"], 201),
            ("POST", "/conversion/mappingSets"): answer({"id": "m" * 32, "version": 0}),
            ("POST", "/schemaregistry/tenant/schemas"): answer(
                {"$id": "https://ns/s", "title": "t"}, 201
            ),
            ("POST", "/schemaregistry/tenant/fieldgroups"): answer({"$id": "https://ns/f"}, 201),
        }
    )
    async with make_client(recorder) as client:
        assert await client.create_dataset(None, {}) == "5c8c3c555033b814b69f947f"
        assert await client.create_mapping_set(None, {}) == MappingSetRef(id="m" * 32, version=0)
        assert await client.create_schema(None, {}) == "https://ns/s"
        assert await client.create_field_group(None, {}) == "https://ns/f"


async def test_the_flow_spec_is_looked_up_once_per_sandbox_and_checks_the_connector() -> None:
    spec = {"id": "spec-1", "name": "CRMToAEP", "sourceConnectionSpecIds": ["pg"]}
    recorder = Recorder({("GET", "/flowservice/flowSpecs"): answer({"items": [spec]})})
    async with make_client(recorder) as client:
        assert (await client.flow_spec(None, "CRMToAEP", "pg"))["id"] == "spec-1"
        assert (await client.flow_spec("prod", "CRMToAEP"))["id"] == "spec-1"
        assert len(recorder.requests) == 1
        assert recorder.requests[0].url.params["property"] == 'name=="CRMToAEP"'
        await client.flow_spec("dev", "CRMToAEP")
        assert len(recorder.requests) == 2
        with pytest.raises(RejectedError, match="does not accept"):
            await client.flow_spec(None, "CRMToAEP", "mysql")


async def test_a_kept_flow_spec_is_answered_without_a_call_only_for_its_connectors() -> None:
    spec = {"id": "spec-1", "name": "CRMToAEP", "sourceConnectionSpecIds": ["pg"]}
    recorder = Recorder({("GET", "/flowservice/flowSpecs"): answer({"items": [spec]})})
    async with make_client(recorder) as client:
        assert client.kept_flow_spec(None, "CRMToAEP", "pg") is None
        await client.flow_spec(None, "CRMToAEP", "pg")
        assert client.kept_flow_spec("prod", "CRMToAEP", "pg") == spec
        assert client.kept_flow_spec(None, "CRMToAEP") == spec
        assert client.kept_flow_spec(None, "CRMToAEP", "mysql") is None  # the call says why
        assert client.kept_flow_spec("dev", "CRMToAEP", "pg") is None
        assert len(recorder.requests) == 1


async def test_a_missing_flow_spec_is_not_found() -> None:
    recorder = Recorder({("GET", "/flowservice/flowSpecs"): answer({"items": []})})
    with pytest.raises(NotFoundError):
        async with make_client(recorder) as client:
            await client.flow_spec(None, "Nope")


async def test_the_tenant_id_is_cached_per_sandbox() -> None:
    recorder = Recorder({("GET", "/schemaregistry/stats"): answer({"tenantId": "acme"})})
    async with make_client(recorder) as client:
        assert [
            await client.tenant_id(None),
            await client.tenant_id("prod"),
            await client.tenant_id("dev"),
        ] == ["acme"] * 3
        assert len(recorder.requests) == 2


async def test_deletes_and_by_id_gets_use_the_resource_paths() -> None:
    recorder = Recorder(
        {
            ("DELETE", "/flowservice/flows/f1"): lambda r: httpx.Response(204),
            ("DELETE", "/catalog/dataSets/d1"): answer(["@/dataSets/d1"]),
            ("GET", "/catalog/dataSets/d1"): answer({"d1": {"name": "n"}}),
            ("GET", "/flowservice/connections/b1"): answer({"items": [{"id": "b1"}]}),
            ("GET", "/conversion/mappingSets/m1"): answer({"id": "m1", "version": 2}),
            ("GET", "/flowservice/targetConnections/t1"): answer({"items": []}),
        }
    )
    async with make_client(recorder) as client:
        await client.delete_flow(None, "f1")
        await client.delete_dataset(None, "d1")
        assert await client.get_dataset(None, "d1") == {"name": "n", "id": "d1"}
        assert await client.get_base_connection(None, "b1") == {"id": "b1"}
        assert (await client.get_mapping_set(None, "m1"))["version"] == 2
        with pytest.raises(NotFoundError):
            await client.get_target_connection(None, "t1")


async def test_every_call_is_logged_and_counted_without_secrets() -> None:
    recorder = Recorder({("GET", "/flowservice/flows/f1"): answer({"error_code": "x"}, 404)})
    metrics = Metrics(CollectorRegistry())
    async with make_client(recorder, metrics) as client:
        with capture_logs() as logs, pytest.raises(NotFoundError):
            await client.get_flow(None, "f1")
        events = [entry for entry in logs if entry["event"] == "platform_request"]
        assert [(e["api"], e["method"], e["path"], e["status"]) for e in events] == [
            ("ims", "POST", "/ims/token/v3", 200),
            ("flowservice", "GET", "/flowservice/flows/{id}", 404),
        ]
        assert all(e["duration_seconds"] >= 0 for e in events)
        assert "tok-123" not in repr(logs)
        assert "shh-secret" not in repr(logs)
        total = "dataflow_platform_requests_total"
        sample = metrics.registry.get_sample_value
        assert sample(total, {"api": "ims", "method": "POST", "status_class": "2xx"}) == 1
        assert sample(total, {"api": "flowservice", "method": "GET", "status_class": "4xx"}) == 1
        count = "dataflow_platform_request_duration_seconds_count"
        assert sample(count, {"api": "flowservice"}) == 1


async def test_a_timeout_is_counted_as_a_timeout() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    metrics = Metrics(CollectorRegistry())
    async with make_client(Recorder({("GET", "/catalog/dataSets/d1"): slow}), metrics) as client:
        with pytest.raises(RetryableError):
            await client.get_dataset(None, "d1")
        labels = {"api": "catalog", "method": "GET", "status_class": "timeout"}
        assert metrics.registry.get_sample_value("dataflow_platform_requests_total", labels) == 1


async def test_a_patch_sends_its_operations_under_if_match_and_an_action_its_op() -> None:
    etag = '"c207057b-0000-0200-0000-638e67070000"'
    recorder = Recorder(
        {
            ("PATCH", "/flowservice/flows/f1"): answer({"id": "f1", "etag": '"e2"'}),
            ("POST", "/flowservice/flows/f1/action"): answer({"id": "f1", "etag": '"e3"'}),
            ("GET", "/flowservice/targetConnections"): answer({"items": [], "_links": {}}),
        }
    )
    operations = [{"op": "replace", "path": "/scheduleParams/interval", "value": "30"}]
    async with make_client(recorder) as client:
        assert await client.patch_flow(None, "f1", operations, etag) == '"e2"'
        assert await client.flow_action(None, "f1", "disable") == '"e3"'
        assert await client.target_connections_using_dataset(None, "d1") == []
    patch, action, listing = recorder.requests
    assert patch.headers["If-Match"] == etag
    assert patch.headers["Content-Type"] == "application/json"
    assert json.loads(patch.content) == operations
    assert dict(action.url.params) == {"op": "DISABLE"}
    assert "If-Match" not in action.headers
    assert listing.url.params["property"] == 'params.dataSetId=="d1"'


async def test_an_answer_without_an_etag_is_unreadable_and_may_be_retried() -> None:
    recorder = Recorder(
        {
            ("GET", "/flowservice/flows/f1"): answer({"items": [{"id": "f1"}]}),
            ("POST", "/flowservice/flows/f1/action"): answer({"id": "f1"}),
        }
    )
    async with make_client(recorder) as client:
        with pytest.raises(RetryableError, match="without an etag"):
            await client.flow_with_etag(None, "f1")
        with pytest.raises(RetryableError, match="without an etag"):
            await client.flow_action(None, "f1", "enable")


async def test_a_flow_action_whose_answer_was_lost_is_retryable_not_an_unknown_outcome() -> None:
    recorder = Recorder({("POST", "/flowservice/flows/f1/action"): answer({}, 504)})
    async with make_client(recorder) as client:
        with pytest.raises(RetryableError) as raised:
            await client.flow_action(None, "f1", "enable")
    assert type(raised.value) is RetryableError
