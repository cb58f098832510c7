#!/usr/bin/env python3
"""Compare ctindex's SigV4 signer with botocore on random requests.

Runs `$CTINDEX_BUILD/test/test_sigv4 --sign METHOD URL SERVICE REGION BODYFILE --time T
--header 'N: v'...` and checks that its Authorization header (and the other added lines)
equal what botocore's SigV4Auth / S3SigV4Auth produce for the same request. Random paths
carry spaces, unicode, reserved characters, dot segments and double slashes; queries carry
duplicate keys, empty values and encoded bytes; bodies are random bytes.
Seed: SIGV4_ORACLE_SEED (default fixed, so failures reproduce); count: SIGV4_ORACLE_N (50).
"""
import datetime
import hashlib
import os
import random
import subprocess
import sys
import tempfile
from unittest import mock
from urllib.parse import quote

try:
    import botocore.auth as auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    print("botocore not installed: skip")
    sys.exit(77)

BUILD = os.environ.get("CTINDEX_BUILD", "")
CLI = os.path.join(BUILD, "test", "test_sigv4")
if not BUILD or not os.access(CLI, os.X_OK):
    print(f"{CLI} not built (a build error, not a missing tool)")
    sys.exit(1)

SEED = int(os.environ.get("SIGV4_ORACLE_SEED", "20150830"))
N = int(os.environ.get("SIGV4_ORACLE_N", "50"))
rng = random.Random(SEED)

SEGMENT_CHARS = (
    "abcXYZ019-_.~ " + "!$&'()*+,;=:@" + "%" + "\u00fc\u00e9\u1234\U0001F600"
)


def rand_segment():
    roll = rng.random()
    if roll < 0.08:
        return "."
    if roll < 0.16:
        return ".."
    if roll < 0.22:
        return ""
    return "".join(rng.choice(SEGMENT_CHARS) for _ in range(rng.randint(1, 12)))


def rand_path(s3):
    segs = [rand_segment() for _ in range(rng.randint(0, 6))]
    if s3:
        # S3 keys: drop segments that only make sense for normalisation tests half the time
        segs = [s for s in segs if s not in (".", "..")] if rng.random() < 0.5 else segs
    raw = "/" + "/".join(segs)
    if rng.random() < 0.2:
        raw += "/"
    # The wire path is encoded once (as an SDK serializer does for a key or path param).
    return quote(raw, safe="/~")


def rand_token():
    chars = "abcdefgKLMN0123-_.~ +=&/%\u00e9"
    return "".join(rng.choice(chars) for _ in range(rng.randint(0, 8)))


def rand_query():
    if rng.random() < 0.3:
        return ""
    pairs = []
    keys = [rand_token() or "k" for _ in range(rng.randint(1, 4))]
    for _ in range(rng.randint(1, 6)):
        k = quote(rng.choice(keys), safe="-_.~")
        v = quote(rand_token(), safe="-_.~")
        roll = rng.random()
        if roll < 0.15:
            pairs.append(k)  # bare key
        else:
            pairs.append(f"{k}={v}")
    return "&".join(pairs)


def rand_header_value():
    words = ["".join(rng.choice("abcXYZ012\"';,=/") for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(1, 4))]
    out = ""
    for w in words:
        out += rng.choice([" ", "  ", "\t", "   "]) + w
    return out + rng.choice(["", " ", "  "])


def rand_headers():
    hdrs = []
    if rng.random() < 0.5:
        hdrs.append(("Content-Type", rng.choice(["application/json", "application/x-amz-json-1.0"])))
    if rng.random() < 0.4:
        hdrs.append(("X-Amz-Target", "AmazonSQS.ReceiveMessage"))
    if rng.random() < 0.4:
        hdrs.append(("User-Agent", "ctindex/0.1 test"))  # never signed
    for _ in range(rng.randint(0, 3)):
        name = rng.choice(["X-Custom-A", "x-custom-b", "X-CUSTOM-A", "My-Header"])
        hdrs.append((name, rand_header_value()))
    return hdrs


def rand_host():
    return rng.choice([
        ("https", "sqs.us-east-1.amazonaws.com"),
        ("https", "Example.AmazonAWS.com"),
        ("https", "doc-ct-abcdef.eu-west-1.cloudsearch.amazonaws.com:443"),
        ("http", "localhost:4566"),
        ("http", "127.0.0.1:80"),
    ])


def botocore_sign(method, url, headers, body, service, region, creds, when, s3):
    req = AWSRequest(method=method, url=url, data=body)
    for k, v in headers:
        req.headers[k] = v
    cls = auth.S3SigV4Auth if s3 else auth.SigV4Auth
    signer = cls(Credentials(*creds), service, region)
    with mock.patch.object(auth, "get_current_datetime", return_value=when):
        signer.add_auth(req)
    return req.headers


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(N):
            service = rng.choice(["s3", "s3", "sqs", "cloudsearch", "es", "service"])
            s3 = service == "s3"
            region = rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2"])
            method = rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD"])
            scheme, host = rand_host()
            path = rand_path(s3)
            query = rand_query()
            url = f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
            headers = rand_headers()
            body = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 0, 1, 100, 5000])))
            token = "FwoGZXIvYXdzE" + "".join(rng.choice("ABCdef0123+/=") for _ in range(rng.randint(10, 400))) \
                if rng.random() < 0.4 else None
            creds = ("AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
                     "".join(rng.choice("abcdefXYZ0123456789/+") for _ in range(40)), token)
            epoch = rng.randint(946684800, 2051222400)
            when = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(tzinfo=None)

            want = botocore_sign(method, url, headers, body, service, region, creds, when, s3)
            bodyfile = os.path.join(tmp, f"body{i}")
            with open(bodyfile, "wb") as f:
                f.write(body)
            env = dict(os.environ, AWS_ACCESS_KEY_ID=creds[0], AWS_SECRET_ACCESS_KEY=creds[1])
            env.pop("AWS_SESSION_TOKEN", None)
            if token:
                env["AWS_SESSION_TOKEN"] = token
            argv = [CLI, "--sign", method, url, service, region, bodyfile, "--time", str(epoch)]
            for k, v in headers:
                argv += ["--header", f"{k}:{v}"]
            res = subprocess.run(argv, env=env, capture_output=True)
            got = {}
            for line in res.stdout.decode().splitlines():
                k, _, v = line.partition(": ")
                got[k.lower()] = v
            expect = {"authorization": want["Authorization"], "x-amz-date": want["X-Amz-Date"]}
            if token:
                expect["x-amz-security-token"] = token
            if s3:
                expect["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
            if res.returncode != 0 or got != expect:
                failures += 1
                print(f"MISMATCH #{i} seed={SEED}: {method} {url!r} service={service} headers={headers!r}")
                print(f"  botocore: {expect}")
                print(f"  ctindex : {got} rc={res.returncode} {res.stderr.decode().strip()}")
    print(f"{N - failures}/{N} random requests signed identically to botocore (seed {SEED})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
