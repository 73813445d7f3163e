"""A real ``regard serve`` and a real headless Chromium (Debian's ``chromium``) driven by Playwright.

Playwright's own browser download is never used: the browser is ``/usr/bin/chromium`` (or $REGARD_CHROMIUM).
Every page fixture collects console errors and uncaught exceptions and fails the test on any of them.
Set REGARD_SCREENSHOTS=DIR to save a screenshot of each page the tests visit (docs/screenshots is made so).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from tests.adapters.aws.server_process import BOOT_KEY_ID, BOOT_SECRET, ServerProcess, run_cli, start_server

DATA = Path(__file__).resolve().parents[2] / "data"
WRONG_SECRET = "not-the-secret-0123456789"  # what the refusal tests type; must never reach the log
CHROMIUM = os.environ.get("REGARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def new_key(data_dir: Path, scope: str) -> tuple[str, str]:
    done = run_cli("keys", "create", "--scope", scope, "--data", str(data_dir))
    assert done.returncode == 0, done.stderr
    key_id = re.search(r"AccessKeyId:\s+(\S+)", done.stdout)
    secret = re.search(r"SecretAccessKey:\s+(\S+)", done.stdout)
    assert key_id and secret, done.stdout
    return key_id.group(1), secret.group(1)


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("console")
    videos = tmp / "videos"
    videos.mkdir()
    shutil.copy(DATA / "video" / "short_hamilton_clip.mp4", videos / "hamilton.mp4")
    keys = {scope: new_key(tmp / "data", scope) for scope in ("detect", "search", "index")}
    process = start_server(tmp, "--bucket", f"videos={videos}", "--workers", "2")
    process.keys = {**keys, "admin": (BOOT_KEY_ID, BOOT_SECRET)}
    yield process
    assert process.stop() == 0, process.log_text()[-3000:]
    assert BOOT_SECRET not in process.log_text()  # no secret in the server's log, right or wrong
    assert WRONG_SECRET not in process.log_text()
    for _, secret in keys.values():
        assert secret not in process.log_text()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@dataclass
class Console:
    """One browser page on the console, with the errors it logged."""

    page: Page
    url: str
    errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # patterns of errors a test provokes on purpose

    def sign_in(self, key_id: str, secret: str) -> None:
        self.page.goto(self.url)
        self.page.get_by_label("Access key ID").fill(key_id)
        self.page.get_by_label("Secret access key").fill(secret)
        self.page.get_by_role("button", name="Sign in").click()

    def open(self, link: str) -> None:
        """Follow a navigation link and wait until its page has replaced the one before."""
        anchor = self.page.get_by_role("navigation").get_by_role("link", name=link, exact=True)
        anchor.click()
        expect(anchor).to_have_attribute("aria-current", "page")  # set as the old page is cleared
        expect(self.page.get_by_role("heading", level=1)).to_be_visible()

    def screenshot(self, name: str) -> None:
        folder = os.environ.get("REGARD_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(folder) / f"{name}.jpg"), type="jpeg", quality=85)

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(re.search(p, e) for p in self.expected)]


@pytest.fixture
def console(browser: Browser, server: ServerProcess) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    console = Console(page, server.url + "/console/")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console.errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: console.errors.append(f"pageerror: {error}"))
    yield console
    context.close()
    assert console.unexpected_errors() == [], console.errors


@pytest.fixture
def signed_in(console: Console, server: ServerProcess) -> Callable[[str], Console]:
    def sign_in(scope: str = "admin") -> Console:
        key_id, secret = server.keys[scope]
        console.sign_in(key_id, secret)
        expect(console.page.get_by_text(f"{key_id} · {scope}")).to_be_visible()
        return console

    return sign_in
