"""`ctindex run` end to end against moto (S3, SQS, SNS) with signature checks on.

CloudTrail-style notifications arrive on one queue in every shape ctindex understands (SNS
envelope from a real SNS subscription, raw delivery, S3 event notifications, EventBridge), plus
a test event, the validation message and a malformed body. ctindex must index every record of
every file once (dir sink), delete every message it handled, leave the malformed one for the
redrive policy, and exit 0 when the queue is drained."""
import glob
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))

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
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def corpus_ids(root):
    ids, keys = set(), []
    for path in sorted(glob.glob(os.path.join(root, "**", "*.json.gz"), recursive=True)):
        rel = os.path.relpath(path, root)
        keys.append(rel)
        if "CloudTrail-Digest" in rel:
            continue
        data = gzip.decompress(open(path, "rb").read())
        for rec in (json.loads(data) if data.strip() else {}).get("Records", []):
            if rec.get("eventID"):
                ids.add(rec["eventID"])
    return ids, keys


def indexed_ids(out):
    ids = []
    for path in sorted(glob.glob(os.path.join(out, "batch-*.json"))):
        ids.extend(d["id"] for d in json.load(open(path)))
    return ids


def main():
    tmp = tempfile.mkdtemp(prefix="ctindex-run-")
    try:
        corpus, out = os.path.join(tmp, "corpus"), os.path.join(tmp, "out")
        subprocess.run([os.path.join(BUILD, "bench", "ctgen"), "--out", corpus, "--files", "40", "--max-records",
                        "300", "--seed", "11", "--digest", "--accounts", "2", "--regions", "2"], check=True,
                       capture_output=True)
        ids, keys = corpus_ids(corpus)
        with fakelib.MotoServer(no_auth_actions=3) as moto:
            akid, secret = moto.create_admin_key()
            kw = moto.client_kwargs(akid, secret)
            s3, sqs, sns = boto3.client("s3", **kw), boto3.client("sqs", **kw), boto3.client("sns", **kw)
            s3.create_bucket(Bucket="trail")
            for k in keys:
                s3.upload_file(os.path.join(corpus, k), "trail", k)
            q = sqs.create_queue(QueueName="ct", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
            qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            topic = sns.create_topic(Name="ct")["TopicArn"]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
            logs = [k for k in keys if "/CloudTrail/" in k]
            digests = [k for k in keys if "CloudTrail-Digest" in k]
            # 1) through SNS, several keys per notification, digests mixed in
            chunks = [logs[i:i + 3] for i in range(0, 24, 3)]
            chunks[0] = chunks[0] + digests[:2]
            for c in chunks:
                sns.publish(TopicArn=topic, Message=json.dumps({"s3Bucket": "trail", "s3ObjectKey": c}))
            sns.publish(TopicArn=topic, Message="CloudTrail validation message.")
            rest = logs[24:]
            # 2) raw delivery
            for k in rest[:5]:
                sqs.send_message(QueueUrl=q, MessageBody=json.dumps({"s3Bucket": "trail", "s3ObjectKey": [k]}))
            # 3) S3 event notifications (keys URL-encoded)
            for k in rest[5:10]:
                body = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                     "s3": {"bucket": {"name": "trail"},
                                            "object": {"key": urllib.parse.quote_plus(k, safe="/"), "size": 1}}}]}
                sqs.send_message(QueueUrl=q, MessageBody=json.dumps(body))
            sqs.send_message(QueueUrl=q, MessageBody=json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}))
            # 4) EventBridge
            for k in rest[10:]:
                body = {"version": "0", "detail-type": "Object Created", "source": "aws.s3",
                        "detail": {"bucket": {"name": "trail"}, "object": {"key": k}}}
                sqs.send_message(QueueUrl=q, MessageBody=json.dumps(body))
            # 5) malformed: must stay in the queue
            sqs.send_message(QueueUrl=q, MessageBody="this is not a notification")

            env = dict(os.environ, AWS_ACCESS_KEY_ID=akid, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION="us-east-1",
                       AWS_ENDPOINT_URL=moto.url, AWS_EC2_METADATA_DISABLED="true")
            # One receiver: moto serves concurrent ReceiveMessage calls without locking and can hand one
            # message to both (real SQS is at-least-once too; documents are keyed by eventID).
            p = subprocess.run([BIN, "run", "--queue", q, "--sink", "dir:" + out, "--receivers", "1", "--wait", "1", "--exit-when-idle",
                                "3", "--stats-interval", "0", "--dead-letter", os.path.join(tmp, "dead.jsonl")],
                               env=env, capture_output=True, text=True, timeout=300)
            print(p.stderr[-3000:])
            check(p.returncode == 0, f"run exited {p.returncode}")
            got = indexed_ids(out)
            check(set(got) == ids, f"indexed {len(set(got))} of {len(ids)} eventIDs; missing "
                                   f"{sorted(ids - set(got))[:3]}, extra {sorted(set(got) - ids)[:3]}")
            check(len(got) == len(set(got)), "each record indexed once")
            check("not understood" in p.stderr, "the malformed message is reported")
            attrs = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["All"])["Attributes"]
            left = int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
            if left != 1:
                time.sleep(1)
                seen = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                           AttributeNames=["All"]).get("Messages", [])
                print("left in the queue:", [(m["Body"][:200], m["Attributes"]) for m in seen])
            check(left == 1, f"only the malformed message is left in the queue ({left})")

            # A wrong secret: the service cannot receive, says why, and a SIGTERM still stops it cleanly.
            bad_env = dict(env, AWS_SECRET_ACCESS_KEY="wrong" + secret)
            hport = fakelib.free_port()
            proc = subprocess.Popen([BIN, "run", "--queue", q, "--sink", "dir:" + os.path.join(tmp, "out2"),
                                     "--wait", "1", "--health-port", str(hport)], env=bad_env, stderr=subprocess.PIPE,
                                    text=True)
            health = None
            for _ in range(50):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{hport}/", timeout=2) as r:
                        health = (r.status, json.loads(r.read()))
                    break
                except Exception:
                    time.sleep(0.1)
            check(health is not None and health[0] == 200 and "receive_errors" in health[1],
                  f"health endpoint answers 200 with a status: {health}")
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.terminate()
            err = proc.communicate(timeout=30)[1]
            check(proc.returncode == 0, f"SIGTERM exits 0 ({proc.returncode})")
            check("SignatureDoesNotMatch" in err or "403" in err, "a bad secret is reported: " + err[-500:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
