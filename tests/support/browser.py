"""Headless Chromium driven over the DevTools protocol (CDP), for browser tests. No Node, no Playwright.

    async with Chromium.launch() as browser:
        await browser.goto("http://127.0.0.1:8080/preview")
        await browser.wait_for("window.mienPreview && mienPreview.info")
        await browser.set_files("#audio-file", [path])
        await browser.click("#animate")
        png = await browser.screenshot()

Each browser gets a fresh temporary profile, the flags this offline machine needs, and its own
process group, which is killed (by its id) when the context exits. Set ``MIEN_CHROMIUM`` to use
another binary than ``chromium`` on the PATH.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["Chromium", "CdpError", "JsError", "find_chromium"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)


class CdpError(RuntimeError):
    """A DevTools command failed."""


class JsError(RuntimeError):
    """JavaScript evaluated in the page threw."""


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None (``MIEN_CHROMIUM`` first, then the usual names)."""
    wanted = os.environ.get("MIEN_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).exists() else shutil.which(wanted)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """One headless browser with one page, controlled over CDP."""

    def __init__(self, process: subprocess.Popen[bytes], profile: Path, session: aiohttp.ClientSession,
                 ws: aiohttp.ClientWebSocketResponse) -> None:
        self.process = process
        self.profile = profile
        self._session = session
        self._ws = ws
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def launch(cls, *, width: int = 1280, height: int = 860, timeout_s: float = 20.0,
                     extra_args: Sequence[str] = ()) -> AsyncIterator[Chromium]:
        """Start Chromium with a fresh profile; kill its process group and delete the profile on exit."""
        executable = find_chromium()
        if executable is None:
            raise FileNotFoundError("no Chromium found (install the Debian package 'chromium' or set MIEN_CHROMIUM)")
        profile = Path(tempfile.mkdtemp(prefix="mien-chromium-"))
        log = (profile / "chromium.log").open("wb")
        process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", *extra_args,
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
        session: aiohttp.ClientSession | None = None
        browser: Chromium | None = None
        try:
            port = await _devtools_port(profile, process, timeout_s)
            session = aiohttp.ClientSession()
            ws_url = await _page_target(session, port, timeout_s)
            ws = await session.ws_connect(ws_url, max_msg_size=0)
            browser = cls(process, profile, session, ws)
            await browser.send("Page.enable")
            await browser.send("Runtime.enable")
            await browser.send("Network.enable")
            await browser.send("Log.enable")
            await browser.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                               deviceScaleFactor=1, mobile=False)
            yield browser
        finally:
            if browser is not None:
                await browser._close()
            elif session is not None:
                await session.close()
            _kill(process)
            log.close()
            shutil.rmtree(profile, ignore_errors=True)

    async def _close(self) -> None:
        self._reader.cancel()
        await asyncio.wait([self._reader])
        await self._ws.close()
        await self._session.close()

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = message.json()
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            else:
                method, params = data.get("method", ""), data.get("params", {})
                self.events.append((method, params))
                for listener in self._listeners:
                    listener(method, params)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CdpError("the browser closed the DevTools connection"))

    async def send(self, method: str, timeout_s: float = 15.0, **params: Any) -> dict[str, Any]:
        """Send one CDP command; returns its result."""
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        await self._ws.send_json({"id": self._next_id, "method": method, "params": params})
        reply = await asyncio.wait_for(future, timeout_s)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """Evaluate JavaScript in the page; returns its value (JSON-serialisable values only)."""
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                                 awaitPromise=await_promise, userGesture=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise JsError(f"{expression[:80]!r}: {text}")
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, timeout_s: float = 10.0, interval_s: float = 0.05) -> Any:
        """Poll ``expression`` until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} still falsy after {timeout_s} s")
            await asyncio.sleep(interval_s)

    async def goto(self, url: str, timeout_s: float = 15.0) -> None:
        """Navigate and wait for the load event."""
        loaded = asyncio.get_running_loop().create_future()

        def on_event(method: str, params: dict[str, Any]) -> None:
            if method == "Page.loadEventFired" and not loaded.done():
                loaded.set_result(None)

        self._listeners.append(on_event)
        try:
            result = await self.send("Page.navigate", url=url)
            if result.get("errorText"):
                raise CdpError(f"navigating to {url}: {result['errorText']}")
            await asyncio.wait_for(loaded, timeout_s)
        finally:
            self._listeners.remove(on_event)

    async def add_init_script(self, source: str) -> None:
        """Run ``source`` in every document before its own scripts (e.g. to stub a browser API)."""
        await self.send("Page.addScriptToEvaluateOnNewDocument", source=source)

    async def set_files(self, selector: str, paths: Sequence[Path]) -> None:
        """Put files on an ``<input type=file>`` (as if picked in the file dialog)."""
        document = await self.send("DOM.getDocument")
        node = await self.send("DOM.querySelector", nodeId=document["root"]["nodeId"], selector=selector)
        if not node.get("nodeId"):
            raise CdpError(f"no element {selector!r}")
        await self.send("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(Path(p).resolve()) for p in paths])
        await self.evaluate(f"document.querySelector({selector!r}).dispatchEvent(new Event('change', "
                            "{bubbles: true}))")

    async def click(self, selector: str) -> None:
        """A real mouse click (press and release) in the middle of the element."""
        box = await self.evaluate(
            f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect(); "
            "return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    async def screenshot(self) -> bytes:
        """PNG of the viewport."""
        result = await self.send("Page.captureScreenshot", format="png")
        return base64.b64decode(result["data"])

    def console_errors(self) -> list[str]:
        """Uncaught exceptions, console.error calls and browser log errors (CSP violations among them)."""
        errors = []
        for method, params in self.events:
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                errors.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(params["entry"].get("text", ""))
        return errors

    def requested_urls(self) -> list[str]:
        """Every URL the page requested."""
        return [p["request"]["url"] for m, p in self.events if m == "Network.requestWillBeSent"]


async def _devtools_port(profile: Path, process: subprocess.Popen[bytes], timeout_s: float) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (profile / "chromium.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Chromium exited with {process.returncode} at start:\n{log}")
        if marker.exists():
            lines = marker.read_text().split()
            if lines:
                return int(lines[0])
        await asyncio.sleep(0.05)
    raise TimeoutError(f"Chromium did not open its DevTools port within {timeout_s} s")


async def _page_target(session: aiohttp.ClientSession, port: int, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        async with session.get(f"http://127.0.0.1:{port}/json/list") as reply:
            targets = await reply.json()
        pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
        if pages:
            return str(pages[0]["webSocketDebuggerUrl"])
        if time.monotonic() > deadline:
            raise TimeoutError("Chromium has no page target")
        await asyncio.sleep(0.05)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """End the browser's own process group (started with start_new_session, so its id is the pid)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    else:  # the browser itself is gone; its helpers may not be
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
