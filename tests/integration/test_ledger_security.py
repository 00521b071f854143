"""The ledger on PostgreSQL: TLS parameters of DATAFLOW_STATE_URL reach libpq, and a role with
only the privileges of docs/operations.md runs it after the migrations."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from tests import ledger_ops as ops
from tests.integration.tls_proxy import Certificates, TlsProxy
from tests.integration.worker_support import postgres_schema
from worker.errors import LedgerError
from worker.ledger import open_ledger

pytestmark = pytest.mark.integration

POSTGRES = ("127.0.0.1", 5432)
T0 = 1_800_000_000.0


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """A trusted CA and the server certificates, as PEM files."""
    return Certificates.make(tmp_path)


def tls_url(port: int, ca: Path, schema_url: str, host: str = "localhost") -> str:
    """The schema's ledger URL through the TLS proxy, verified against ``ca``."""
    options = schema_url.split("?", 1)[1]
    return (
        f"postgresql://postgres@{host}:{port}/postgres?{options}&sslmode=verify-full"
        f"&sslrootcert={quote(str(ca))}&sslnegotiation=direct"
    )


def use(url: str) -> None:
    """Open the ledger, claim and finish two requests (one created, one failed), read back."""
    with open_ledger(url) as ledger:
        claim = ledger.claim("r-1", "hash", '{"name":"crm"}', "evt-1", "w1", 30.0, T0)
        assert claim.fence is not None
        ops.finish(ledger, "r-1", claim.fence, "created", b"{}", None, now=T0 + 1)
        failed = ledger.claim("r-2", "hash", '{"name":"crm"}', "evt-2", "w1", 30.0, T0)
        assert failed.fence is not None
        ops.finish(ledger, "r-2", failed.fence, "failed", b"{}", None, now=T0 + 1)
        record = ledger.get("r-1")
        assert record is not None
        assert record.status == "created"


def test_a_verified_tls_connection_runs_the_ledger(
    postgres_url: str, certificates: Certificates
) -> None:
    with (
        postgres_schema(postgres_url) as schema_url,
        TlsProxy(POSTGRES, certificates.server, alpn=("postgresql",)) as proxy,
    ):
        use(tls_url(proxy.port, certificates.ca, schema_url))
        assert proxy.handshakes >= 1
        assert proxy.failed_handshakes == 0


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("unknown_ca_server", "certificate verify failed"),
        ("other_host_server", 'does not match host name "localhost"'),
    ],
    ids=["unknown CA", "host name mismatch"],
)
def test_a_refused_database_certificate_is_a_one_line_ledger_error(
    postgres_url: str, certificates: Certificates, server: str, expected: str
) -> None:
    with (
        postgres_schema(postgres_url) as schema_url,
        TlsProxy(POSTGRES, getattr(certificates, server), alpn=("postgresql",)) as proxy,
        pytest.raises(LedgerError) as caught,
    ):
        open_ledger(tls_url(proxy.port, certificates.ca, schema_url))
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_sslmode_reaches_libpq_the_machines_server_without_tls_is_refused(
    postgres_url: str,
) -> None:
    with postgres_schema(postgres_url) as schema_url, pytest.raises(LedgerError, match="SSL"):
        open_ledger(f"{schema_url}&sslmode=require")


@pytest.fixture
def row_role(postgres_url: str) -> Iterator[tuple[str, str]]:
    """(URL of a migrated ledger schema as a role with only the documented grants, schema)."""
    role = f"ledger_{uuid.uuid4().hex[:12]}"
    with postgres_schema(postgres_url) as schema_url:
        open_ledger(schema_url).close()  # the owner migrates
        schema = schema_url.rsplit("%3D", 1)[1]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            for statement in (
                f"CREATE ROLE {role} LOGIN",
                f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {role}",
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.ledger_requests TO {role}",
                f"GRANT SELECT ON {schema}.ledger_schema TO {role}",
            ):
                admin.execute(statement)
        try:
            yield schema_url.replace("postgres@", f"{role}@", 1), schema
        finally:
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                admin.execute(f"DROP OWNED BY {role}")
                admin.execute(f"DROP ROLE {role}")


def test_a_role_with_only_the_documented_privileges_runs_the_ledger(
    row_role: tuple[str, str],
) -> None:
    url, schema = row_role
    use(url)
    with open_ledger(url) as ledger:
        assert ledger.prune(T0 + 10) == 1
    with psycopg.connect(url, autocommit=True) as connection:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(f"DROP TABLE {schema}.ledger_requests")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(f"ALTER TABLE {schema}.ledger_requests ADD COLUMN x INTEGER")
