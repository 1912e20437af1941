"""Open an HTML file in headless Chromium and report what a person would see.

Talks to Chromium over the DevTools protocol on a pipe (``--remote-debugging-pipe``: commands on
file descriptor 3, replies on 4, each message JSON ended by a NUL byte), so it needs nothing but
the ``chromium`` binary (Debian package ``chromium``). :func:`open_page` loads a file:// URL in a
fresh profile with networking off, and returns the console errors, uncaught exceptions, the
requests the page tried to make beyond file: and data: URLs, what a script found on the page,
and a full-page screenshot.

Run as a script to look at a report: ``python tests/browser.py report.html shot.png``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
]

#: what the page script reports about every chart (figure.chart) of a report
CHART_PROBE = """
(() => {
  const figs = Array.from(document.querySelectorAll('figure.chart'));
  return {
    title: document.title,
    sections: Array.from(document.querySelectorAll('section')).map(s => s.id),
    charts: figs.map(f => {
      const svg = f.querySelector('svg');
      const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
      return {
        name: f.dataset.chart,
        width: box.width,
        height: box.height,
        shapes: svg ? svg.querySelectorAll('path, rect, image, use, line, polyline').length : 0,
        texts: svg ? svg.querySelectorAll('text').length : 0,
        links: svg ? svg.querySelectorAll('a').length : 0,
      };
    }),
    scripts: document.querySelectorAll('script').length,
    // the ids in the tasks column, and those broken over two lines (at a hyphen, say)
    ids: document.querySelectorAll('td.tasks .t').length,
    broken_ids: Array.from(document.querySelectorAll('td.tasks .t'))
      .filter(e => e.getClientRects().length > 1).map(e => e.textContent),
    external: Array.from(document.querySelectorAll('[src], link[href]')).map(
      e => e.getAttribute('src') || e.getAttribute('href')),
  };
})()
"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageResult:
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)  # URLs other than file: and data:
    probe: dict[str, Any] = field(default_factory=dict)
    screenshot: bytes = b""


class _Pipe:
    def __init__(self, proc: subprocess.Popen[bytes], write_fd: int, read_fd: int) -> None:
        self.proc = proc
        self.w = write_fd
        self.r = read_fd
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> int:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _read(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        result: dict[str, Any] = json.loads(msg)
        return result

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        mid = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for i, ev in enumerate(self.events):
            if ev.get("method") == name:
                return self.events.pop(i)
        while True:
            msg = self._read(deadline)
            if msg.get("method") == name:
                return msg
            if "method" in msg:
                self.events.append(msg)

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                msg = self._read(deadline)
            except TimeoutError:
                return
            if "method" in msg:
                self.events.append(msg)


def open_page(
    path: Path, *, width: int = 1280, max_height: int = 12000, timeout: float = 90.0
) -> PageResult:
    """Load ``path`` in headless Chromium; see the module docstring."""
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed")
    profile = tempfile.mkdtemp(prefix="taskalloc-chromium-")
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()

    # chromium reads commands on fd 3 and writes on fd 4; the pipes are non-inheritable, the
    # copies dup2 makes are inheritable, and close_fds=False keeps them through exec
    def setup() -> None:
        a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
        os.dup2(a, 3)
        os.dup2(b, 4)

    proc = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=False,
        preexec_fn=setup,  # only dup2 before exec
    )
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    pipe = _Pipe(proc, to_chrome_w, from_chrome_r)
    out = PageResult()
    try:
        target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
        attached = pipe.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        s = attached["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            pipe.call(f"{domain}.enable", session=s)
        pipe.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=s,
        )
        pipe.call("Page.navigate", {"url": path.resolve().as_uri()}, session=s)
        pipe.wait_event("Page.loadEventFired", timeout=timeout)
        pipe.drain(0.5)
        res = pipe.call(
            "Runtime.evaluate",
            {"expression": CHART_PROBE, "returnByValue": True},
            session=s,
        )
        out.probe = res.get("result", {}).get("value", {})
        metrics = pipe.call("Page.getLayoutMetrics", session=s)
        size = metrics.get("cssContentSize") or metrics.get("contentSize")
        height = min(int(size["height"]) + 1, max_height)
        pipe.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=s,
        )
        shot = pipe.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": False},
            session=s,
            timeout=timeout,
        )
        out.screenshot = base64.b64decode(shot["data"])
        pipe.drain(0.2)
        for ev in pipe.events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.console_errors.append(
                    " ".join(
                        str(a.get("value", a.get("description", ""))) for a in p.get("args", [])
                    )
                )
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.console_errors.append(p["entry"].get("text", ""))
            elif m == "Runtime.exceptionThrown":
                out.exceptions.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif m == "Network.requestWillBeSent":
                url = p.get("request", {}).get("url", "")
                if not url.startswith(("file:", "data:", "about:")):
                    out.network.append(url)
        with contextlib.suppress(RuntimeError, TimeoutError):
            pipe.call("Browser.close", timeout=10)
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(to_chrome_w)
        os.close(from_chrome_r)
        shutil.rmtree(profile, ignore_errors=True)
    return out


if __name__ == "__main__":
    import sys

    result = open_page(Path(sys.argv[1]))
    Path(sys.argv[2]).write_bytes(result.screenshot)
    print(json.dumps({k: v for k, v in result.__dict__.items() if k != "screenshot"}, indent=1))
