"""Helpers for e2e tests: run fake_search.py and moto_server, wait until ready, always stop them.

    sys.path.insert(0, os.path.join(os.environ["CTINDEX_TEST_DIR"], "fakes"))
    import fakelib
    with fakelib.FakeSearch(access_key="AKID", secret_key="SECRET", schema="schema.json") as fake:
        ... fake.url, fake.accepted(), fake.fault(status=507, count=3), fake.stats(), fake.reset()
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        ... boto3.client("s3", **moto.client_kwargs(akid, secret)) ...
    with fakelib.RecordingProxy(fake.port) as proxy:   # point the client at proxy.port
        ... proxy.exchanges (in order, numbered across every proxy), proxy.max_active ...

Every child is stopped by the context manager, by atexit, on SIGTERM of the test (the handler
turns it into SystemExit so atexit runs), and by the kernel if the test dies outright
(PR_SET_PDEATHSIG), so a failing test never leaves servers behind.

Moto with signature checks (verified with moto 5.2.1, boto3 1.43 on this machine):
  * INITIAL_NO_AUTH_ACTION_COUNT=N in moto_server's environment: the first N API requests are
    served without authentication; every later request is SigV4-verified against the access keys
    that exist in moto's IAM, and IAM policies are enforced.  Requests to /moto-api/ (used here for
    the readiness check) do not count.
  * create_admin_key() spends exactly 3 of those requests (CreateUser, PutUserPolicy with Allow
    "*" on "*", CreateAccessKey), so use no_auth_actions=3 and call it first.
  * A wrong secret: S3 answers 403 SignatureDoesNotMatch.  SQS (JSON protocol) answers 403 with a
    Query-style XML error body that botocore cannot parse: Error.Code comes out as "403" and the
    "<Code>SignatureDoesNotMatch</Code>" text is inside Error.Message - check both.  An unknown
    key id gives InvalidAccessKeyId (S3) / InvalidClientTokenId.
"""

import atexit
import ctypes
import http.client
import itertools
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAKES_DIR = os.path.dirname(os.path.abspath(__file__))
FAKE_SEARCH = os.path.join(FAKES_DIR, "fake_search.py")
_live = []

# How long a fake may take to start. Waits below end as soon as the server is ready or its
# process has exited; this budget only catches a server that hangs. Starting one means importing
# Python packages (moto: several seconds idle), which on a loaded machine (ctest -j16 on two
# cores) has taken more than 30 s.
START_BUDGET_S = 300


class Checks:
    """check(cond, what, detail): prints ok/FAIL lines and remembers failures;
    check.exit_code() prints the summary and gives the test's exit status."""

    def __init__(self):
        self.failures = []

    def __call__(self, cond, what, detail=""):
        print(("ok   " if cond else "FAIL ") + what + ("" if cond or not detail else f"\n     {detail}"), flush=True)
        if not cond:
            self.failures.append(what)
        return bool(cond)

    def exit_code(self):
        print(f"{'FAILED' if self.failures else 'passed'}: {len(self.failures)} failure(s)")
        return 1 if self.failures else 0


_OPENSEARCH_LINE = re.compile(r"opensearch: (\d+) batches \((\d+) failed\), (\d+) documents stored, (\d+) items "
                              r"retried, (\d+) dead-lettered, (\d+) requests \((\d+) retried, (\d+) split\)")


def opensearch_counters(stderr):
    """The counters of ctindex's OpenSearch sink from the line it logs when it closes; {} if none."""
    m = _OPENSEARCH_LINE.search(stderr)
    keys = ("batches", "batches_failed", "stored", "retried_items", "dead_lettered", "requests", "request_retries",
            "splits")
    return dict(zip(keys, map(int, m.groups()))) if m else {}


def _die_with_parent():
    """preexec_fn: SIGTERM the child when the test process dies, even by SIGKILL."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _stop_all():
    for child in list(_live):
        child.stop()


def _install_cleanup():
    if not getattr(_install_cleanup, "done", False):
        _install_cleanup.done = True
        atexit.register(_stop_all)
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def require_or_skip(modules=(), programs=()):
    """Exit 77 (ctest's "skipped") naming what is missing, when a module or program is absent."""
    import importlib.util
    import shutil
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    missing += [p for p in programs if not shutil.which(p)]
    if missing:
        print("skipped: needs " + ", ".join(missing))
        sys.exit(77)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Child:
    """A background process with a log file, stopped exactly once."""

    def __init__(self, argv, env=None, stdout=None):
        _install_cleanup()
        self.log = tempfile.NamedTemporaryFile(prefix="fake-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(argv, stdout=stdout or self.log, stderr=self.log, env=env,
                                     preexec_fn=_die_with_parent)
        _live.append(self)

    def log_text(self):
        with open(self.log.name, errors="replace") as handle:
            return handle.read()

    def stop(self):
        if self not in _live:
            return
        _live.remove(self)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
        os.unlink(self.log.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class FakeSearch(_Child):
    """fake_search.py on a free port.  Keyword arguments become command-line options
    (schema="f.json" -> --schema f.json; no_auth=True -> --no-auth)."""

    def __init__(self, timeout=START_BUDGET_S, **options):
        argv = [sys.executable, FAKE_SEARCH, "--port", "0"]
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                argv.append(flag)
            elif value not in (None, False):
                argv += [flag, str(value)]
        super().__init__(argv, stdout=subprocess.PIPE)
        self.port = self._wait_listening(timeout)
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{self.port}"

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline().decode().strip()
                if line.startswith("LISTENING "):
                    return int(line.split()[1])
                if not line and self.proc.poll() is not None:
                    break
        log = self.log_text()
        self.stop()
        raise RuntimeError(f"fake_search did not start:\n{log}")

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def fault(self, **spec):
        return self.control("POST", "/_fake/faults", spec)

    def accepted(self):
        return self.control("GET", "/_fake/accepted")

    def stats(self):
        return self.control("GET", "/_fake/stats")

    def mappings(self):
        return self.control("GET", "/_fake/mappings")

    def reset(self):
        return self.control("POST", "/_fake/reset", {})


class MotoServer(_Child):
    """moto_server on a port of its own choosing; no_auth_actions=N turns on SigV4 checks after N
    requests. raw_uri_signing=True verifies signatures against the raw request URI
    (moto_raw_uri.py): needed for requests whose query holds an encoded '/', such as ListObjectsV2
    with a delimiter."""

    _RUNNING_RE = re.compile(r"Running on http://127\.0\.0\.1:(\d+)")

    def __init__(self, no_auth_actions=None, region="us-east-1", timeout=START_BUDGET_S, raw_uri_signing=False):
        env = dict(os.environ)
        env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
        if no_auth_actions is not None:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(no_auth_actions)
        self.region = region
        command = [sys.executable, os.path.join(FAKES_DIR, "moto_raw_uri.py")] if raw_uri_signing else ["moto_server"]
        # Port 0: the kernel picks a port while binding it. (A port found free beforehand could be
        # taken by another test in between, and then this test would talk to that test's moto.)
        super().__init__(command + ["-H", "127.0.0.1", "-p", "0"], env=env)
        self.port = self._wait_ready(timeout)
        self.url = f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout):
        """The port moto (werkzeug) says it listens on, once it answers; an error if it exits."""
        deadline = time.monotonic() + timeout
        port = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            if port is None:
                m = self._RUNNING_RE.search(self.log_text())
                port = int(m.group(1)) if m else None
            if port is not None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=10) as response:
                        if response.status == 200:
                            return port
                except OSError:
                    pass
            time.sleep(0.1)
        log = self.log_text()
        self.stop()
        raise RuntimeError(f"moto_server did not start within {timeout} s (or exited):\n{log}")

    def client_kwargs(self, access_key="testing", secret_key="testing"):
        # A long read timeout: under load moto can take over botocore's default 60 s to answer (a
        # CloudFormation CreateStack builds every resource first), and botocore would then send
        # the request again (CreateStack: AlreadyExistsException).
        from botocore.config import Config
        return {"endpoint_url": self.url, "region_name": self.region,
                "aws_access_key_id": access_key, "aws_secret_access_key": secret_key,
                "config": Config(connect_timeout=60, read_timeout=START_BUDGET_S)}

    def trail(self, access_key, secret_key, folder, keys, bucket="trail", queue="ct", visibility=60):
        """A CloudTrail delivery setup: bucket with folder/KEY uploaded for every key, an SNS topic
        and an SQS queue subscribed to it. Returns (s3, sqs, sns clients, queue URL, topic ARN)."""
        import boto3
        kw = self.client_kwargs(access_key, secret_key)
        s3, sqs, sns = boto3.client("s3", **kw), boto3.client("sqs", **kw), boto3.client("sns", **kw)
        s3.create_bucket(Bucket=bucket)
        for k in keys:
            s3.upload_file(os.path.join(folder, k), bucket, k)
        q = sqs.create_queue(QueueName=queue, Attributes={"VisibilityTimeout": str(visibility)})["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        topic = sns.create_topic(Name=queue)["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
        return s3, sqs, sns, q, topic

    def create_admin_key(self, user="ctindex-test"):
        """Create an IAM user allowed "*" and return (access_key_id, secret_access_key)."""
        import boto3
        iam = boto3.client("iam", **self.client_kwargs())
        iam.create_user(UserName=user)
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName=user, PolicyName="allow-all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]


_sequence_lock = threading.Lock()
_sequence = itertools.count(1)


def next_sequence():
    """One counter for every proxy in the test process: exchanges of different peers compare."""
    with _sequence_lock:
        return next(_sequence)


class Exchange:
    """One request and its answer as they crossed a RecordingProxy.  req_seq is taken when the
    whole request had arrived (the client sent it before), seq when the answer came back from
    the peer, before the client gets it (anything the client does in reaction has a larger
    number)."""

    def __init__(self, req_seq, seq, method, path, headers, body, status, resp_headers, resp_body):
        self.req_seq, self.seq, self.method, self.path, self.headers = req_seq, seq, method, path, headers
        self.body = body
        self.status, self.resp_headers, self.resp_body = status, resp_headers, resp_body

    def header(self, name):
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class RecordingProxy:
    """Forwards every request byte for byte to 127.0.0.1:target_port (the Host header too, so
    SigV4 signatures still verify) and records the exchanges.  A peer that drops the
    connection makes the proxy drop the client's connection too.  hold() makes new requests
    wait before they are forwarded (held counts them) until hold(False); requests counts every
    request that arrived."""

    HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}

    def __init__(self, target_port):
        self.target_port = target_port
        self.lock = threading.Lock()
        self.exchanges = []
        self.active = self.max_active = 0
        self.requests = self.held = 0
        self.open_gate = threading.Event()
        self.open_gate.set()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with proxy.lock:
                    proxy.requests += 1
                    gated = not proxy.open_gate.is_set()
                    proxy.held += gated
                if gated:
                    proxy.open_gate.wait()
                    with proxy.lock:
                        proxy.held -= 1
                req_seq = next_sequence()
                with proxy.lock:
                    proxy.active += 1
                    proxy.max_active = max(proxy.max_active, proxy.active)
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=120)
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in self.headers.items():
                        conn.putheader(name, value)
                    conn.endheaders()
                    conn.send(body)
                    resp = conn.getresponse()
                    data = resp.read()
                    conn.close()
                except (OSError, http.client.HTTPException):
                    self.close_connection = True
                    return
                finally:
                    with proxy.lock:
                        proxy.active -= 1
                headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in proxy.HOP_BY_HOP]
                with proxy.lock:
                    proxy.exchanges.append(Exchange(req_seq, next_sequence(), self.command, self.path,
                                                    list(self.headers.items()), body, resp.status, headers, data))
                self.send_response(resp.status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return list(self.exchanges)

    def hold(self, on=True):
        if on:
            self.open_gate.clear()
        else:
            self.open_gate.set()

    def counts(self):
        """(requests that arrived, requests waiting at the gate now)."""
        with self.lock:
            return self.requests, self.held

    def close(self):
        self.open_gate.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sigv4_request(url, method="POST", body=b"", headers=None, *, service, region, access_key, secret_key,
                  session_token=None, extra_headers=None, omit_content_length=False):
    """Send one request signed by botocore's SigV4Auth; returns (status, headers dict, body bytes).

    headers are signed; extra_headers are added after signing (unsigned).  The request goes out
    through http.client exactly as signed, so tests control every byte on the wire."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(access_key, secret_key, session_token), service, region).add_auth(request)
    return raw_request(url, method, body, dict(request.headers.items()) | dict(extra_headers or {}),
                       omit_content_length=omit_content_length)


def raw_request(url, method="POST", body=b"", headers=None, omit_content_length=False, timeout=30):
    """Send a request with exactly these headers (plus Host; plus Content-Length unless omitted)."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + ("?" + parts.query if parts.query else "")
        conn.putrequest(method, target, skip_accept_encoding=True)
        headers = dict(headers or {})
        chunked = headers.get("Transfer-Encoding", "").lower() == "chunked"
        for name, value in headers.items():
            conn.putheader(name, value)
        if not omit_content_length and not chunked and "Content-Length" not in headers:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if chunked:
            conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n")
        elif body and not omit_content_length:
            conn.send(body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()
