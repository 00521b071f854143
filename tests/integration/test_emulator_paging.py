"""Paging in the form each service documents, through clients that read it as documented.

Flow Service: ``_links.next.href`` is ``/<kind>?continuationToken=<token>``; an independent
client (aepp, for one) cuts the token out after the ``=`` and sends it with its first request's
parameters, another follows the link as it is; the last page has ``"_links": {}``. Schema
Registry: ``_page.next`` is the next ``start`` (with ``orderby``, the last result's primary sort
value) and ``_links.next`` the next page's URI; both are null on the last page. Catalog: offsets
(``start``, ``limit``) over a map keyed by id, with no links; the last page is the short one.
Data Prep: ``start``/``limit``, ``_links.next.href`` while more remain, ``{}`` on the last page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.example_world import World
from tests.integration.flowservice_support import FS, created_id, source_body, target_body
from tests.integration.registry_support import (
    CATALOG,
    CONVERSION,
    LIST_IDS,
    PROFILE,
    REGISTRY,
    PlatformApi,
    api,
    emulator,
)

__all__ = ["api", "emulator"]  # fixtures, imported for pytest
pytestmark = pytest.mark.integration


def _connections(world: World, n: int) -> str:
    return world.api.emulator.create_base_connection(name=f"connection {n}", org=world.org)


def _sources(world: World, n: int) -> str:
    body = source_body(world.base_id, name=f"source {n}")
    return created_id(world.api.request("POST", f"{FS}/sourceConnections", json=body))


def _targets(world: World, n: int) -> str:
    body = {**target_body(world.schema_id, world.dataset_id), "name": f"target {n}"}
    return created_id(world.api.request("POST", f"{FS}/targetConnections", json=body))


def _flows(world: World, n: int) -> str:
    flow = world.api.request("GET", f"{FS}/flows/{world.flow_id}").json()["items"][0]
    keys = ("flowSpec", "sourceConnectionIds", "targetConnectionIds", "transformations")
    body = {"name": f"flow {n}", **{key: flow[key] for key in keys}}
    body["scheduleParams"] = {"startTime": flow["scheduleParams"]["startTime"], "frequency": "once"}
    return created_id(world.api.request("POST", f"{FS}/flows", json=body))


MAKERS: dict[str, Callable[[World, int], str]] = {
    "connections": _connections,
    "sourceConnections": _sources,
    "targetConnections": _targets,
    "flows": _flows,
}


def _token_after_the_equals_sign(api: PlatformApi, kind: str, params: dict[str, Any]) -> list[Any]:
    """Pages as aepp reads them: the token is what follows the link's ``=``; every later
    request resends the first one's parameters with it."""
    pages = [api.request("GET", f"{FS}/{kind}", params=params).json()]
    while href := pages[-1]["_links"].get("next", {}).get("href", ""):
        params = {**params, "continuationToken": href.split("=")[1]}
        pages.append(api.request("GET", f"{FS}/{kind}", params=params).json())
    return pages


def _following_the_link(api: PlatformApi, kind: str, params: dict[str, Any]) -> list[Any]:
    pages = [api.request("GET", f"{FS}/{kind}", params=params).json()]
    while pages[-1]["_links"]:
        pages.append(api.request("GET", f"{FS}{pages[-1]['_links']['next']['href']}").json())
    return pages


def _check_flow_service_pages(pages: list[Any], kind: str, expected: list[str]) -> None:
    assert [item["id"] for page in pages for item in page["items"]] == expected
    assert len(pages) == -(-len(expected) // 2)
    for page in pages[:-1]:
        assert re.fullmatch(
            rf"/{kind}\?continuationToken=[A-Za-z0-9_-]+", page["_links"]["next"]["href"]
        )
    assert pages[-1]["_links"] == {}


@pytest.mark.parametrize("kind", list(MAKERS))
def test_flow_service_lists_page_in_the_documented_link_form(api: PlatformApi, kind: str) -> None:
    world = World(api)
    made = [MAKERS[kind](world, n) for n in range(5)]
    listed = api.request("GET", f"{FS}/{kind}").json()["items"]
    expected = [item["id"] for item in listed]
    assert set(made) <= set(expected)
    params = {"limit": 2, "count": "False"}
    _check_flow_service_pages(_token_after_the_equals_sign(api, kind, params), kind, expected)
    _check_flow_service_pages(_following_the_link(api, kind, {"limit": 2}), kind, expected)


def test_runs_page_in_the_documented_link_form_with_their_filter_kept(api: PlatformApi) -> None:
    world = World(api)
    world.run_id  # noqa: B018 -- the flow and its first hour of runs
    api.emulator.advance_clock(3600)
    params = {"property": f"flowId=={world.flow_id}"}
    expected = [
        run["id"] for run in api.request("GET", f"{FS}/runs", params=params).json()["items"]
    ]
    assert len(expected) >= 5
    pages = _token_after_the_equals_sign(api, "runs", {**params, "limit": 2})
    _check_flow_service_pages(pages, "runs", expected)


def test_registry_pages_follow_the_last_title_whoever_computes_it(api: PlatformApi) -> None:
    titles = [f"crm {letter}" for letter in "edcba"]
    for title in titles:
        api.create_schema(title, PROFILE)
    params: dict[str, Any] = {"orderby": "title", "limit": 2}
    seen: list[str] = []
    while True:
        page = api.request(
            "GET", f"{REGISTRY}/tenant/schemas", accept=LIST_IDS, params=params
        ).json()
        seen += [item["title"] for item in page["results"]]
        if page["_page"]["next"] is None:
            assert page["_links"]["next"] is None
            break
        assert page["_page"]["next"] == page["results"][-1]["title"]  # the guide's start value
        assert f"start={page['_page']['next'].replace(' ', '+')}" in page["_links"]["next"]
        params["start"] = page["results"][-1]["title"]
    assert seen == sorted(titles)


def test_catalog_pages_by_offset_until_a_short_page(api: PlatformApi) -> None:
    world = World(api)
    made = [world.dataset_id] + [
        api.create_dataset(f"crm ds {n}", world.schema_id) for n in range(4)
    ]
    seen: list[str] = []
    start = 0
    while True:
        page = api.request("GET", f"{CATALOG}/dataSets", params={"limit": 2, "start": start}).json()
        assert "_links" not in page
        seen += list(page)
        if len(page) < 2:
            break
        start += 2
    assert seen == made


def test_data_prep_pages_by_offset_with_a_next_link_until_the_last(api: PlatformApi) -> None:
    world = World(api)
    made = [
        world.api.emulator.create_mapping_set(world.schema_id, {"id": "_id"}, org=world.org)
        for _ in range(3)
    ]
    params = {"limit": 2, "start": 0, "orderBy": "+createdDate"}
    first = api.request("GET", f"{CONVERSION}/mappingSets", params=params).json()
    assert first["_page"] == {"count": 2, "limit": 2}
    last = api.request("GET", first["_links"]["next"]["href"]).json()
    assert last["_links"] == {}
    assert [item["id"] for item in first["data"] + last["data"]] == made
