"""The search page of `ctindex serve`, driven in a real headless browser (Debian's chromium) through
the DevTools protocol on a pipe (--remote-debugging-pipe: no extra Python package): load it, run a
query, click a facet value, open a hit's raw record, and check each hit count the page shows
against an oracle computed from the ctgen records. The screenshot is saved as
BUILD/test-output/search-page.png (BUILD: the CMake build folder)."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402
import serve_lib  # noqa: E402

check = fakelib.Checks()
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Browser:
    """Chromium with the DevTools protocol on fds 3 (commands in) and 4 (answers out)."""

    def __init__(self, profile):
        cmd_r, self.cmd_w = os.pipe()
        self.out_r, out_w = os.pipe()

        def fds():  # in the child: the two ends at 3 and 4, whatever numbers they had
            a, b = os.dup(cmd_r), os.dup(out_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1000", "--user-data-dir=" + profile,
                 "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen([CHROMIUM] + flags, preexec_fn=fds, pass_fds=sorted({3, 4, cmd_r, out_w}),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(out_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def send(self, method, params=None, session=True, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.read(deadline)
            if m is None:
                break
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)
        raise TimeoutError(method)

    def read(self, deadline):
        import select
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.out_r], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.out_r, 1 << 20)
            if not chunk:
                return None
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def wait_event(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            m = self.read(deadline)
            if m is None:
                raise TimeoutError(method)
            self.events.append(m)

    def eval(self, js):
        r = self.send("Runtime.evaluate", {"expression": js, "returnByValue": True, "awaitPromise": True})
        return r.get("result", {}).get("value")

    def wait_for(self, js, want=lambda v: v, timeout=30):
        """Evaluates js until want(value) holds; returns the last value."""
        deadline = time.monotonic() + timeout
        v = None
        while time.monotonic() < deadline:
            v = self.eval(js)
            if want(v):
                return v
            time.sleep(0.1)
        return v

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.cmd_w)
        os.close(self.out_r)


def shown_count(br, previous=None, timeout=30):
    """The hit count the page shows (data-found of #count), once it differs from previous."""
    v = br.wait_for("document.getElementById('count').dataset.found || ''",
                    lambda v: v != "" and v != previous, timeout)
    return int(v) if v else None


def run(tmp):
    with serve_lib.Served(tmp, files=10, max_records=250, seed=31) as sv:
        recs = sv.records
        br = Browser(os.path.join(tmp, "profile"))
        try:
            target = br.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
            br.session = br.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
            br.send("Page.enable")
            br.send("Runtime.enable")
            br.send("Page.navigate", {"url": sv.url + "/"})
            br.wait_event("Page.loadEventFired")
            n = shown_count(br)
            check(n == len(recs), f"the page loads and shows matchall: {n} hits (oracle {len(recs)})")
            check(br.eval("document.querySelectorAll('#hits tr.hit').length") == min(25, len(recs)),
                  "it lists the first page of hits")
            # a query typed in the box
            q = "event_source:'s3.amazonaws.com'"
            br.eval(f"document.getElementById('q').value = {json.dumps(q)}; document.getElementById('go').click(); 1")
            s3 = [r for r in recs if r.get("eventSource") == "s3.amazonaws.com"]
            n = shown_count(br, str(len(recs)))
            check(n == len(s3), f"the query shows {n} hits (oracle {len(s3)})")
            # a facet value in the right-hand column narrows it
            name = serve_lib.top((r.get("eventName") for r in s3), 2)[1][0]
            sel = f".facet[data-field='event_name'][data-value={json.dumps(name)}]"
            clicked = br.wait_for(f"(() => {{ const e = document.querySelector({json.dumps(sel)}); "
                                  f"if (!e) return false; e.click(); return true; }})()")
            both = [r for r in s3 if r.get("eventName") == name]
            n = shown_count(br, str(len(s3)))
            check(clicked and n == len(both), f"clicking the facet {name} shows {n} hits (oracle {len(both)})")
            chips = br.eval("Array.from(document.querySelectorAll('.chip')).map(c => c.textContent)")
            check(chips == [f"event_name:'{name}'"], f"the filter is shown: {chips}")
            # the raw record of a hit, on a click
            br.eval("document.querySelector('#hits tr.hit').click(); 1")
            raw = br.wait_for("(document.querySelector('#hits tr.raw td') || {}).textContent || ''")
            first = br.eval("document.querySelector('#hits tr.hit').dataset.id")
            check(raw and json.loads(raw).get("eventID") == first, "a click on a hit shows its raw record")
            # the screenshot: a query, a facet filter and a raw record open
            shot = br.send("Page.captureScreenshot", {"format": "png"})
            outdir = os.path.join(serve_lib.BUILD, "test-output")
            os.makedirs(outdir, exist_ok=True)
            path = os.path.join(outdir, "search-page.png")
            with open(path, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            check(os.path.getsize(path) > 10000, f"screenshot saved: {path}")
            # a sample query, one click away
            br.eval("document.querySelector('#samples button[data-q=\"matchall\"]').click(); 1")
            n = shown_count(br, str(len(both)))
            check(n == len(both), "a sample query keeps the facet filter until it is removed")
            br.eval("document.querySelector('.chip').click(); 1")
            n = shown_count(br, str(len(both)))
            check(n == len(recs), f"removing the filter shows matchall again: {n}")
        finally:
            br.close()
    return check.exit_code()


if __name__ == "__main__":
    if not CHROMIUM:
        print("skipped: needs chromium")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="ctindex-page-")
    try:
        sys.exit(run(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
