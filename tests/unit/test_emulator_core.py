"""The emulator's store, error shapes, gateway checks, IMS tokens and served specs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from starlette.datastructures import Headers

import emulator
from emulator import specs
from emulator.control import RequestLog
from emulator.errors import gateway_error_body, service_error_body, service_of
from emulator.gateway import canonical_path, check
from emulator.ims import TokenStore
from emulator.state import (
    DATASETS,
    FLOWS,
    SCHEMAS,
    Clock,
    Collection,
    Scope,
    Store,
    new_etag,
    new_hex,
    new_uuid,
)

PROD = Scope("org@AdobeOrg", "prod")


def test_a_collection_finds_items_by_an_indexed_field_after_replace_and_remove() -> None:
    coll = Collection(("name",))
    coll.add("a", {"name": "one"})
    coll.add("b", {"name": "one"})
    coll.replace("a", {"name": "two"})
    coll.remove("b")
    assert coll.find("name", "one") == []
    assert coll.find("name", "two") == [{"name": "two"}]
    assert coll.is_indexed("name")
    assert len(coll) == 1


def test_a_collection_keeps_creation_order_when_an_item_is_replaced() -> None:
    coll = Collection(("name",))
    for key in "abc":
        coll.add(key, {"name": key})
    coll.replace("a", {"name": "z"})
    assert [item["name"] for item in coll.values()] == ["z", "b", "c"]


def test_find_any_answers_or_queries_in_creation_order_by_index_or_key() -> None:
    coll = Collection(("name",))
    for key, name in (("c", "x"), ("a", "y"), ("b", "x"), ("d", "z")):
        coll.add(key, {"name": name, "state": "enabled"})
    coll.remove("d")
    assert [i["name"] for i in coll.find_any("name", ("y", "x"))] == ["x", "y", "x"]
    assert coll.find_any("id", ("b", "nope", "a")) == [coll.get("a"), coll.get("b")]
    assert len(coll.find_any("state", ("enabled",))) == 3
    assert coll.find_any("name", ("z",)) == []


def test_the_request_log_is_bounded_and_keeps_the_newest() -> None:
    log = RequestLog(size=3)
    for number in range(5):
        log.record("GET", f"/{number}", 200)
    assert [entry["path"] for entry in log.entries()] == ["/2", "/3", "/4"]
    log.clear()
    assert log.entries() == []


def test_the_emulator_package_never_imports_the_worker() -> None:
    package = Path(emulator.__file__).parent
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n == "worker" or n.startswith("worker.") for n in names), module


def test_a_collection_refuses_a_duplicate_id() -> None:
    coll = Collection()
    coll.add("a", {})
    with pytest.raises(KeyError):
        coll.add("a", {})


def test_a_collection_scans_for_a_field_it_does_not_index() -> None:
    coll = Collection(("name",))
    coll.add("a", {"name": "x", "state": "enabled"})
    assert coll.find("state", "enabled") == [{"name": "x", "state": "enabled"}]


def test_a_name_lookup_among_fifty_thousand_items_uses_the_index() -> None:
    coll = Store().collection(PROD, FLOWS)
    for number in range(50_000):
        coll.add(str(number), {"name": f"flow {number}"})
    assert coll.is_indexed("name")
    assert coll.find("name", "flow 49999") == [{"name": "flow 49999"}]


def test_the_store_isolates_sandboxes_and_orgs() -> None:
    store = Store(sandboxes=("dev",))
    store.collection(PROD, DATASETS).add("d1", {"name": "x"})
    assert len(store.collection(Scope("org@AdobeOrg", "dev"), DATASETS)) == 0
    assert len(store.collection(Scope("other@AdobeOrg", "prod"), DATASETS)) == 0
    assert store.sandboxes == frozenset({"prod", "dev"})


def test_schemas_are_named_by_title_and_everything_lists_them_with_scope_and_id() -> None:
    store = Store()
    store.collection(PROD, SCHEMAS).add("s1", {"title": "T"})
    assert store.collection(PROD, SCHEMAS).find("title", "T") == [{"title": "T"}]
    assert list(store.everything(SCHEMAS)) == [(PROD, "s1", {"title": "T"})]
    store.reset()
    assert list(store.everything(SCHEMAS)) == []


def test_ids_and_etags_have_the_platform_shapes() -> None:
    assert len(new_uuid()) == 36
    assert len(new_hex(24)) == 24
    assert int(new_hex(32), 16) >= 0
    etag = new_etag()
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert new_etag() != etag


def test_the_clock_only_moves_forward() -> None:
    clock = Clock()
    before = clock.now()
    clock.advance(3600)
    clock.advance(-100)
    assert clock.now() - before >= 3600
    assert abs(clock.now_ms() - clock.now() * 1000) < 1000


def test_a_service_error_body_has_the_platform_shape() -> None:
    body = service_error_body("FLOW", 1439, 404, "not there", report={"id": "x"})
    assert body["type"] == "https://ns.adobe.com/aep/errors/FLOW-1439-404"
    assert body["status"] == 404
    assert body["title"] == "Resource not found"
    assert body["detail"] == "not there"
    assert body["report"]["detailed-message"] == "not there"
    assert body["report"]["id"] == "x"


def test_a_gateway_error_body_is_flat() -> None:
    assert gateway_error_body("403010", "m") == {"error_code": "403010", "message": "m"}


def _tokens(clients: dict[str, str] | None = None, ttl: int = 60) -> TokenStore:
    return TokenStore(Clock(), ttl, clients)


def test_an_issued_token_is_live_until_the_clock_passes_its_lifetime() -> None:
    tokens = _tokens(ttl=60)
    token = tokens.issue("client")
    assert tokens.check(token) is not None
    tokens.clock.advance(61)
    assert tokens.check(token) is None


@pytest.mark.parametrize(
    ("clients", "client_id", "secret", "accepted"),
    [
        (None, "any", "thing", True),
        (None, "", "thing", False),
        (None, "any", "", False),
        ({"id": "secret"}, "id", "secret", True),
        ({"id": "secret"}, "id", "wrong", False),
        ({"id": "secret"}, "other", "secret", False),
    ],
)
def test_ims_accepts_credentials_as_configured(
    clients: dict[str, str] | None, client_id: str, secret: str, accepted: bool
) -> None:
    assert _tokens(clients).credentials_ok(client_id, secret) is accepted


def _headers(tokens: TokenStore, **overrides: str | None) -> Headers:
    values: dict[str, str | None] = {
        "authorization": f"Bearer {tokens.issue('client')}",
        "x-api-key": "client",
        "x-gw-ims-org-id": "org@AdobeOrg",
        "x-sandbox-name": "prod",
    }
    values.update(overrides)
    return Headers({k: v for k, v in values.items() if v is not None})


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"authorization": None}, 403, "403010"),
        ({"authorization": "Bearer nope"}, 401, "401013"),
        ({"authorization": "Basic abc"}, 401, "401013"),
        ({"x-api-key": None}, 403, "403000"),
        ({"x-gw-ims-org-id": None}, 400, "400003"),
    ],
)
def test_the_gateway_refuses_bad_headers_with_its_flat_error(
    overrides: dict[str, str | None], status: int, code: str
) -> None:
    tokens = _tokens()
    refusal = check(
        "/data/foundation/catalog/dataSets",
        _headers(tokens, **overrides),
        tokens,
        frozenset({"prod"}),
    )
    assert refusal is not None
    assert refusal[0] == status
    assert refusal[1]["error_code"] == code


@pytest.mark.parametrize(
    ("sandbox", "status", "type_suffix"),
    [(None, 400, "FLOW-2105-400"), ("nosuch", 404, "FLOW-2100-404")],
)
def test_the_gateway_refuses_a_missing_or_unknown_sandbox(
    sandbox: str | None, status: int, type_suffix: str
) -> None:
    tokens = _tokens()
    headers = _headers(tokens, **{"x-sandbox-name": sandbox})
    refusal = check("/data/foundation/flowservice/flows", headers, tokens, frozenset({"prod"}))
    assert refusal is not None
    assert refusal[0] == status
    assert refusal[1]["type"].endswith(type_suffix)


def test_the_gateway_passes_good_headers_and_an_unknown_api_key_only_when_unrestricted() -> None:
    tokens = _tokens()
    assert (
        check("/data/foundation/flowservice/flows", _headers(tokens), tokens, frozenset({"prod"}))
        is None
    )
    restricted = _tokens({"client": "secret"})
    headers = _headers(restricted, **{"x-api-key": "someone-else"})
    refusal = check("/data/foundation/flowservice/flows", headers, restricted, frozenset({"prod"}))
    assert refusal is not None
    assert refusal[1]["error_code"] == "403003"


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/data/foundation/flowservice/flows", "FLOW"),
        ("/data/foundation/schemaregistry/tenant/schemas", "XDM"),
        ("/data/foundation/catalog/dataSets", "CAT"),
        ("/data/foundation/conversion/mappingSets", "DP"),
        ("/elsewhere", "FLOW"),
    ],
)
def test_each_platform_path_belongs_to_its_service(path: str, service: str) -> None:
    assert service_of(path) == service


@pytest.mark.parametrize(
    ("path", "routed"),
    [
        (
            "/data/foundation/schemaregistry/tenant/schemas/",
            "/data/foundation/schemaregistry/tenant/schemas",
        ),
        ("/data/foundation/schemaregistry/stats/", "/data/foundation/schemaregistry/stats"),
        (
            "/data/foundation/flowservice/connections/c1/",
            "/data/foundation/flowservice/connections/c1",
        ),
        ("/data/foundation/flowservice/flows", "/data/foundation/flowservice/flows"),
        ("/data/foundation/catalog/dataSets/", "/data/foundation/catalog/dataSets/"),
        ("/data/foundation/conversion/mappingSets/", "/data/foundation/conversion/mappingSets/"),
        ("/__emulator/resources/", "/__emulator/resources/"),
    ],
)
def test_only_flow_service_and_the_registry_route_a_slash_ended_path_as_the_bare_one(
    path: str, routed: str
) -> None:
    assert canonical_path(path) == routed


def test_crm_to_aep_lists_37_source_specs_including_mariadb_and_targets_the_data_lake() -> None:
    flow_spec = specs.crm_to_aep()
    assert len(flow_spec["sourceConnectionSpecIds"]) == 37
    assert len(set(flow_spec["sourceConnectionSpecIds"])) == 37
    assert "3000eb99-cd47-43f3-827c-43caf170f015" in flow_spec["sourceConnectionSpecIds"]
    assert flow_spec["targetConnectionSpecIds"] == [specs.DATA_LAKE_SPEC_ID]
    assert [t["name"] for t in flow_spec["transformationSpec"]] == ["Copy", "Mapping"]


def test_every_source_and_the_data_lake_have_a_connection_spec() -> None:
    ids = [spec["id"] for spec in specs.connection_specs()]
    assert set(ids) == {*specs.crm_to_aep()["sourceConnectionSpecIds"], specs.DATA_LAKE_SPEC_ID}
