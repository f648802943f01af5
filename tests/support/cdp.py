"""Headless Chromium driven over the Chrome DevTools Protocol, standard library only.

Chromium runs with --remote-debugging-pipe: commands go in on its fd 3 and
answers and events come out on its fd 4, as NUL-terminated JSON. One page
(target) is attached in flat session mode. Enough for the browser tests:
navigate, wait for a selector, evaluate JavaScript, click and type the way
a user does (mouse and keyboard input events), take screenshots.
"""

import base64
import fcntl
import json
import os
import subprocess
import tempfile
import time


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, binary="/usr/bin/chromium", width=1280, height=1100, log=None,
                 extra_args=()):
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        self.profile = tempfile.mkdtemp(prefix="chromium-")

        def child_fds():
            # out of the way first: either pipe end may itself be fd 3 or 4
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
                    for fd in (commands_read, answers_write)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen(
            # no GPU process at all: under qemu TCG its software rasterizer crashes
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-software-rasterizer", "--disable-dev-shm-usage", "--disable-breakpad",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--force-device-scale-factor=1", "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
             *extra_args, "about:blank"],
            env=dict(os.environ, HOME=self.profile), stdin=subprocess.DEVNULL,
            stdout=log or subprocess.DEVNULL,
            stderr=log or subprocess.DEVNULL, preexec_fn=child_fds, close_fds=False)
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b""
        self._next_id = 0
        self.events = []
        self.size = (width, height)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Runtime"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    # --- the protocol

    def _read_message(self, timeout):
        deadline = time.time() + timeout
        while b"\0" not in self._buffer:
            if time.time() > deadline:
                raise BrowserError("no answer from Chromium")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, timeout=300, session=None, **params):
        """Send METHOD with PARAMS (to the page session if SESSION); return its result."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read_message(timeout)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def send(self, method, timeout=300, **params):
        """METHOD in the page."""
        return self.call(method, timeout=timeout, session=self.session, **params)

    # --- what a test does

    def evaluate(self, expression, timeout=300):
        """The value of a JavaScript EXPRESSION (promises awaited), as JSON."""
        result = self.send("Runtime.evaluate", timeout=timeout, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression[:80]}: {text}")
        return result["result"].get("value")

    def go(self, url):
        self.send("Page.navigate", url=url)

    def wait(self, condition, timeout=120, what=None):
        """Poll the JavaScript CONDITION until it is truthy; return its value."""
        deadline = time.time() + timeout
        while True:
            value = self.evaluate(f"(() => {{ try {{ return {condition}; }} "
                                  f"catch (e) {{ return null; }} }})()")
            if value:
                return value
            if time.time() > deadline:
                raise BrowserError(f"timed out waiting for {what or condition}")
            time.sleep(0.1)

    def wait_for(self, css, timeout=120):
        """Wait until an element matching CSS is shown."""
        return self.wait(f"(el => el && el.getClientRects().length > 0)"
                         f"(document.querySelector({json.dumps(css)}))", timeout, css)

    def gone(self, css, timeout=120):
        self.wait(f"!document.querySelector({json.dumps(css)})", timeout, "no " + css)

    def texts(self, css):
        return self.evaluate(f"Array.from(document.querySelectorAll({json.dumps(css)}), "
                             "el => el.innerText)")

    def click(self, css, timeout=120):
        """Click the element matching CSS with the mouse, once it is shown and enabled."""
        self.wait(f"(el => el && !el.disabled && el.getAttribute('aria-disabled') !== 'true' "
                  f"&& el.getClientRects().length > 0)(document.querySelector({json.dumps(css)}))",
                  timeout, css)
        x, y = self.evaluate(f"(el => {{ el.scrollIntoView({{block: 'center'}}); "
                             f"const r = el.getBoundingClientRect(); "
                             f"return [r.x + r.width / 2, r.y + r.height / 2]; }})"
                             f"(document.querySelector({json.dumps(css)}))")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=1)

    def type(self, css, text):
        """Focus the field matching CSS and type TEXT into it."""
        self.click(css)
        self.send("Input.insertText", text=text)

    def screenshot(self, path):
        """A PNG of the whole page: the viewport grown to the content's height.

        The content may scroll inside an element (PatternFly's page does) rather
        than the document, so the tallest scrolled content counts.
        """
        width, height = self.size
        full = self.evaluate(
            "Math.max(document.documentElement.scrollHeight, ...Array.from("
            "document.querySelectorAll('*'), el => el.scrollHeight > el.clientHeight + 1 && "
            "['auto', 'scroll'].includes(getComputedStyle(el).overflowY) ? "
            "el.getBoundingClientRect().top + el.scrollHeight : 0))") or height
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=max(height, int(full)),
                  deviceScaleFactor=1, mobile=False)
        time.sleep(0.5)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=30)
        except (BrowserError, OSError):
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._answers)
        subprocess.run(["rm", "-rf", self.profile], check=False)
