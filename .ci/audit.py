"""``make audit``: known vulnerabilities of the pinned dependencies (``constraints.txt``).

Runs ``pip-audit`` on the pins, without resolving or installing anything, and fails (exit 1)
when a pinned version has a known vulnerability that a released version fixes, unless
``.ci/audit-exceptions`` accepts it with a reason (one per line: the vulnerability id or alias,
then the reason). A vulnerability with no fixed release yet is reported and does not fail.
When the vulnerability service cannot be reached, or answers for none of the packages, it warns
and passes: a red audit means our pins, never the network.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_UNREACHABLE = (
    "ConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ServiceError",
)


class AuditError(Exception):
    """The audit itself cannot run as configured (a bad exceptions file, a broken tool)."""


@dataclass(frozen=True)
class Finding:
    """One known vulnerability of one pinned package."""

    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]

    def line(self) -> str:
        """One line for the CI log."""
        fix = f"fixed in {', '.join(self.fixed_in)}" if self.fixed_in else "no fixed release yet"
        return f"{self.package} {self.version}: {self.id} ({fix})"


@dataclass
class Verdict:
    """What the audit found, sorted by what it means for CI."""

    failures: list[Finding] = field(default_factory=list)
    unfixed: list[Finding] = field(default_factory=list)
    accepted: list[tuple[Finding, str]] = field(default_factory=list)
    unused_exceptions: list[str] = field(default_factory=list)
    audited: int = 0
    skipped: int = 0

    @property
    def passed(self) -> bool:
        """True unless a vulnerability with a fixed release is neither fixed nor accepted."""
        return not self.failures


def parse_exceptions(text: str) -> dict[str, str]:
    """``{vulnerability id: reason}`` from the exceptions file; a reason is required."""
    accepted: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        vuln_id, _, reason = line.partition(" ")
        if not reason.strip():
            raise AuditError(f"audit exceptions line {number}: {vuln_id} needs a reason")
        accepted[vuln_id] = reason.strip()
    return accepted


def judge(report: Mapping[str, Any], exceptions: Mapping[str, str]) -> Verdict:
    """Sort pip-audit's JSON report into failures, unfixed, accepted and unused exceptions."""
    verdict = Verdict()
    used: set[str] = set()
    for dependency in report.get("dependencies", []):
        if dependency.get("skip_reason"):
            verdict.skipped += 1
            continue
        verdict.audited += 1
        for vuln in dependency.get("vulns", []):
            finding = Finding(
                package=str(dependency["name"]),
                version=str(dependency.get("version", "?")),
                id=str(vuln["id"]),
                aliases=tuple(vuln.get("aliases", ())),
                fixed_in=tuple(vuln.get("fix_versions", ())),
            )
            match = next((i for i in (finding.id, *finding.aliases) if i in exceptions), None)
            if match is not None:
                used.add(match)
                verdict.accepted.append((finding, exceptions[match]))
            elif finding.fixed_in:
                verdict.failures.append(finding)
            else:
                verdict.unfixed.append(finding)
    verdict.unused_exceptions = sorted(set(exceptions) - used)
    return verdict


def report_lines(verdict: Verdict) -> list[str]:
    """What the CI log shows; the last line is the result."""
    lines = [f"FAIL {finding.line()}" for finding in verdict.failures]
    lines += [f"warning: {finding.line()}" for finding in verdict.unfixed]
    lines += [f"accepted {finding.line()}: {reason}" for finding, reason in verdict.accepted]
    lines += [
        f"notice: the exception {vuln_id} matches nothing any more; remove it"
        for vuln_id in verdict.unused_exceptions
    ]
    if verdict.audited == 0:
        lines.append(
            f"warning: the vulnerability service answered for none of the {verdict.skipped} "
            "pinned packages; nothing was audited"
        )
    elif verdict.skipped:
        lines.append(f"warning: {verdict.skipped} pinned packages could not be audited")
    if verdict.failures:
        lines.append(
            f"audit failed: {len(verdict.failures)} known vulnerabilities have a fixed release; "
            "raise the pins in constraints.txt (or accept them in .ci/audit-exceptions)"
        )
    elif verdict.audited == 0:
        lines.append("audit passed without auditing anything (see the warning)")
    else:
        lines.append(f"audit passed: {verdict.audited} pinned packages audited")
    return lines


def unreachable(stderr: str) -> bool:
    """True when pip-audit failed because the vulnerability service could not be reached."""
    return any(sign in stderr for sign in _UNREACHABLE)


def run_pip_audit(command: Sequence[str], requirements: Path) -> dict[str, Any] | None:
    """pip-audit's JSON report of the pins, or None when the service cannot be reached."""
    with tempfile.TemporaryDirectory(prefix="audit-") as directory:
        output = Path(directory) / "report.json"
        done = subprocess.run(  # noqa: S603 (our own command line, no shell)
            [
                *command,
                "--requirement",
                str(requirements),
                "--no-deps",
                "--disable-pip",
                "--progress-spinner",
                "off",
                "--format",
                "json",
                "--output",
                str(output),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        text = output.read_text(encoding="utf-8") if output.exists() else ""
    if text.strip():
        report: dict[str, Any] = json.loads(text)
        return report
    if unreachable(done.stderr):
        return None
    tail = " | ".join(done.stderr.strip().splitlines()[-3:])
    raise AuditError(f"pip-audit exited {done.returncode} without a report: {tail}")


def main(argv: Sequence[str] | None = None) -> int:
    """Audit the pins; print what was found; 0 unless a fixable vulnerability is not accepted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, default=ROOT / "constraints.txt")
    parser.add_argument("--exceptions", type=Path, default=ROOT / ".ci" / "audit-exceptions")
    parser.add_argument(
        "--pip-audit",
        default=f"{sys.executable} -m pip_audit",
        help="the pip-audit command (tests give a stand-in)",
    )
    args = parser.parse_args(argv)
    try:
        text = args.exceptions.read_text(encoding="utf-8") if args.exceptions.exists() else ""
        exceptions = parse_exceptions(text)
        report = run_pip_audit(args.pip_audit.split(), args.requirements)
    except AuditError as error:
        print(f"audit error: {error}", file=sys.stderr)
        return 2
    if report is None:
        print("warning: the vulnerability service cannot be reached; the audit did not run")
        return 0
    verdict = judge(report, exceptions)
    print("\n".join(report_lines(verdict)))
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main())
