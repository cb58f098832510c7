#!/usr/bin/env python3
"""End-to-end test of bench/fakeaws (the benchmark's fake S3 + SQS + CloudSearch + _bulk),
driven with boto3 and raw sockets. Exits non-zero on the first failure."""
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

BUILD = os.environ.get("CTINDEX_BUILD", "build")
BIN = os.path.join(BUILD, "bench", "fakeaws")
LOAD = os.path.join(BUILD, "bench", "fakeaws_load")
BUCKET = "ct-bucket"
QUEUE = "ct-queue"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import fakelib  # noqa: E402

check = fakelib.Checks()


def make_tree(root):
    """CloudTrail-like objects plus awkward keys; returns {key: bytes}."""
    rnd = random.Random(7)
    objs = {}
    for i in range(23):
        key = ("AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/%02d/"
               "123456789012_CloudTrail_us-east-1_202401%02dT%02d00Z_abc%02d.json.gz" % (1 + i % 3, 1 + i % 3, i, i))
        records = {"Records": [{"eventID": "id-%d-%d" % (i, j), "eventName": "GetObject"} for j in range(5)]}
        objs[key] = gzip.compress(json.dumps(records).encode())
    objs["odd keys/a b+c&d.txt"] = b"plus & space\n"
    objs["big/blob.bin"] = bytes(rnd.getrandbits(8) for _ in range(3 * 1024 * 1024 + 17))
    for key, data in objs.items():
        path = os.path.join(root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return objs


def start(args):
    proc = subprocess.Popen([BIN] + args, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
    line = proc.stdout.readline()
    if not line.startswith("LISTENING "):
        proc.kill()
        raise SystemExit("fakeaws did not start: %r" % line)
    return proc, int(line.split()[1])


def clients(port):
    kw = dict(endpoint_url="http://127.0.0.1:%d" % port, region_name="us-east-1",
              aws_access_key_id="AKIDFAKE", aws_secret_access_key="fake",
              config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
    return boto3.client("s3", **kw), boto3.client("sqs", **kw)


def raw_http(port, data, nresp=1, timeout=5):
    """Send raw bytes, return the raw responses (read until nresp complete responses)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    got = b""
    out = []
    while len(out) < nresp:
        end = got.find(b"\r\n\r\n")
        if end >= 0:
            head = got[:end].decode("latin-1")
            clen = 0
            for line in head.split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    clen = int(v)
            total = end + 4 + (0 if head.startswith("HTTP/1.1 100") else clen)
            if len(got) >= total:
                if not head.startswith("HTTP/1.1 100"):
                    out.append((head, got[end + 4:total]))
                got = got[total:]
                continue
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        got += chunk
    s.close()
    return out


def test_s3(port, s3, objs):
    keys = sorted(objs, key=lambda k: k.encode())
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, PaginationConfig={"PageSize": 10}))
    listed = [o["Key"] for p in pages for o in p.get("Contents", [])]
    check(len(pages) == 3, "list paginates 25 keys in pages of 10 (got %d pages)" % len(pages))
    check(listed == keys, "list returns every key once, in byte order")
    sizes = {o["Key"]: o["Size"] for p in pages for o in p["Contents"]}
    check(sizes["big/blob.bin"] == len(objs["big/blob.bin"]), "list reports sizes")
    etag = [o["ETag"] for p in pages for o in p["Contents"] if o["Key"] == "odd keys/a b+c&d.txt"][0]
    check(etag == '"%s"' % hashlib.md5(objs["odd keys/a b+c&d.txt"]).hexdigest(), "ETag is the quoted MD5")

    pre = "AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/02/"
    r = s3.list_objects_v2(Bucket=BUCKET, Prefix=pre)
    check([o["Key"] for o in r["Contents"]] == [k for k in keys if k.startswith(pre)] and r["KeyCount"] == 8,
          "prefix filter (8 keys)")
    after = [k for k in keys if k.startswith(pre)][3]
    r = s3.list_objects_v2(Bucket=BUCKET, Prefix=pre, StartAfter=after)
    check([o["Key"] for o in r["Contents"]] == [k for k in keys if k.startswith(pre) and k > after],
          "start-after skips up to and including the key")
    r = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/")
    check([p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["AWSLogs/", "big/", "odd keys/"]
          and "Contents" not in r, "delimiter groups common prefixes")
    r = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/", MaxKeys=2)
    r2 = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/", ContinuationToken=r["NextContinuationToken"])
    check([p["Prefix"] for p in r["CommonPrefixes"]] == ["AWSLogs/", "big/"] and r["IsTruncated"]
          and [p["Prefix"] for p in r2["CommonPrefixes"]] == ["odd keys/"] and not r2["IsTruncated"],
          "delimiter pagination resumes after a common prefix")

    exact = all(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() == objs[k] for k in keys)
    check(exact, "get_object returns every object byte-exact")
    r = s3.get_object(Bucket=BUCKET, Key="big/blob.bin", Range="bytes=100-199")
    check(r["Body"].read() == objs["big/blob.bin"][100:200] and r["ContentRange"].endswith("/%d" % len(objs["big/blob.bin"])),
          "ranged GET returns the slice (206)")
    h = s3.head_object(Bucket=BUCKET, Key="big/blob.bin")
    check(h["ContentLength"] == len(objs["big/blob.bin"]), "head_object has the length")
    try:
        s3.get_object(Bucket=BUCKET, Key="no/such/key")
        check(False, "missing key is 404 NoSuchKey")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "NoSuchKey", "missing key is 404 NoSuchKey")
    try:
        s3.get_object(Bucket="other-bucket", Key="x")
        check(False, "other bucket is NoSuchBucket")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "NoSuchBucket", "other bucket is NoSuchBucket")

    # Virtual-host style and in-order pipelining on one connection, over raw sockets.
    k = "odd keys/a b+c&d.txt"
    q = urllib.parse.quote(k)
    req = ("GET /%s HTTP/1.1\r\nHost: %s.s3.localhost:%d\r\n\r\n" % (q, BUCKET, port)).encode()
    req += ("GET /%s/%s HTTP/1.1\r\nHost: x\r\n\r\n" % (BUCKET, q)).encode()
    req += ("GET /%s/big/blob.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % BUCKET).encode()
    resp = raw_http(port, req, 3)
    check(len(resp) == 3 and resp[0][1] == objs[k] and resp[1][1] == objs[k] and resp[2][1] == objs["big/blob.bin"]
          and "application/octet-stream" in resp[0][0], "virtual-host GET and 3 pipelined GETs answered in order")


def envelope_keys(body):
    env = json.loads(body)
    assert env["Type"] == "Notification" and "TopicArn" in env
    msg = json.loads(env["Message"])  # Message is a JSON string
    assert msg["s3Bucket"] == BUCKET
    return msg["s3ObjectKey"]


def test_sqs(port, s3, sqs, objs):
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    check(url.endswith("/" + QUEUE), "get_queue_url")
    try:
        sqs.get_queue_url(QueueName="nope")
        check(False, "unknown queue is QueueDoesNotExist")
    except ClientError as e:
        check("QueueDoesNotExist" in e.response["Error"]["Code"] or "NonExistentQueue" in e.response["Error"]["Code"],
              "unknown queue is QueueDoesNotExist (%s)" % e.response["Error"]["Code"])

    got = []
    while True:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                MessageSystemAttributeNames=["All"])
        if not r.get("Messages"):
            break
        got += r["Messages"]
        check(len(r["Messages"]) <= 10, "at most 10 messages per receive")
    check(len(got) == 13, "25 objects at 2 keys per notification = 13 messages (got %d)" % len(got))
    keys = []
    ok = True
    for m in got:
        try:
            keys += envelope_keys(m["Body"])
        except Exception as e:  # noqa: BLE001 - report any parse problem as a failure
            ok = False
            print("bad body", e, m["Body"][:200])
        ok = ok and m["Attributes"]["ApproximateReceiveCount"] == "1"
        ok = ok and m["MD5OfBody"] == hashlib.md5(m["Body"].encode()).hexdigest()
    check(ok, "bodies are CloudTrail SNS envelopes; MD5OfBody matches; receive count 1")
    check(sorted(keys) == sorted(objs), "notifications name every object exactly once")
    st = stats(port)
    check(st["messages"]["in_flight"] == 13 and st["messages"]["visible"] == 0, "stats: 13 in flight")

    # Change visibility to 0 on two: they come back at once with receive count 2.
    r = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": got[1]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "c", "ReceiptHandle": "garbage", "VisibilityTimeout": 0}])
    check(sorted(e["Id"] for e in r["Successful"]) == ["a", "b"] and r["Failed"][0]["Code"] == "ReceiptHandleIsInvalid",
          "change_message_visibility_batch: 2 ok, bad handle fails")
    r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1,
                            MessageSystemAttributeNames=["ApproximateReceiveCount"])
    again = r.get("Messages", [])
    check(sorted(m["MessageId"] for m in again) == sorted([got[0]["MessageId"], got[1]["MessageId"]])
          and all(m["Attributes"]["ApproximateReceiveCount"] == "2" for m in again),
          "messages made visible again are redelivered with ApproximateReceiveCount 2")
    # Visibility timeout expiry (1 s) makes them visible again; count goes to 3.
    r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    check(not r.get("Messages"), "in-flight messages are not delivered before the timeout")
    time.sleep(1.3)
    r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, AttributeNames=["All"])
    third = r.get("Messages", [])
    check(len(third) == 2 and all(m["Attributes"]["ApproximateReceiveCount"] == "3" for m in third),
          "visibility timeout expiry redelivers; ApproximateReceiveCount 3")

    # A stale receipt handle "succeeds" but does not delete (documented SQS behaviour).
    r = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "old", "ReceiptHandle": again[0]["ReceiptHandle"]}])
    check(len(r["Successful"]) == 1 and stats(port)["messages"]["deleted"] == 0, "stale handle deletes nothing")

    latest = {m["MessageId"]: m["ReceiptHandle"] for m in got}
    latest.update({m["MessageId"]: m["ReceiptHandle"] for m in third})
    handles = list(latest.values())
    for i in range(0, len(handles), 10):
        r = sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "m%d" % j, "ReceiptHandle": h}
                                                            for j, h in enumerate(handles[i:i + 10])])
        check(len(r["Successful"]) == len(handles[i:i + 10]) and not r.get("Failed"), "delete_message_batch")
    try:
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "x", "ReceiptHandle": h} for h in handles[:2]])
        check(False, "duplicate batch ids are rejected")
    except ClientError as e:
        check("BatchEntryIdsNotDistinct" in e.response["Error"]["Code"], "duplicate batch ids are rejected")
    st = stats(port)["messages"]
    check(st["deleted"] == 13 and st["in_flight"] == 0 and st["visible"] == 0, "stats: all 13 deleted")

    # Long poll on an empty queue ends at the wait time with no messages.
    t0 = time.time()
    r = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    dt = time.time() - t0
    check(not r.get("Messages") and 0.9 <= dt < 2.5, "empty long poll returns after ~1 s (%.2f s)" % dt)

    # Long poll returns early when a message is sent.
    result = {}

    def poll():
        t = time.time()
        result["r"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
        result["dt"] = time.time() - t

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    _, sqs2 = clients(port)
    sent = sqs2.send_message(QueueUrl=url, MessageBody='{"hello": "w\u00f6rld\\n"}')
    th.join(15)
    msgs = result.get("r", {}).get("Messages", [])
    check(len(msgs) == 1 and msgs[0]["Body"] == '{"hello": "w\u00f6rld\\n"}' and result["dt"] < 2.0
          and msgs[0]["MessageId"] == sent["MessageId"],
          "long poll returns early with the sent message (%.2f s)" % result.get("dt", -1))
    check(sent["MD5OfMessageBody"] == hashlib.md5('{"hello": "w\u00f6rld\\n"}'.encode()).hexdigest(),
          "send_message MD5OfMessageBody")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
    r = sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "s1", "MessageBody": "one"},
                                                      {"Id": "s2", "MessageBody": "two"}])
    check(sorted(e["Id"] for e in r["Successful"]) == ["s1", "s2"], "send_message_batch")
    r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    check(sorted(m["Body"] for m in r.get("Messages", [])) == ["one", "two"], "batch-sent messages are received")
    sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "d%d" % i, "ReceiptHandle": m["ReceiptHandle"]}
                                                    for i, m in enumerate(r["Messages"])])
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    check(a["ApproximateNumberOfMessages"] == "0" and a["ApproximateNumberOfMessagesNotVisible"] == "0",
          "get_queue_attributes: queue empty")


def stats(port):
    head, body = raw_http(port, b"GET /_fake/stats HTTP/1.1\r\nHost: x\r\n\r\n")[0]
    return json.loads(body)


def test_sinks(port):
    cs = boto3.client("cloudsearchdomain", endpoint_url="http://127.0.0.1:%d" % port, region_name="us-east-1",
                      aws_access_key_id="AKIDFAKE", aws_secret_access_key="fake")
    docs = [{"type": "add", "id": "e%d" % i, "fields": {"event_name": "x", "raw": '{"type":"add"} \\" "type"'}}
            for i in range(3)]
    docs.append({"type": "delete", "id": "old"})
    r = cs.upload_documents(documents=json.dumps(docs).encode(), contentType="application/json")
    check(r["status"] == "success" and r["adds"] == 3 and r["deletes"] == 1,
          "cloudsearchdomain upload_documents: adds 3, deletes 1 (got %s/%s)" % (r.get("adds"), r.get("deletes")))
    body = json.dumps([{"type": "add", "id": "a%d" % i, "fields": {"f": i}} for i in range(500)],
                      separators=(",", ":")).encode()
    r = cs.upload_documents(documents=body, contentType="application/json")
    check(r["adds"] == 500, "compact batch of 500 adds counted")
    try:
        cs.upload_documents(documents=b'{"type":"add"}', contentType="application/json")
        check(False, "non-array batch is rejected")
    except ClientError as e:
        check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, "non-array batch is rejected with 400")

    bulk = ('{"index":{"_index":"ct","_id":"a1"}}\n{"x":1}\n{"create":{"_id":"a2"}}\n{"x":2}\n'
            '{"delete":{"_index":"ct","_id":"a0"}}\n').encode()
    head, rbody = raw_http(port, b"POST /ct/_bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                           b"Content-Length: %d\r\n\r\n" % len(bulk) + bulk)[0]
    r = json.loads(rbody)
    items = r["items"]
    check(r["errors"] is False and [list(i)[0] for i in items] == ["index", "create", "delete"]
          and [list(i.values())[0]["status"] for i in items] == [201, 201, 200]
          and [list(i.values())[0]["_id"] for i in items] == ["a1", "a2", "a0"]
          and items[1]["create"]["_index"] == "ct", "_bulk: 3 items with statuses 201, 201, 200")

    st = stats(port)
    check(st["documents_accepted"] == 3 + 500 + 2 and st["deletes_accepted"] == 2 and st["batches"] == 3,
          "stats count documents (505), deletes (2) and batches (3)")
    check(st["requests"]["cloudsearch_batch"] == 3 and st["requests"]["opensearch_bulk"] == 1,
          "stats count requests by kind")


def test_http_limits(port):
    # 100-continue: the server must say "100 Continue" before the body is sent.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    body = b'[{"type":"add","id":"x","fields":{"a":1}}]'
    s.sendall(b"POST /2013-01-01/documents/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
    first = s.recv(100)
    s.sendall(body)
    rest = b""
    while b'"adds":1' not in rest:
        chunk = s.recv(4096)
        if not chunk:
            break
        rest += chunk
    s.close()
    check(first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n") and b'"adds":1' in first + rest,
          "Expect: 100-continue is answered, then the batch")
    r = raw_http(port, b"POST /_bulk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    check(r and r[0][0].startswith("HTTP/1.1 411"), "chunked upload is rejected with 411")
    r = raw_http(port, b"GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
    check(r and r[0][0].startswith("HTTP/1.1 431"), "header block over 64 KiB is rejected with 431")
    r = raw_http(port, b"POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Length: 17000000\r\n\r\n")
    check(r and r[0][0].startswith("HTTP/1.1 413"), "body over 16 MiB is rejected with 413")
    r = raw_http(port, b"GARBAGE\r\n\r\n")
    check(r and r[0][0].startswith("HTTP/1.1 400"), "malformed request line is rejected with 400")
    r = raw_http(port, b"POST /2013-01-01/documents/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n")
    check(r and r[0][0].startswith("HTTP/1.1 411"), "CloudSearch batch without Content-Length is 411")


def test_garbage(port):
    """Mutated and truncated requests must never crash the server (ASan build in ctest)."""
    rnd = random.Random(11)
    open_before = stats(port)["connections"]["open"]  # boto3 keeps pooled connections open
    def post(path, body, target=None):
        head = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" % path
        if target:
            head += "X-Amz-Target: AmazonSQS.%s\r\n" % target
        return (head + "Content-Length: %d\r\n\r\n" % len(body)).encode() + body

    q = b'"QueueUrl":"http://h/0/ct-queue"'
    seeds = [
        b"GET /%s/big/blob.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=5-9\r\n\r\n" % BUCKET.encode(),
        b"GET /%s?list-type=2&prefix=a%%2F&max-keys=3&continuation-token=k6162&delimiter=/ HTTP/1.1\r\nHost: x\r\n\r\n"
        % BUCKET.encode(),
        post("/", b'{' + q + b',"Entries":[{"Id":"a","ReceiptHandle":"AQEB000000000000000100000000"}]}',
             "DeleteMessageBatch"),
        post("/", b'{' + q + b',"Entries":[{"Id":"a","ReceiptHandle":"x","VisibilityTimeout":5}]}',
             "ChangeMessageVisibilityBatch"),
        post("/", b'{' + q + b',"MessageBody":"\\u00e9\\n"}', "SendMessage"),
        post("/", b'{' + q + b',"MaxNumberOfMessages":2,"AttributeNames":["All"]}', "ReceiveMessage"),
        post("/_bulk", b'{"index":{"_id":"a\\"b"}}\n{"a":1}\n{"delete":{"_id":"c"}}\n'),
        post("/2013-01-01/documents/batch", b'[{"type": "add", "id": "a", "fields": {"x": 1}}]'),
    ]
    for i in range(300):
        data = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randint(1, 4)):
            if not data:
                break
            op = rnd.randint(0, 3)
            pos = rnd.randrange(len(data))
            if op == 0:
                data[pos] = rnd.randrange(256)
            elif op == 1:
                del data[pos:pos + rnd.randint(1, 8)]
            elif op == 2:
                data[pos:pos] = rnd.choice([b"%", b"\\", b'"', b"\r\n", b"\x00", b"9999999", b"-", b"{", b"]"])
            else:
                data = data[:pos]
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(bytes(data))
            s.shutdown(socket.SHUT_WR)
            s.recv(1 << 16)
            s.close()
        except OSError:
            pass
    # A client that disconnects while its long poll is parked.
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    body = b'{"QueueUrl":"http://h/0/ct-queue","WaitTimeSeconds":5}'
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.ReceiveMessage\r\nContent-Length: %d\r\n\r\n"
              % len(body) + body)
    time.sleep(0.2)
    s.close()
    time.sleep(0.2)
    st = stats(port)
    check(st["requests"]["bad"] > 0 and st["connections"]["open"] == open_before,
          "300 mutated requests and a vanished long poll: server alive, connections closed")


def test_drained(objs):
    """--notify s3 --repeat 2 --exit-when-drained: consume everything, the server exits by itself."""
    d = tempfile.mkdtemp(prefix="fakeaws-drain-")
    proc = None
    try:
        make_small = {"a/one.json.gz": b"1", "a/two words+plus.json.gz": b"22"}
        for k, v in make_small.items():
            os.makedirs(os.path.join(d, os.path.dirname(k)), exist_ok=True)
            with open(os.path.join(d, k), "wb") as f:
                f.write(v)
        ready = os.path.join(d, "ready")
        proc, port = start(["--port", "0", "--dir", os.path.join(d, "a"), "--bucket", BUCKET, "--queue", QUEUE,
                            "--notify", "s3", "--repeat", "2", "--exit-when-drained", "--ready-file", ready])
        with open(ready) as f:
            check(int(f.read().strip()) == port, "--ready-file holds the port")
        _, sqs = clients(port)
        url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
        keys = []
        raw_keys = []
        handles = []
        while True:
            r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            if not r.get("Messages"):
                break
            for m in r["Messages"]:
                ev = json.loads(m["Body"])["Records"][0]
                assert ev["eventSource"] == "aws:s3" and ev["s3"]["bucket"]["name"] == BUCKET
                raw_keys.append(ev["s3"]["object"]["key"])
                keys.append(urllib.parse.unquote_plus(ev["s3"]["object"]["key"]))
                handles.append(m["ReceiptHandle"])
        check(sorted(keys) == sorted(["one.json.gz", "two words+plus.json.gz"] * 2),
              "S3 event notifications (URL-encoded keys), each object twice with --repeat 2")
        check("two+words%2Bplus.json.gz" in raw_keys, "S3 event key is form-encoded (space '+', plus '%2B')")
        for h in handles:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=h)
        try:
            out, _ = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            out = ""
        check(proc.returncode == 0, "--exit-when-drained exits 0 once every message is deleted")
        st = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
        check(st.get("messages", {}).get("deleted") == 4 and st["messages"]["received"] == 4,
              "final stats printed on stdout (4 received, 4 deleted)")
    finally:
        if proc and proc.poll() is None:
            proc.kill()
        shutil.rmtree(d, ignore_errors=True)


def test_load(port):
    """fakeaws_load, the load generator: a short run against the fake, and a request head over
    its 4 KB bound refused (it used to write past its head buffer and leak the body)."""
    r = subprocess.run([LOAD, "--port", str(port), "--post", "/2013-01-01/documents/batch", "--body-bytes", "2000",
                        "--conns", "2", "--duration", "1"], capture_output=True, text=True, timeout=60)
    m = re.search(r"requests=(\d+) errors=(\d+)", r.stdout)
    check(r.returncode == 0 and m and int(m.group(1)) > 0 and m.group(2) == "0",
          "fakeaws_load: a 1 s run of uploads, no errors", r.stdout + r.stderr)
    r = subprocess.run([LOAD, "--port", str(port), "--post", "/2013-01-01/documents/batch", "--body-bytes", "100",
                        "--header", "X-Long: " + "a" * 5000], capture_output=True, text=True, timeout=60)
    check(r.returncode == 2 and "longer than 4 KB" in r.stderr and "Sanitizer" not in r.stderr,
          "fakeaws_load: a request head over 4 KB is refused (exit 2)", r.stderr[-2000:])


def main():
    if not os.path.exists(BIN):
        print("fakeaws binary not built:", BIN)
        return 1
    d = tempfile.mkdtemp(prefix="fakeaws-")
    proc = None
    try:
        objs = make_tree(d)
        proc, port = start(["--port", "0", "--dir", d, "--bucket", BUCKET, "--queue", QUEUE, "--batch-objects", "2"])
        s3, sqs = clients(port)
        test_s3(port, s3, objs)
        test_sqs(port, s3, sqs, objs)
        test_sinks(port)
        test_http_limits(port)
        test_garbage(port)
        test_load(port)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
        check(proc.returncode == 0, "SIGTERM: exit code 0")
        st = json.loads(out.strip().splitlines()[-1])
        check(st["objects_served"] >= 27 and st["bytes_served"] >= 2 * len(objs["big/blob.bin"]),
              "SIGTERM prints final stats (objects/bytes served)")
        proc = None
        test_drained(objs)
    finally:
        if proc:
            proc.kill()
        shutil.rmtree(d, ignore_errors=True)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
