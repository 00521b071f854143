"""``make audit``'s rules: which known vulnerabilities fail CI, which are accepted or only shown."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ci_audit import load_audit

audit = load_audit()


def report(*dependencies: dict[str, Any]) -> dict[str, Any]:
    """A pip-audit JSON report of these dependencies."""
    return {"dependencies": list(dependencies), "fixes": []}


def package(name: str = "urllib3", *vulns: dict[str, Any]) -> dict[str, Any]:
    """One audited dependency with its vulnerabilities."""
    return {"name": name, "version": "1.0", "vulns": list(vulns)}


def vuln(vuln_id: str, *fixed: str, aliases: tuple[str, ...] = ()) -> dict[str, Any]:
    """One vulnerability, fixed in ``fixed`` (none: no fixed release)."""
    return {"id": vuln_id, "fix_versions": list(fixed), "aliases": list(aliases)}


def test_a_vulnerability_with_a_fixed_release_fails_the_audit() -> None:
    verdict = audit.judge(report(package("urllib3", vuln("PYSEC-1", "2.0"))), {})
    assert not verdict.passed
    assert [f.line() for f in verdict.failures] == ["urllib3 1.0: PYSEC-1 (fixed in 2.0)"]
    assert audit.report_lines(verdict)[-1].startswith("audit failed: 1 known vulnerabilities")


def test_a_vulnerability_without_a_fixed_release_is_shown_but_passes() -> None:
    verdict = audit.judge(report(package("urllib3", vuln("PYSEC-2"))), {})
    assert verdict.passed
    assert "warning: urllib3 1.0: PYSEC-2 (no fixed release yet)" in audit.report_lines(verdict)


def test_an_accepted_vulnerability_passes_with_its_reason_also_by_alias() -> None:
    found = report(package("urllib3", vuln("PYSEC-3", "2.0", aliases=("GHSA-abcd",))))
    verdict = audit.judge(found, {"GHSA-abcd": "only the proxy code, which we do not use"})
    assert verdict.passed
    assert (
        "accepted urllib3 1.0: PYSEC-3 (fixed in 2.0): only the proxy code, which we do not use"
        in audit.report_lines(verdict)
    )


def test_an_exception_that_matches_nothing_is_reported_for_removal() -> None:
    verdict = audit.judge(report(package("urllib3")), {"PYSEC-9": "old"})
    assert verdict.unused_exceptions == ["PYSEC-9"]
    assert verdict.passed


def test_when_the_service_answered_for_no_package_the_audit_warns_and_passes() -> None:
    skipped = {"name": "kombu", "skip_reason": "Dependency not found on PyPI"}
    verdict = audit.judge(report(skipped, dict(skipped, name="amqp")), {})
    lines = audit.report_lines(verdict)
    assert verdict.passed
    assert "answered for none of the 2 pinned packages" in lines[-2]


def test_exceptions_are_one_per_line_with_comments_and_a_reason() -> None:
    text = "# header\n\nPYSEC-1 does not apply: server side only\n  GHSA-x  no release yet\n"
    assert audit.parse_exceptions(text) == {
        "PYSEC-1": "does not apply: server side only",
        "GHSA-x": "no release yet",
    }


def test_an_exception_without_a_reason_is_refused() -> None:
    with pytest.raises(audit.AuditError, match="line 2: PYSEC-1 needs a reason"):
        audit.parse_exceptions("# header\nPYSEC-1\n")


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        ("requests.exceptions.ConnectionError: HTTPSConnectionPool(...)", True),
        ("Temporary failure in name resolution", True),
        ("error: unrecognized arguments: --bogus", False),
    ],
)
def test_only_network_failures_count_as_an_unreachable_service(stderr: str, expected: bool) -> None:
    assert audit.unreachable(stderr) is expected
