#!/usr/bin/env python3
"""S3 and SQS clients (src/aws/s3.c, src/aws/sqs.c) against moto, through test/drivers/drive_aws.

moto #1 verifies SigV4 signatures (INITIAL_NO_AUTH_ACTION_COUNT=3, spent on an admin key): every
driver call there is signature-checked. Proven: GetObject byte-exact (a 5 MB object streamed with
pauses), ListObjectsV2 pagination over 1100 keys, delimiter and start-after, NoSuchKey/NoSuchBucket,
SendMessage(Batch)/ReceiveMessage bodies exact, ChangeMessageVisibilityBatch and DeleteMessageBatch
effects (checked with boto3), per-entry failures on HTTP 200, SignatureDoesNotMatch with a wrong
secret, and the AWS_ENDPOINT_URL / _S3 / _SQS overrides.

moto 5.2.1 verifies S3 signatures against its own re-quoting of the URL, which differs from AWS's
UriEncode: in the path for '+', '=', '&', '%', ',', ':', '@', '$', ';' and non-ASCII, in the query
for '/' (%2F) and the same sub-delimiters. boto3 itself gets SignatureDoesNotMatch there (keys like
"a+b", ListObjectsV2 with Prefix="x/"). So on moto #1 the prefixes and keys avoid those characters,
and keys/prefixes/delimiters with them are tested on moto #2, without signature checks
(test_sigv4_oracle.py proves the signer on such URLs against botocore). moto #2 also serves the
EC2 metadata endpoint (IMDSv2) for the credential-chain test.
"""
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("CTINDEX_BUILD", "")
DRIVER = os.path.join(BUILD, "test", "drive_aws")
if not BUILD or not os.access(DRIVER, os.X_OK):
    print(f"{DRIVER} not built (a build error, not a missing tool)")
    sys.exit(1)
if not shutil.which("moto_server"):
    print("moto_server not installed: skip")
    sys.exit(77)
try:
    import boto3
except ImportError:
    print("boto3 not installed: skip")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.environ.get("CTINDEX_TEST_DIR", os.path.join(os.path.dirname(__file__), "..")),
                                "fakes"))
import fakelib  # noqa: E402

check = fakelib.Checks()
TMP = tempfile.mkdtemp(prefix="ctindex-aws-moto-")


def base_env(**extra):
    """A clean environment: no inherited AWS settings, no ~/.aws, so only what the test sets counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=TMP, AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    env.update(extra)
    return env


def run(env, *args, timeout=120):
    """Run the driver; returns (exit code, list of JSON lines, stderr)."""
    p = subprocess.run([DRIVER, *args], env=env, capture_output=True, timeout=timeout)
    lines = []
    for raw in p.stdout.decode("utf-8", "replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            print("driver printed a non-JSON line:", raw[:200])
    return p.returncode, lines, p.stderr.decode("utf-8", "replace")


def error_of(lines):
    for line in lines:
        if "error" in line:
            return line["error"]
    return {}


def get_object(env, bucket, key):
    out = os.path.join(TMP, "object.out")
    if os.path.exists(out):
        os.unlink(out)
    rc, lines, err = run(env, "get", bucket, key, out)
    data = open(out, "rb").read() if os.path.exists(out) else None
    info = next((line["get"] for line in lines if "get" in line), None)
    return rc, data, info, lines, err


def list_keys(env, bucket, prefix, *more):
    rc, lines, err = run(env, "list", bucket, prefix, *more)
    keys = [(line["key"], line["size"]) for line in lines if "key" in line]
    prefixes = [line["prefix"] for line in lines if "prefix" in line]
    summary = next((line["list"] for line in lines if "list" in line), None)
    return rc, keys, prefixes, summary, lines, err


def signed_moto_tests():
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        s3 = boto3.client("s3", **moto.client_kwargs(akid, secret))
        sqs = boto3.client("sqs", **moto.client_kwargs(akid, secret))
        env = base_env(AWS_ACCESS_KEY_ID=akid, AWS_SECRET_ACCESS_KEY=secret, AWS_ENDPOINT_URL=moto.url)

        # ---- S3 data ----
        bucket = "ctindex-signed"
        s3.create_bucket(Bucket=bucket)
        big = os.urandom(5 * 1024 * 1024 + 123)
        objects = {"plain.txt": b"hello\n", "dir/with space ~tilde.txt": os.urandom(1000), "big/obj.bin": big,
                   "empty.txt": b"", "with space ~tilde": b"12345"}
        for key, body in objects.items():
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        many = {f"many-k{i:04d}": (b"x" * (i % 7)) for i in range(1100)}
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), many.items()))
        print(f"     (uploaded 1100 objects in {time.monotonic() - started:.1f} s)")

        # ---- GetObject, signature-checked, byte-exact, with pauses ----
        for key, body in objects.items():
            rc, data, info, lines, err = get_object(env, bucket, key)
            check(rc == 0 and data == body and info and info["bytes"] == len(body),
                  f"get {key!r}: {len(body)} bytes exact (rc={rc} {error_of(lines) or ''})")
        rc, data, info, _, _ = get_object(env, bucket, "big/obj.bin")
        check(info is not None and info["pauses"] >= 10,
              f"5 MB get paused the stream and resumed ({info and info['pauses']} pauses), still byte-exact")

        out = os.path.join(TMP, "cancelled.out")
        rc, lines, err = run(env, "getcancel", bucket, "big/obj.bin", out)
        e = error_of(lines)
        got = next((line["get_failed"]["bytes"] for line in lines if "get_failed" in line), -1)
        check(rc == 2 and e.get("code") == "Cancelled" and e.get("result") == "cancelled" and
              0 < got < len(big) and os.path.getsize(out) == got and len(lines) == 2,
              f"get cancelled from its data callback: on_done once with Cancelled after {got} bytes")

        rc, data, info, lines, _ = get_object(env, bucket, "no/such key")
        e = error_of(lines)
        check(rc == 2 and e.get("code") == "NoSuchKey" and e.get("status") == 404 and e.get("attempts") == 1,
              f"missing key: NoSuchKey 404, not retried ({e})")
        rc, keys, _, _, lines, _ = list_keys(env, "ctindex-no-such-bucket", "")
        e = error_of(lines)
        check(rc == 2 and e.get("code") == "NoSuchBucket" and e.get("status") == 404, f"missing bucket: NoSuchBucket ({e})")

        # ---- ListObjectsV2 ----
        rc, keys, prefixes, summary, lines, err = list_keys(env, bucket, "many-", "100")
        check(rc == 0 and keys == sorted((k, len(v)) for k, v in many.items()),
              f"list many- with max-keys 100: all 1100 keys with sizes, in order (got {len(keys)}) {error_of(lines)}")
        check(summary == {"pages": 11, "objects": 1100}, f"list many-: 11 pages ({summary})")
        rc, keys, prefixes, summary, _, _ = list_keys(env, bucket, "many-", "0", "", "many-k1095")
        check(rc == 0 and [k for k, _ in keys] == ["many-k1096", "many-k1097", "many-k1098", "many-k1099"],
              f"start-after many-k1095: the last 4 keys ({[k for k, _ in keys]})")
        rc, keys, _, _, _, _ = list_keys(env, bucket, "with space ~")
        check(rc == 0 and keys == [("with space ~tilde", 5)], f"prefix with a space and '~' ({keys})")
        rc, keys, _, summary, _, _ = list_keys(env, bucket, "")
        check(rc == 0 and len(keys) == 1100 + len(objects) and summary["pages"] == 2,
              f"whole bucket with default max-keys: {len(keys)} keys in 2 pages ({summary})")

        # ---- wrong credentials ----
        wrong = dict(env, AWS_SECRET_ACCESS_KEY=secret[:-1] + ("A" if secret[-1] != "A" else "B"))
        rc, _, _, _, lines, _ = list_keys(wrong, bucket, "")
        e = error_of(lines)
        check(rc == 2 and e.get("code") == "SignatureDoesNotMatch" and e.get("status") == 403,
              f"S3 list with a wrong secret: SignatureDoesNotMatch ({e.get('code')})")
        rc, _, _, lines, _ = get_object(wrong, bucket, "plain.txt")
        check(rc == 2 and error_of(lines).get("code") == "SignatureDoesNotMatch",
              "S3 get with a wrong secret: SignatureDoesNotMatch")
        unknown = dict(env, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE")
        rc, _, _, _, lines, _ = list_keys(unknown, bucket, "")
        check(rc == 2 and error_of(lines).get("code") == "InvalidAccessKeyId",
              f"S3 list with an unknown key id: InvalidAccessKeyId ({error_of(lines).get('code')})")

        # ---- SQS ----
        queue = sqs.create_queue(QueueName="ctindex-q", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
        bodies = ['{"Type":"Notification","Message":"{\\"s3Bucket\\":\\"b\\"}"}',
                  "tab\there, newline\nthere, quote \" backslash \\ unicode \u00fc\u20ac\U0001F600",
                  "x" * 1000]
        rc, lines, err = run(env, "send", queue, bodies[0])
        check(rc == 0 and lines and len(lines[0].get("message_id", "")) > 0, f"SendMessage: a MessageId ({lines} {err[-300:]})")
        rc, lines, err = run(env, "sendbatch", queue, bodies[1], bodies[2])
        check(rc == 0 and [line.get("ok") for line in lines if "entry" in line] == [True, True],
              f"SendMessageBatch: 2 entries sent ({lines})")
        big_body = ("\u00e9t\u00e9 " * 40000)[:150000]
        with open(os.path.join(TMP, "body.txt"), "w", encoding="utf-8") as f:
            f.write(big_body)
        rc, lines, err = run(env, "send", queue, "@" + os.path.join(TMP, "body.txt"))
        check(rc == 0, f"SendMessage of {len(big_body.encode())} bytes ({lines} {err[-300:]})")
        bodies.append(big_body)

        before = time.time() * 1000
        rc, lines, err = run(env, "receive", queue, "10", "1", "600")
        got = [line for line in lines if "handle" in line]
        check(rc == 0 and sorted(m["body"] for m in got) == sorted(bodies),
              f"ReceiveMessage: the 4 bodies exactly ({len(got)} messages) {error_of(lines)}")
        check(all(m["count"] == 1 for m in got), "ApproximateReceiveCount is 1")
        check(all(abs(m["sent"] - before) < 300000 for m in got), "SentTimestamp is epoch ms of about now")
        by_body = {m["body"]: m for m in got}
        if len(by_body) != 4:
            return
        visible = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        check(visible == [], "all 4 messages are in flight (visibility 600 s from the receive)")

        h0 = by_body[bodies[0]]["handle"]
        rc, lines, err = run(env, "visibility", queue, "0", h0)
        check(rc == 0 and [line.get("ok") for line in lines if "entry" in line] == [True],
              f"ChangeMessageVisibilityBatch to 0 ({lines})")
        visible = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                      VisibilityTimeout=600).get("Messages", [])
        check([m["Body"] for m in visible] == [bodies[0]], "boto3 now receives exactly that message")

        handles = [by_body[b]["handle"] for b in bodies[1:]] + ["not-a-receipt-handle"]
        rc, lines, err = run(env, "delete", queue, *handles)
        entries = [line for line in lines if "entry" in line]
        check(rc == 0 and [e["ok"] for e in entries] == [True, True, True, False],
              f"DeleteMessageBatch: 3 deleted, the bogus handle failed on HTTP 200 ({entries})")
        check(entries and entries[-1]["code"] == "ReceiptHandleIsInvalid" and entries[-1]["sender_fault"],
              "the failed entry carries ReceiptHandleIsInvalid, SenderFault")
        attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        check(attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "1",
              f"only the message boto3 holds is left ({attrs['ApproximateNumberOfMessages']} visible, "
              f"{attrs['ApproximateNumberOfMessagesNotVisible']} in flight)")

        started = time.monotonic()
        rc, lines, err = run(env, "receive", queue, "10", "2")
        waited = time.monotonic() - started
        check(rc == 0 and lines == [{"received": 0}] and waited >= 1.5,
              f"empty long poll: no messages after {waited:.1f} s of a 2 s wait")

        rc, lines, _ = run(env, "queueurl", "ctindex-q")
        check(rc == 0 and lines == [{"queue_url": queue}], f"GetQueueUrl ({lines})")
        rc, lines, _ = run(env, "queueurl", "ctindex-missing")
        e = error_of(lines)
        check(rc == 2 and e.get("code") == "QueueDoesNotExist" and
              e.get("query_error") == "AWS.SimpleQueueService.NonExistentQueue;Sender",
              f"missing queue: QueueDoesNotExist with the legacy query error ({e})")
        rc, lines, _ = run(wrong, "receive", queue, "1")
        e = error_of(lines)
        check(rc == 2 and e.get("code") == "SignatureDoesNotMatch" and e.get("status") == 403,
              f"SQS with a wrong secret: SignatureDoesNotMatch ({e.get('code')})")
        rc, lines, _ = run(env, "receive", queue, "11")
        check(rc == 2 and error_of(lines).get("code") == "NotStarted", "receive of 11 messages is refused")

        # ---- endpoint overrides ----
        refusing = fakelib.RefusingPort()  # lives as long as the test
        dead = refusing.url
        only_s3 = base_env(AWS_ACCESS_KEY_ID=akid, AWS_SECRET_ACCESS_KEY=secret, AWS_ENDPOINT_URL=dead,
                           AWS_ENDPOINT_URL_S3=moto.url)
        rc, keys, _, _, _, _ = list_keys(only_s3, bucket, "plain")
        check(rc == 0 and keys == [("plain.txt", 6)], "AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL for S3")
        rc, lines, _ = run(only_s3, "queueurl", "ctindex-q")
        check(rc == 2 and error_of(lines).get("result") == "connect",
              f"... and SQS goes to AWS_ENDPOINT_URL (dead port: {error_of(lines).get('result')})")
        only_sqs = base_env(AWS_ACCESS_KEY_ID=akid, AWS_SECRET_ACCESS_KEY=secret, AWS_ENDPOINT_URL=dead,
                            AWS_ENDPOINT_URL_SQS=moto.url)
        rc, lines, _ = run(only_sqs, "queueurl", "ctindex-q")
        check(rc == 0 and lines == [{"queue_url": queue}], "AWS_ENDPOINT_URL_SQS wins over AWS_ENDPOINT_URL for SQS")
        rc, _, _, _, lines, _ = list_keys(only_sqs, bucket, "plain")
        check(rc == 2 and error_of(lines).get("result") == "connect", "... and S3 goes to AWS_ENDPOINT_URL")
        # The request goes to the endpoint, whatever host the queue URL names.
        elsewhere = queue.replace(moto.url, dead)
        rc, lines, _ = run(only_sqs, "send", elsewhere, "routed by the endpoint")
        check(rc == 0 and "message_id" in (lines[0] if lines else {}),
              f"SQS calls go to the endpoint, not the queue URL's host ({lines})")


def unsigned_moto_tests():
    with fakelib.MotoServer() as moto:
        s3 = boto3.client("s3", **moto.client_kwargs())
        bucket = "ctindex-keys"
        s3.create_bucket(Bucket=bucket)
        objects = {"a b+c=d~e/\u00fc.txt": b"special", "x&y<z>.txt": b"xml", "eq=1&x=2": b"query-like",
                   "tilde~": b"~", "plus+plus": b"++", "pct%41%": b"percent", "emoji/\U0001F600.bin": os.urandom(3000),
                   "comma,colon:at@dollar$semi;": b"subdelims", "tree/a/1": b"1", "tree/a/2": b"22",
                   "tree/b/1": b"333", "tree/top": b"4444"}
        for key, body in objects.items():
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        env = base_env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_ENDPOINT_URL=moto.url)
        rc, keys, _, _, lines, err = list_keys(env, bucket, "")
        check(rc == 0 and keys == sorted((k, len(v)) for k, v in objects.items()),
              f"special keys listed exactly (URL-decoded, '+' stays '+'): {keys} {err[-300:]}")
        for key, body in objects.items():
            rc, data, info, lines, _ = get_object(env, bucket, key)
            check(rc == 0 and data == body, f"get {key!r} byte-exact {error_of(lines) or ''}")
        rc, keys, _, _, _, _ = list_keys(env, bucket, "a b+c=d~e/")
        check(rc == 0 and [k for k, _ in keys] == ["a b+c=d~e/\u00fc.txt"], f"prefix with ' ', '+', '=', '/' ({keys})")
        rc, keys, prefixes, summary, _, _ = list_keys(env, bucket, "tree/", "0", "/")
        check(rc == 0 and keys == [("tree/top", 4)] and prefixes == ["tree/a/", "tree/b/"],
              f"delimiter '/': one key and two common prefixes ({keys} {prefixes})")
        rc, keys, _, summary, _, _ = list_keys(env, bucket, "", "2", "", "comma")
        check(rc == 0 and [k for k, _ in keys] == [k for k in sorted(objects) if k > "comma"] and summary["pages"] == 6,
              f"start-after 'comma' and max-keys 2 over special keys ({summary})")

        # ---- credentials from moto's EC2 metadata endpoint (IMDSv2) ----
        imds = base_env(AWS_ENDPOINT_URL=moto.url, AWS_EC2_METADATA_SERVICE_ENDPOINT=moto.url)
        del imds["AWS_EC2_METADATA_DISABLED"]
        rc, lines, err = run(imds, "creds")
        check(rc == 0 and lines and lines[0]["creds"]["ok"] and lines[0]["creds"]["fetches"] >= 1,
              f"no keys in the environment: credentials from IMDS ({lines} {err[-300:]})")
        rc, keys, _, _, lines, err = list_keys(imds, bucket, "tilde")
        check(rc == 0 and keys == [("tilde~", 1)], f"list signed with the IMDS credentials ({lines})")
        log = moto.log_text()
        check("PUT /latest/api/token" in log, "moto saw the IMDSv2 token PUT")
        check("GET /latest/meta-data/iam/security-credentials/" in log, "moto saw the role and credential GETs")
        disabled = dict(imds, AWS_EC2_METADATA_DISABLED="true")
        rc, lines, _ = run(disabled, "creds")
        check(rc == 2 and lines and not lines[0]["creds"]["ok"], "IMDS disabled and no keys: no credentials")
        imds_key_is_used_for_signing(moto.url)


def imds_key_is_used_for_signing(imds_url):
    """A third moto checking every signature: the IMDS key (moto's fixed "test-key") is unknown to its IAM."""
    with fakelib.MotoServer(no_auth_actions=0) as moto:
        env = base_env(AWS_ENDPOINT_URL=moto.url, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds_url)
        del env["AWS_EC2_METADATA_DISABLED"]
        rc, _, _, _, lines, _ = list_keys(env, "any-bucket", "")
        e = error_of(lines)
        check(rc == 2 and e.get("code") == "InvalidAccessKeyId",
              f"with signature checks, the IMDS key id is what signed the request ({e.get('code')})")


def wrong_region_tests():
    """A bucket in another region: S3 answers 301 PermanentRedirect (region in x-amz-bucket-region) or
    400 AuthorizationHeaderMalformed (region only in the body). moto does not do this, so a tiny
    server plays S3 here, answering by the region in the request's credential scope."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            auth = self.headers.get("Authorization", "")
            if "/eu-west-1/s3/aws4_request" in auth:
                body, status, headers = b"object in eu-west-1", 200, {}
            elif self.path.startswith("/header-bucket/"):
                body = (b"<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must "
                        b"be addressed using the specified endpoint.</Message><Endpoint>s3.eu-west-1.amazonaws.com"
                        b"</Endpoint></Error>")
                status, headers = 301, {"x-amz-bucket-region": "eu-west-1"}
            elif self.path.startswith("/body-bucket/"):
                body = (b"<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region 'us-east-1' is wrong; "
                        b"expecting 'eu-west-1'</Message><Region>eu-west-1</Region></Error>")
                status, headers = 400, {}
            else:
                body = b"<Error><Code>PermanentRedirect</Code><Message>elsewhere</Message></Error>"
                status, headers = 301, {}
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = base_env(AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
                       AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{server.server_address[1]}")
        for bucket in ("header-bucket", "body-bucket"):
            rc, data, info, lines, err = get_object(env, bucket, "k")
            check(rc == 0 and data == b"object in eu-west-1" and info["bucket_region"] == "eu-west-1" and
                  info["attempts"] == 2 and "is in region eu-west-1" in err,
                  f"{bucket}: wrong region reported and the get repeated in eu-west-1 ({info} {lines})")
        rc, data, info, lines, err = get_object(env, "nowhere-bucket", "k")
        e = error_of(lines)
        check(rc == 2 and e.get("code") == "PermanentRedirect" and e.get("bucket_region") == "" and
              "without naming its region" in err, f"301 without a region: reported as such ({e})")
    finally:
        server.shutdown()
        server.server_close()


try:
    signed_moto_tests()
    unsigned_moto_tests()
    wrong_region_tests()
finally:
    shutil.rmtree(TMP, ignore_errors=True)

sys.exit(check.exit_code())
