"""Reading request files: formats, shapes, locations and the errors for unreadable files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.errors import ConfigurationError
from worker.onboarding.manifest import ManifestError, detect_format, parse_manifest, read_manifest

REQUEST = {"request_id": "crm-1", "name": "crm orders"}
OTHER = {"request_id": "crm-2", "name": "crm customers"}
EVENT = {
    "specversion": "1.0",
    "id": "e-1",
    "source": "urn:crm-sync",
    "type": "DataflowRequested",
    "data": {"request_id": "crm-3", "name": "crm carts"},
}


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("requests.json", "[]", "json"),
        ("requests.JSONL", "{}", "jsonl"),
        ("requests.ndjson", "{}", "jsonl"),
        ("requests.yaml", "{}", "yaml"),
        ("requests.yml", "[]", "yaml"),
        ("-", '{"a": 1}', "json"),
        ("-", '[{"a": 1}, {"a": 2}]', "json"),
        ("-", '{"a": 1}\n{"a": 2}\n', "jsonl"),
        ("-", "- a: 1\n", "yaml"),
        ("requests.txt", "a: 1\n", "yaml"),
    ],
)
def test_the_format_comes_from_the_suffix_or_the_content(
    name: str, text: str, expected: str
) -> None:
    assert detect_format(name, text) == expected


@pytest.mark.parametrize(
    ("name", "text", "locations"),
    [
        ("a.json", json.dumps(REQUEST), ["item 1"]),
        ("a.json", json.dumps([REQUEST, OTHER]), ["item 1", "item 2"]),
        ("a.json", json.dumps({"requests": [REQUEST, OTHER]}), ["item 1", "item 2"]),
        ("a.jsonl", f"{json.dumps(REQUEST)}\n\n{json.dumps(OTHER)}\n", ["line 1", "line 3"]),
        ("-", f"{json.dumps(REQUEST)}\n{json.dumps(OTHER)}", ["line 1", "line 2"]),
        (
            "a.yaml",
            "- request_id: crm-1\n  name: crm orders\n- request_id: crm-2\n",
            ["item 1", "item 2"],
        ),
        ("a.yaml", "request_id: crm-1\n---\nrequest_id: crm-2\n", ["document 1", "document 2"]),
        ("a.yaml", "requests:\n  - request_id: crm-1\n", ["item 1"]),
    ],
)
def test_every_shape_of_file_yields_its_requests_with_their_locations(
    name: str, text: str, locations: list[str]
) -> None:
    items = parse_manifest(text, name=name)
    assert [item.location for item in items] == locations
    assert all(item.request_id and item.request_id.startswith("crm-") for item in items)


def test_a_whole_cloud_event_is_recognised_and_keeps_its_request_id() -> None:
    (event, request) = parse_manifest(json.dumps([EVENT, REQUEST]), name="a.json")
    assert event.is_event
    assert event.request_id == "crm-3"
    assert not request.is_event
    assert request.payload == REQUEST


def test_a_request_without_a_usable_request_id_still_parses() -> None:
    (item,) = parse_manifest(json.dumps({"request_id": 7}), name="a.json")
    assert item.request_id is None


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.json", "[{", "a.json: not valid JSON (line 1"),
        ("a.jsonl", '{"a": 1}\n{"a": \n', "a.jsonl: line 2 is not valid JSON"),
        ("a.yaml", "a: [1,\n", "a.yaml: not valid YAML (line"),
        ("a.json", "[1, 2]", "a.json: item 1 is a int, not an object"),
        ("a.yaml", "- null\n", "a.yaml: item 1 is a null, not an object"),
        ("a.json", '{"requests": 3}', "a.json: 'requests' must be a list of objects"),
        ("a.jsonl", '{"a": 1}\n"text"\n', "a.jsonl: line 2 is a str, not an object"),
    ],
)
def test_an_unparseable_file_is_one_readable_line(name: str, text: str, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, name=name)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_manifest_error_is_a_configuration_error_so_the_exit_code_is_2() -> None:
    assert issubclass(ManifestError, ConfigurationError)


def test_a_dash_reads_standard_input() -> None:
    items = read_manifest("-", stdin=io.StringIO(json.dumps(REQUEST) + "\n" + json.dumps(OTHER)))
    assert [item.request_id for item in items] == ["crm-1", "crm-2"]


def test_a_file_is_read_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "requests.yaml"
    path.write_text("- request_id: crm-1\n  name: crm orders\n", encoding="utf-8")
    (item,) = read_manifest(str(path))
    assert item.payload == REQUEST


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"\xff\xfe\x00", "not UTF-8 text"),
        (b"", "holds no requests"),
        (b"---\n", "holds no requests"),
    ],
)
def test_an_unreadable_or_empty_file_is_a_manifest_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "requests.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ManifestError, match=message):
        read_manifest(str(path))


def test_a_directory_is_not_a_request_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="is a directory"):
        read_manifest(str(tmp_path))


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from('{}[]:,-"\n ab1\t#&*!|>'), max_size=60),
    name=st.sampled_from(["-", "a.json", "a.jsonl", "a.yaml"]),
)
def test_no_text_breaks_the_reader_except_as_a_manifest_error(text: str, name: str) -> None:
    message = ""
    try:
        items = parse_manifest(text, name=name)
    except ManifestError as error:
        message, items = str(error), []
    assert "\n" not in message
    assert all(isinstance(item.payload, dict) for item in items)
