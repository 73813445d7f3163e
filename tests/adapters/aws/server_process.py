"""Start ``regard serve --port 0`` in a child process and wait until /health says the models are loaded."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CLI = [sys.executable, "-c", "from regard.adapters.cli.main import cli; cli()"]
BOOT_KEY_ID = "AKIABOOTSTRAPTEST001"
BOOT_SECRET = "bootstrap-secret-0123456789abcdefghijklm"


@dataclass
class ServerProcess:
    url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # scope -> (id, secret), made before start

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, as a service manager would; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGARD_", "AWS_"))}
    env.update(extra)
    return env


def start_server(
    tmp: Path,
    *args: str,
    ready_timeout: float = 300,
    verify: bool | str = True,
    env_extra: dict[str, str] | None = None,
) -> ServerProcess:
    data_dir = tmp / "data"
    log_path = tmp / "server.log"
    env = cli_env(REGARD_ACCESS_KEY_ID=BOOT_KEY_ID, REGARD_SECRET_ACCESS_KEY=BOOT_SECRET, **(env_extra or {}))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", "0", "--data", str(data_dir), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    server = ServerProcess("", data_dir, log_path, process)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"regard serve exited with {process.returncode}:\n{server.log_text()[-4000:]}")
        if not server.url:
            server.url = _listening_url(server.log_text())
        elif _healthy(server.url, verify):
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"regard serve not ready after {ready_timeout} s:\n{server.log_text()[-4000:]}")


def _listening_url(log: str) -> str:
    for line in log.splitlines():
        if line.startswith("{") and '"listening"' in line:
            return str(json.loads(line)["url"])
    return ""


def _healthy(url: str, verify: bool | str = True) -> bool:
    try:
        context = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
        return httpx.get(url + "/health", timeout=2, verify=context).status_code == 200
    except httpx.HTTPError:
        return False


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=cli_env(**env), timeout=120)


def aws_cli(server: ServerProcess, *args: str, **extra_env: str) -> tuple[int, Any, str]:
    """``aws rekognition ARGS`` (the real AWS CLI) against the server: (exit code, JSON output, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=BOOT_KEY_ID,
        AWS_SECRET_ACCESS_KEY=BOOT_SECRET,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_MAX_ATTEMPTS="1",
    )
    env.update(extra_env)
    aws = [sys.executable, "-m", "awscli"]
    done = subprocess.run(
        [*aws, "rekognition", *args, "--endpoint-url", server.url, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return done.returncode, (json.loads(done.stdout) if done.stdout.strip() else None), done.stderr
