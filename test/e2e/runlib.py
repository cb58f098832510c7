"""Shared pieces of the `ctindex run` end-to-end tests (not a test itself: the suite registers
test_*.py only). Importing it skips the test (exit 77) when boto3, moto or moto_server are
missing, and puts test/fakes on the path.

    import runlib
    from runlib import BIN, BUILD, fakelib
    corpus = runlib.Corpus(BUILD, tmp, files=40, seed=11, digest=True)   # ctgen files + their eventIDs
    stack = runlib.Stack(moto, akid, secret)   # bucket, queue (+ DLQ), SNS topic, all through boto3
    stack.upload(corpus)              # every file under its key
    stack.notify_all_shapes(keys)     # SNS envelope, raw, S3 event, EventBridge, test/validation
    runlib.run_env(moto, akid, secret)   # environment for ctindex: moto's key, endpoints
    runlib.stats_lines(stderr)        # the service's stats lines, parsed
    runlib.health(port), runlib.get(port, "/metrics"), runlib.sample(text, 'name{l="v"}')
    runlib.promtool_check(text)       # (ok, output) of `promtool check metrics`
    runlib.stop(proc)                 # SIGTERM, then wait (kill after a timeout)
    sys.exit(runlib.main(run, "prefix-"))   # run(tmp) in a fresh temporary folder, removed after

Everything here talks to 127.0.0.1 only."""
import glob
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
try:
    import boto3
    import fakelib
except ImportError as e:  # pragma: no cover
    print("skipped: needs boto3 and moto:", e)
    sys.exit(77)
if not shutil.which("moto_server"):
    print("skipped: moto_server not found")
    sys.exit(77)

BIN = os.environ["CTINDEX_BIN"]
BUILD = os.environ["CTINDEX_BUILD"]
__all__ = ["BIN", "BUILD", "boto3", "fakelib"]


def main(run, prefix, cleanup=None):
    """run(tmp) -> exit code, in a temporary folder that is removed afterwards (cleanup() too)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        return run(tmp)
    finally:
        if cleanup:
            cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


_children = []


def start(argv, env, log):
    """A child (ctindex run) with stderr into log; stop_children() kills what is left."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    _children.append(proc)
    return proc


def stop_children():
    """Whatever a failed check left running (the fakes stop themselves)."""
    for proc in _children:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def schema_file(tmp):
    """`ctindex schema` in a file, for the fake's --schema."""
    path = os.path.join(tmp, "schema.json")
    with open(path, "w") as f:
        f.write(subprocess.run([BIN, "schema"], check=True, capture_output=True, text=True).stdout)
    return path


def dir_ids(out):
    """Document ids of every SDF batch file a dir: sink wrote into out, in file order (a redelivered
    record appears twice)."""
    ids = []
    for path in sorted(glob.glob(os.path.join(out, "batch-*.json"))):
        ids.extend(d["id"] for d in json.load(open(path)))
    return ids


def file_records(path):
    """The records of one (gzip or plain) CloudTrail file; [] for a digest or an empty file."""
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if not data.strip():
        return []
    return json.loads(data).get("Records", [])


def file_ids(path):
    """eventIDs of one (gzip or plain) CloudTrail file; [] for a digest or an empty file."""
    return [r["eventID"] for r in file_records(path) if r.get("eventID")]


class Corpus:
    """A ctgen corpus: keys (relative paths) and the eventIDs of every log file."""

    def __init__(self, build, tmp, name="corpus", **options):
        self.root = os.path.join(tmp, name)
        argv = [os.path.join(build, "bench", "ctgen"), "--out", self.root]
        for key, value in options.items():
            argv += ["--" + key.replace("_", "-")] + ([] if value is True else [str(value)])
        subprocess.run(argv, check=True, capture_output=True)
        self.keys, self.ids_by_key = [], {}
        for path in sorted(glob.glob(os.path.join(self.root, "**", "*.json*"), recursive=True)):
            key = os.path.relpath(path, self.root)
            self.keys.append(key)
            self.ids_by_key[key] = [] if "CloudTrail-Digest" in key else file_ids(path)
        self.logs = [k for k in self.keys if "/CloudTrail/" in k]
        self.digests = [k for k in self.keys if "CloudTrail-Digest" in k]

    def ids(self, keys=None):
        return {i for k in (self.keys if keys is None else keys) for i in self.ids_by_key[k]}

    def path(self, key):
        return os.path.join(self.root, key)


class Stack:
    """Bucket "trail", queue "ct" (optionally with a DLQ "ct-dlq"), an SNS topic "ct" subscribed
    to the queue; another name gives "trail-NAME", "NAME", "NAME-dlq" and topic "NAME"."""

    def __init__(self, moto, akid, secret, visibility=60, max_receive=None, name="ct"):
        kw = moto.client_kwargs(akid, secret)
        self.s3, self.sqs, self.sns = boto3.client("s3", **kw), boto3.client("sqs", **kw), boto3.client("sns", **kw)
        self.moto, self.akid, self.secret = moto, akid, secret
        self.bucket = "trail" if name == "ct" else "trail-" + name
        self.s3.create_bucket(Bucket=self.bucket)
        attrs = {"VisibilityTimeout": str(visibility)}
        self.dlq = None
        if max_receive:
            self.dlq = self.sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
            dlq_arn = self.queue_arn(self.dlq)
            attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)})
        self.queue = self.sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        self.topic = self.sns.create_topic(Name=name)["TopicArn"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=self.queue_arn(self.queue))

    def queue_arn(self, url):
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def upload(self, corpus, keys=None):
        for k in corpus.keys if keys is None else keys:
            self.s3.upload_file(corpus.path(k), self.bucket, k)

    def put(self, key, data):
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    # --- notification shapes ---
    def cloudtrail_sns(self, keys):
        self.sns.publish(TopicArn=self.topic, Message=json.dumps({"s3Bucket": self.bucket, "s3ObjectKey": keys}))

    def cloudtrail_raw(self, keys):
        self.send(json.dumps({"s3Bucket": self.bucket, "s3ObjectKey": keys}))

    def cloudtrail_each(self, keys):
        """One raw CloudTrail notification per key, in order."""
        for k in keys:
            self.cloudtrail_raw([k])

    def s3_event(self, key):
        body = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                             "s3": {"bucket": {"name": self.bucket},
                                    "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": 1}}}]}
        self.send(json.dumps(body))

    def eventbridge(self, key):
        self.send(json.dumps({"version": "0", "detail-type": "Object Created", "source": "aws.s3",
                              "detail": {"bucket": {"name": self.bucket}, "object": {"key": key}}}))

    def send(self, body):
        self.sqs.send_message(QueueUrl=self.queue, MessageBody=body)

    def notify_all_shapes(self, logs, digests=()):
        """Announce every key of logs once, spread over all four shapes (several keys per SNS
        notification, digests mixed in), plus a validation message and an S3 test event.
        Returns the number of messages sent that name objects."""
        n = len(logs)
        q = max(1, n // 4)
        sns_part, raw_part, s3_part, eb_part = logs[:q], logs[q:2 * q], logs[2 * q:3 * q], logs[3 * q:]
        sent = 0
        for i in range(0, len(sns_part), 3):
            chunk = sns_part[i:i + 3] + (list(digests[:2]) if i == 0 else [])
            self.cloudtrail_sns(chunk)
            sent += 1
        for k in raw_part:
            self.cloudtrail_raw([k])
            sent += 1
        for k in s3_part:
            self.s3_event(k)
            sent += 1
        for k in eb_part:
            self.eventbridge(k)
            sent += 1
        self.sns.publish(TopicArn=self.topic, Message="CloudTrail validation message.")
        self.send(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": self.bucket}))
        return sent

    # --- queue state ---
    def counts(self, url=None):
        attrs = self.sqs.get_queue_attributes(QueueUrl=url or self.queue, AttributeNames=["All"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def peek(self, url=None, limit=100):
        """Bodies and attributes of what is visible in a queue, each message once (all made
        visible again afterwards)."""
        url = url or self.queue
        seen = {}
        while len(seen) < limit:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                           AttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])
            if not got:
                break
            for m in got:
                seen[m["MessageId"]] = m
        for m in seen.values():
            self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        return list(seen.values())

    def drain_dlq(self):
        """Every body in the DLQ (deleted as read)."""
        bodies = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                           VisibilityTimeout=30).get("Messages", [])
            if not got:
                return bodies
            for m in got:
                bodies.append(m["Body"])
                self.sqs.delete_message(QueueUrl=self.dlq, ReceiptHandle=m["ReceiptHandle"])


def run_env(moto, akid, secret, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=akid, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION="us-east-1",
               AWS_ENDPOINT_URL=moto.url, AWS_EC2_METADATA_DISABLED="true")
    env.update(extra)
    return env


STATS_RE = re.compile(r"\b(stats|final): (.*)$")
FIELD_RE = re.compile(r"([a-z_]+)=(-?[0-9]+(?:\.[0-9]+)?)")


def stats_lines(stderr):
    """[(kind, {name: number})] of the service's stats lines: 'stats' (periodic) or 'final'."""
    out = []
    for line in stderr.splitlines():
        m = STATS_RE.search(line)
        if m:
            out.append((m.group(1), {k: float(v) for k, v in FIELD_RE.findall(m.group(2))}))
    return out


def wait_for(pred, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def get(port, path, timeout=5):
    """(status, body text) of GET http://127.0.0.1:port/path; (None, error) when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return None, str(e)


def health(port):
    """(status, JSON object) of the health endpoint's GET /."""
    status, body = get(port, "/")
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"raw": body}


def sample(text, name):
    """The value of one sample of a Prometheus exposition, name with its labels as written
    ('ctindex_x_total{sink="cloudsearch"}'), or None."""
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def promtool_check(text):
    """(ok, output) of `promtool check metrics` on an exposition."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    return p.returncode == 0, p.stdout + p.stderr


def stop(proc, timeout=60):
    """SIGTERM a service started with Popen and wait for it (killed after timeout); its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
