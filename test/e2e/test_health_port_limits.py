"""The health port cannot starve `ctindex run` of file descriptors (issue 11, item 9).

`ctindex run --health-port` runs with `ulimit -n 256`; the test opens 300 idle connections to
the health port and keeps them open, then queues CloudTrail notifications. Before the fix every
connection stayed open forever: the process ran out of descriptors and every S3 download and
upload failed with "Couldn't connect". Now the health port holds at most 32 connections (a new
one closes the longest-idle), idle ones are closed after 5 s, and a slow request gets 408:
every record is indexed, every message deleted, and the endpoint still answers."""
import json
import os
import resource
import select
import socket
import subprocess
import sys
import time
import urllib.request

import runlib
from runlib import BIN, BUILD, fakelib

check = fakelib.Checks()
IDLE_CONNECTIONS = 300


def limit_fds():
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def health(port, timeout=5):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        return None, str(e)


def closed(sock):
    """True when the server closed this connection (EOF or reset)."""
    ready, _, _ = select.select([sock], [], [], 0)
    if not ready:
        return False
    try:
        return sock.recv(4096) == b""
    except OSError:
        return True


def run(tmp):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < IDLE_CONNECTIONS + 100:  # the test itself holds the connections
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    out = os.path.join(tmp, "out")
    corpus = runlib.Corpus(BUILD, tmp, files=8, max_records=200, seed=23)
    ids = corpus.ids()
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        stack = runlib.Stack(moto, akid, secret, visibility=60)
        stack.upload(corpus)
        env = runlib.run_env(moto, akid, secret)
        hport = fakelib.free_port()
        log = open(os.path.join(tmp, "run.log"), "w")
        proc = subprocess.Popen([BIN, "run", "--queue", stack.queue, "--sink", "dir:" + out, "--receivers", "1",
                                 "--wait", "1", "--health-port", str(hport), "--stats-interval", "0",
                                 "--dead-letter", os.path.join(tmp, "dead.jsonl")],
                                env=env, stdout=subprocess.DEVNULL, stderr=log, preexec_fn=limit_fds)
        socks = []
        try:
            status = None
            for _ in range(100):
                status, _ = health(hport, timeout=1)
                if status == 200:
                    break
                time.sleep(0.1)
            check(status == 200, "the health endpoint answers before the flood")
            for _ in range(IDLE_CONNECTIONS):
                s = socket.create_connection(("127.0.0.1", hport), timeout=5)
                socks.append(s)
            status, body = health(hport)
            check(status == 200, f"with {IDLE_CONNECTIONS} idle connections open it still answers: {status} {body}")
            stack.cloudtrail_each(corpus.logs)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                visible, invisible = stack.counts()
                if visible + invisible == 0:
                    break
                time.sleep(0.5)
            visible, invisible = stack.counts()
            check(visible + invisible == 0, f"every message handled and deleted (left: {visible + invisible})")
            got = runlib.dir_ids(out)
            check(set(got) == ids, f"every record indexed: {len(set(got))} of {len(ids)}")
            # Idle connections are closed by the server within its idle timeout (5 s).
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not all(closed(s) for s in socks):
                time.sleep(0.5)
            n_closed = sum(1 for s in socks if closed(s))
            check(n_closed == IDLE_CONNECTIONS, f"the server closed the idle connections ({n_closed} of {IDLE_CONNECTIONS})")
            # A request that never completes is answered 408 and closed.
            slow = socket.create_connection(("127.0.0.1", hport), timeout=30)
            slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            slow.settimeout(30)
            try:
                answer = slow.recv(4096)
            except OSError:
                answer = b""
            check(answer.startswith(b"HTTP/1.1 408 "), f"a request left unfinished gets 408: {answer[:40]!r}")
            slow.close()
        finally:
            for s in socks:
                s.close()
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        text = open(os.path.join(tmp, "run.log"), errors="replace").read()
        check("Couldn't connect" not in text and "Too many open files" not in text,
              "no connection failures in the service's log", text[-1500:])
        check(proc.returncode == 0, f"SIGTERM exits 0 ({proc.returncode})")
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(runlib.main(run, "ctindex-health-"))
