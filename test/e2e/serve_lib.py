"""Shared by the serve tests (not a test itself): a ctgen corpus indexed with `ctindex replay`, the
records as an oracle, and `ctindex serve` on a free port, stopped when done.

    with serve_lib.Served(tmp, files=8, seed=3) as sv:   # sv.url, sv.records, sv.index
        ..."""
import collections
import gzip
import json
import os
import select
import signal
import subprocess

BIN = os.environ["CTINDEX_BIN"]
BUILD = os.environ["CTINDEX_BUILD"]


def load_records(root):
    recs = []
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            if "CloudTrail-Digest" in dirpath or not n.endswith(".json.gz"):
                continue
            with gzip.open(os.path.join(dirpath, n)) as f:
                recs.extend(json.load(f)["Records"])
    return recs


def top(values, n=10):
    """CloudSearch's facet order: count descending, then value."""
    c = collections.Counter(v for v in values if v is not None)
    return [[v, k] for v, k in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


class Served:
    def __init__(self, tmp, name="logs", **ctgen):
        self.tmp = tmp
        self.corpus = os.path.join(tmp, name)
        argv = [os.path.join(BUILD, "bench", "ctgen"), "--out", self.corpus]
        for k, v in ctgen.items():
            argv += ["--" + k.replace("_", "-"), str(v)]
        subprocess.run(argv, check=True, capture_output=True)
        self.records = load_records(self.corpus)
        self.index = os.path.join(tmp, name + ".db")
        subprocess.run([BIN, "replay", self.corpus, "--sink", "index:" + self.index, "--no-progress"], check=True,
                       capture_output=True, timeout=600)
        self.log = open(os.path.join(tmp, "serve.log"), "w")
        self.proc = subprocess.Popen([BIN, "serve", "--index", self.index, "--listen", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else ""
        if "listening on http://" not in line:
            self.stop()
            raise RuntimeError("serve did not start: " + line + open(self.log.name).read())
        self.url = line.split()[2].rstrip("/")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
