#!/usr/bin/env python3
"""Prove the C signer against a verifying server: moto with INITIAL_NO_AUTH_ACTION_COUNT
checks SigV4 signatures (SignatureDoesNotMatch on a bad one) once the free calls are used.

Sends requests signed by `$CTINDEX_BUILD/test/test_sigv4 --sign ...` with urllib:
SQS JSON SendMessage, S3 PutObject / ranged GetObject / ListObjectsV2, with an IAM key
created in moto. Tampered requests must be rejected, so this test can fail.

moto 5 decodes the S3 path and query before recomputing the signature, so it rejects even
botocore's own signature for a key or query value that needs percent-encoding (checked by
hand: "a%20b%2Bc%C3%A9.gz" and "prefix=AWSLogs%2F1%2F" fail for both). Percent-encoding is
covered against botocore by test_sigv4_oracle.py; here the S3 key is a real CloudTrail key
shape that needs no encoding.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from urllib.parse import quote

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import fakelib  # noqa: E402

fakelib.require_or_skip(modules=("boto3",), programs=("moto_server",))
import boto3  # noqa: E402

BUILD = os.environ.get("CTINDEX_BUILD", "")
CLI = os.path.join(BUILD, "test", "test_sigv4")
if not BUILD or not os.access(CLI, os.X_OK):
    print(f"{CLI} not built (a build error, not a missing tool)")
    sys.exit(1)


def sign(method, url, service, body, creds, headers=()):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(body)
        path = f.name
    try:
        argv = [CLI, "--sign", method, url, service, "us-east-1", path, "--time", str(int(time.time()))]
        for k, v in headers:
            argv += ["--header", f"{k}: {v}"]
        env = dict(os.environ, AWS_ACCESS_KEY_ID=creds[0], AWS_SECRET_ACCESS_KEY=creds[1])
        env.pop("AWS_SESSION_TOKEN", None)
        out = subprocess.run(argv, env=env, capture_output=True, check=True).stdout.decode()
    finally:
        os.unlink(path)
    lines = dict(headers)
    for line in out.splitlines():
        k, _, v = line.partition(": ")
        lines[k] = v
    return lines


def send(method, url, headers, body):
    req = urllib.request.Request(url, data=body if method in ("POST", "PUT") else None, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    failures = []
    # fakelib's moto: started on a port of its own, waited for until it answers.
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        endpoint = moto.url
        creds = moto.create_admin_key()  # the 3 unauthenticated calls: an IAM user allowed everything
        authed = moto.client_kwargs(*creds)
        qurl = boto3.client("sqs", **authed).create_queue(QueueName="ct-test")["QueueUrl"]
        boto3.client("s3", **authed).create_bucket(Bucket="trail-bucket")

        def check(name, ok):
            print(("ok   " if ok else "FAIL ") + name)
            if not ok:
                failures.append(name)

        # SQS JSON protocol, signed by the C signer
        body = json.dumps({"QueueUrl": qurl, "MessageBody": "hello \u00e9"}).encode()
        h = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "AmazonSQS.SendMessage")]
        st, resp = send("POST", endpoint + "/", sign("POST", endpoint + "/", "sqs", body, creds, h), body)
        check(f"sqs SendMessage accepted ({st})", st == 200 and b"MessageId" in resp)

        # tampered body: same headers, different payload -> must be rejected
        st, resp = send("POST", endpoint + "/", sign("POST", endpoint + "/", "sqs", body, creds, h),
                        body.replace(b"hello", b"HELLO"))
        check(f"sqs tampered body rejected ({st})", st in (400, 403))
        # wrong secret -> SignatureDoesNotMatch
        st, resp = send("POST", endpoint + "/", sign("POST", endpoint + "/", "sqs", body, (creds[0], "wrong"), h), body)
        check(f"sqs wrong secret rejected ({st})", st in (400, 403) and b"Signature" in resp)

        # S3 PUT + ranged GET + list, signed with the S3 rules
        key_name = "AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/02/123456789012_CloudTrail_us-east-1_20240102T0005Z_Ab1.json.gz"
        url = f"{endpoint}/trail-bucket/{quote(key_name, safe='/~')}"
        data = b"\x1f\x8b payload bytes"
        st, _ = send("PUT", url, sign("PUT", url, "s3", data, creds, [("Content-Type", "application/octet-stream")]), data)
        check(f"s3 PutObject accepted ({st})", st == 200)
        st, got = send("GET", url, sign("GET", url, "s3", b"", creds, [("Range", "bytes=0-3")]), b"")
        check(f"s3 GetObject with Range accepted ({st})", st == 206 and got == data[:4])
        lurl = f"{endpoint}/trail-bucket?max-keys=10&list-type=2&fetch-owner"
        st, got = send("GET", lurl, sign("GET", lurl, "s3", b"", creds), b"")
        check(f"s3 ListObjectsV2 with query accepted ({st})", st == 200 and b"<KeyCount>1</KeyCount>" in got)
        bad = sign("GET", url, "s3", b"", creds)
        bad["Range"] = "bytes=0-3"  # header added after signing is not covered by the signature: still fine
        bad["X-Amz-Date"] = "20000101T000000Z"  # but a changed signed header is not
        st, _ = send("GET", url, bad, b"")
        check(f"s3 altered X-Amz-Date rejected ({st})", st in (400, 403))
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
