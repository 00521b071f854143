"""Name filters say a name exactly where the syntax allows, and widen (never narrow) elsewhere."""

from __future__ import annotations

import fnmatch

import pytest

from worker.platform.filters import (
    catalog_name_filter,
    flow_service_name_filter,
    schema_registry_title_filter,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("crm orders (flow) [crm-42]", 'name=="crm orders (flow) [crm-42]"'),
        ("a*b!c&d==e", 'name=="a*b!c&d==e"'),
        ("Bestellungen Übersicht 注文", 'name=="Bestellungen Übersicht 注文"'),
        ('say "hi"', None),
        ("a,b", None),
        ("back\\slash", None),
        ("approx~name", None),
        ("x!>y", None),
    ],
)
def test_flow_service_filters_quote_the_name_or_list_everything(
    name: str, expected: str | None
) -> None:
    assert flow_service_name_filter(name) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("crm orders (schema) [crm-42]", 'title=="crm orders (schema) [crm-42]"'),
        ("Übersicht 注文 *", 'title=="Übersicht 注文 *"'),
        ("it's 100% #1 & more", 'title=="it\'s 100% #1 & more"'),
        ("a,b", None),
        ("a==b", None),
        ('say "hi"', None),
        (" padded", None),
    ],
)
def test_schema_registry_filters_quote_the_title_or_list_everything(
    title: str, expected: str | None
) -> None:
    assert schema_registry_title_filter(title) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("crm orders (dataset) [crm-42]", "crm orders (dataset) [crm-42]"),
        ("a*b", "a**b"),
        ("a**b", "a****b"),
        ("a,b", "a*b"),
        ("a*,b", "a*b"),
        ("!neg", "*neg"),
        ("!a,b*c", "*a*b*c"),
        ("a!b", "a!b"),
        (",", None),
        ("!", None),
    ],
)
def test_catalog_filters_escape_stars_and_widen_commas_and_negation(
    name: str, expected: str | None
) -> None:
    assert catalog_name_filter(name) == expected


@pytest.mark.parametrize("name", ["a,b", "!a,b*c", "*x,y*", "!!,,**"])
def test_a_widened_catalog_filter_still_matches_the_exact_name(name: str) -> None:
    widened = catalog_name_filter(name)
    assert widened is not None
    assert fnmatch.fnmatchcase(name, widened.replace("[", "[[]"))
