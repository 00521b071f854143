"""Name filters for the Platform's list calls: pure, and never narrower than the exact name.

Each service has its own filter syntax. Names reach it only as data: a ``property=`` value is
always a quoted string (``name=="..."``), and httpx percent-encodes the whole parameter, so
``&``, ``#``, ``%`` and non-ASCII letters arrive as they are. Where a name holds what the syntax
gives no escape for, the filter is widened (or dropped) and the caller compares exact names
client-side, which it always does anyway: a filter only saves traffic, it never decides what
matches, so a widened filter costs a longer list and never a wrong answer.
"""

from __future__ import annotations

import re

# Flow Service: `property=name=="<value>"`. The docs define no escape for a quote inside the
# value and do not say that quotes protect a comma (the OR separator) or `~`, `!<`, `!>` (operators
# the service refuses), so such names are listed unfiltered.
_FLOW_UNSAFE = re.compile(r'["\\,~]|![<>]')
# Schema Registry: `property=title=="<value>"`; a comma may be an OR and the docs say nothing of
# operators inside a quoted value, so titles holding them are listed unfiltered.
_REGISTRY_UNSAFE = re.compile(r"[,\"\\=!<>~]")
_RUNS_OF_STARS = re.compile(r"\*{2,}")


def quoted_filter(path: str, value: str) -> str:
    """``path=="value"``: a ``property=`` expression comparing ``path`` to a quoted string."""
    return f'{path}=="{value}"'


def flow_service_name_filter(name: str) -> str | None:
    """The Flow Service ``property`` value matching ``name`` exactly, or None to list all."""
    if _FLOW_UNSAFE.search(name):
        return None
    return quoted_filter("name", name)


def schema_registry_title_filter(title: str) -> str | None:
    """The Schema Registry ``property`` value matching ``title`` exactly, or None to list all."""
    if _REGISTRY_UNSAFE.search(title) or title != title.strip() or not title:
        return None
    return quoted_filter("title", title)


def catalog_name_filter(name: str) -> str | None:
    """The Catalog ``name`` value: exact (``**`` is a literal ``*``) or widened with wildcards.

    A comma (OR) and a leading ``!`` (negation) cannot be escaped, so they become the ``*``
    wildcard, as does every literal ``*`` next to them; None when nothing useful is left.
    """
    if not name:
        return None
    if "," not in name and not name.startswith("!"):
        return name.replace("*", "**")
    widened = name.replace(",", "*")
    if widened.startswith("!"):
        widened = "*" + widened[1:]
    widened = _RUNS_OF_STARS.sub("*", widened)
    if widened.strip("*") == "":
        return None
    return widened
