"""`ctindex run` edge cases of work in flight, against moto (signatures and IAM policies checked)
and the strict fake CloudSearch endpoint:

1. Redelivery while in progress: the service's key may not change visibility (an IAM Deny), so
   its extensions fail and, with a sink slower than the 10 s visibility timeout, every message
   comes back to the same process while its records are still uploading. The service must keep
   the one piece of work (no second download), switch to the newest receipt handle, and still
   delete every message once the records are in.
2. A file that turns out malformed while the sink holds its input back: the splitter finds the
   error in input it kept while the indexer was full. The service must fail that object and
   retry its message (which then goes to the DLQ), not wait forever on a paused download.
   The place of the error is computed from the batch sizes `ctindex convert` produces, so the
   stall happens on the same record every time.
3. A sink that does not answer within the drain timeout: after SIGTERM the service gives every
   message in progress back (visible at once for another consumer) and exits 0."""
import glob
import gzip
import json
import os
import signal
import subprocess
import sys

import runlib
from runlib import BIN, BUILD, boto3, fakelib

check = fakelib.Checks()


def limited_key(moto, akid, secret, deny):
    """A second IAM user allowed everything but `deny`; returns its key."""
    iam = boto3.client("iam", **moto.client_kwargs(akid, secret))
    iam.create_user(UserName="limited")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                                     {"Effect": "Deny", "Action": deny, "Resource": "*"}]}
    iam.put_user_policy(UserName="limited", PolicyName="limited", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="limited")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def run(tmp):
    schema = runlib.schema_file(tmp)
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        redelivery(tmp, moto, akid, secret, schema)
        malformed_while_stalled(tmp, moto, akid, secret, schema)
        give_back_on_drain_timeout(tmp, moto, akid, secret, schema)
    return check.exit_code()


def redelivery(tmp, moto, akid, secret, schema):
    corpus = runlib.Corpus(BUILD, tmp, name="small", files=12, min_records=20, max_records=200, seed=51)
    stack = runlib.Stack(moto, akid, secret, visibility=30)
    stack.upload(corpus)
    stack.cloudtrail_each(corpus.logs)
    key, key_secret = limited_key(moto, akid, secret, "sqs:ChangeMessageVisibility*")
    with fakelib.FakeSearch(access_key=key, secret_key=key_secret, region="us-east-1", schema=schema) as fake:
        fake.fault(delay_ms=13000, count=1)  # the first upload outlasts the 10 s visibility timeout
        argv = [BIN, "run", "--queue", stack.queue, "--doc-endpoint", fake.url, "--region", "us-east-1",
                "--visibility", "10", "--receivers", "1", "--wait", "1", "--uploads", "1", "--exit-when-idle", "3",
                "--stats-interval", "0", "--dead-letter", os.path.join(tmp, "dead1.jsonl")]
        p = subprocess.run(argv, env=runlib.run_env(moto, key, key_secret), capture_output=True, text=True,
                           timeout=120)
        err = p.stderr
        print(err[-2500:])
        acc = set(fake.accepted()["cloudsearch"]["ids"])
        final = ([v for k, v in runlib.stats_lines(err) if k == "final"] or [{}])[0]
        check(p.returncode == 0, f"redelivery: exit 0 ({p.returncode})")
        check("received again while in progress" in err, "redelivery: the service saw its messages come back")
        check(final.get("duplicates", 0) >= 1 and final.get("errors", 0) >= 1,
              "redelivery: counted as duplicates, the refused extensions as errors", str(final))
        check(final.get("objects") == len(corpus.logs), f"redelivery: each file downloaded once "
                                                        f"({final.get('objects')} for {len(corpus.logs)})")
        check(acc == corpus.ids(), f"redelivery: every record accepted ({len(acc)} of {len(corpus.ids())})")
        check(stack.counts() == (0, 0), f"redelivery: every message deleted {stack.counts()}")
        check(final.get("deleted") == len(corpus.logs), "redelivery: deleted once each", str(final))


def batch_sizes(tmp, path):
    out = os.path.join(tmp, "converted")
    subprocess.run([BIN, "convert", path, "-o", out, "--no-progress", "--quiet"], check=True, capture_output=True)
    return [len(json.load(open(p))) for p in sorted(glob.glob(os.path.join(out, "batch-*.json")))]


def malformed_while_stalled(tmp, moto, akid, secret, schema):
    big = runlib.Corpus(BUILD, tmp, name="big", files=1, min_records=7000, max_records=7000, seed=41)
    records = json.loads(gzip.decompress(open(big.path(big.logs[0]), "rb").read()))["Records"]
    texts = [json.dumps(r, separators=(",", ":")) for r in records]
    good = os.path.join(tmp, "good.json")
    with open(good, "w") as f:
        f.write('{"Records":[' + ",".join(texts) + "]}")
    sizes = batch_sizes(tmp, good)
    # With one upload in flight the pool holds two batches: the record after both is refused
    # (the indexer is full) while the rest of its chunk waits in the splitter; the error sits
    # two records later, inside that kept input.
    refused = sizes[0] + sizes[1] if len(sizes) >= 3 else None
    check(refused is not None and refused + 2 < len(texts), f"malformed: batches of {sizes[:3]} documents")
    if refused is None:
        return
    bad = '{"Records":[' + ",".join(texts[:refused + 2]) + ", ### not JSON ###" + ",".join(texts[refused + 2:]) + "]}"
    stack = runlib.Stack(moto, akid, secret, visibility=30, max_receive=2, name="late")
    key = os.path.dirname(big.logs[0]) + "/malformed-late.json.gz"
    stack.put(key, gzip.compress(bad.encode()))
    stack.cloudtrail_raw([key])
    with fakelib.FakeSearch(access_key=akid, secret_key=secret, region="us-east-1", schema=schema) as fake:
        fake.fault(delay_ms=3000, count=4)
        argv = [BIN, "run", "--queue", stack.queue, "--doc-endpoint", fake.url, "--region", "us-east-1",
                "--receivers", "1", "--wait", "1", "--uploads", "1", "--linger-ms", "600000", "--retry-visibility", "1",
                "--exit-when-idle", "3", "--stats-interval", "0", "--dead-letter", os.path.join(tmp, "dead2.jsonl")]
        try:
            p = subprocess.run(argv, env=runlib.run_env(moto, akid, secret), capture_output=True, text=True,
                               timeout=90)
            rc, err = p.returncode, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, err = "timeout", (e.stderr or b"").decode(errors="replace")
        print(err[-2500:])
        check(rc == 0, f"malformed: the service does not hang, exit 0 ({rc})")
        check("expected an element of Records" in err, "malformed: the syntax error is reported")
        check("it will be retried" in err, "malformed: its message is retried")
        check(stack.drain_dlq() == [json.dumps({"s3Bucket": stack.bucket, "s3ObjectKey": [key]})],
              "malformed: the message ends in the DLQ")
        acc = set(fake.accepted()["cloudsearch"]["ids"])
        before = {r["eventID"] for r in records[:refused + 2]}
        check(before <= acc, f"malformed: the {len(before)} records before the error were accepted")



def give_back_on_drain_timeout(tmp, moto, akid, secret, schema):
    corpus = runlib.Corpus(BUILD, tmp, name="stuck", files=5, min_records=20, max_records=50, seed=61)
    stack = runlib.Stack(moto, akid, secret, visibility=30, name="stuck")
    stack.upload(corpus)
    stack.cloudtrail_each(corpus.logs)
    with fakelib.FakeSearch(access_key=akid, secret_key=secret, region="us-east-1", schema=schema) as fake:
        fake.fault(delay_ms=60000, count=10)
        log = os.path.join(tmp, "stuck.log")
        argv = [BIN, "run", "--queue", stack.queue, "--doc-endpoint", fake.url, "--region", "us-east-1",
                "--receivers", "1", "--wait", "1", "--stats-interval", "1", "--drain-timeout", "2",
                "--dead-letter", os.path.join(tmp, "dead3.jsonl")]
        with open(log, "w") as err_file:
            proc = subprocess.Popen(argv, env=runlib.run_env(moto, akid, secret), stderr=err_file)
        try:
            uploading = runlib.wait_for(lambda: fake.stats()["in_flight"] > 0 and stack.counts()[1] == 5, 30)
            check(uploading, "stuck: the upload is in flight, every message invisible")
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err = open(log, errors="replace").read()
        print(err[-1500:])
        check(rc == 0, f"stuck: exit 0 after the drain timeout ({rc})")
        check("giving back 5 message(s)" in err, "stuck: the drain timeout gives the messages back")
        check(stack.counts() == (5, 0), f"stuck: all five visible again at once {stack.counts()}")


if __name__ == "__main__":
    sys.exit(runlib.main(run, "ctindex-run-inflight-"))
