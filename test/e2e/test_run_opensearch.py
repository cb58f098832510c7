"""End to end: `ctindex run --sink opensearch:http://127.0.0.1:PORT/ct-%Y.%m.%d` against moto (S3 + SQS +
SNS, SigV4 checked by moto) and the strict fake `_bulk` (SigV4 `es` checked) with partial item failures
injected: 429 and 503 items, rejected ids, a 503 answer and a dropped connection.

Two recording proxies (fakelib.RecordingProxy, one counter for both) sit in front of SQS and of the
fake, so the test sees, in one order, every ReceiveMessage answer, every bulk item outcome and
every DeleteMessageBatch request. It proves the acknowledgement rule (README.md, `ctindex run`) for this sink:
  * a message is deleted only after every record of every log file it names was accepted by the
    fake or refused for good (dead-lettered): its final bulk answers come before the delete;
  * every message is deleted exactly once, except a malformed one, which stays in the queue;
  * every eventID is accepted exactly once (items refused with 429/503 are sent again alone), the
    rejected ones are not accepted and are in the dead-letter file with the reason and the S3 source."""
import glob
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
import fakelib  # noqa: E402

fakelib.require_or_skip(modules=("boto3",), programs=("moto_server",))

BIN = os.environ["CTINDEX_BIN"]
BUILD = os.environ["CTINDEX_BUILD"]
check = fakelib.Checks()


def corpus_records(root):
    """key -> [eventID, ...] for every object to upload (digests have none)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(root, "**", "*.json.gz"), recursive=True)):
        key = os.path.relpath(path, root)
        data = gzip.decompress(open(path, "rb").read())
        recs = [] if "CloudTrail-Digest" in key else json.loads(data).get("Records", [])
        out[key] = [r["eventID"] for r in recs]
    return out


def keys_of(body):
    """The S3 keys a message names (SNS envelope or S3 event notification); [] for other messages."""
    try:
        msg = json.loads(body)
    except ValueError:
        return None
    if msg.get("Type") == "Notification":
        try:
            inner = json.loads(msg["Message"])
        except ValueError:
            return []  # "CloudTrail validation message."
        return list(inner.get("s3ObjectKey", []))
    if "Records" in msg:
        return [urllib.parse.unquote_plus(r["s3"]["object"]["key"]) for r in msg["Records"]]
    return []


def sqs_events(proxy):
    """receipt -> message body, and receipt -> [delete request numbers]."""
    bodies, deletes = {}, {}
    for ex in proxy.snapshot():
        target = ex.header("X-Amz-Target") or ""
        if target.endswith("ReceiveMessage") and ex.status == 200:
            for m in json.loads(ex.resp_body).get("Messages", []):
                bodies[m["ReceiptHandle"]] = m["Body"]
        elif target.endswith("DeleteMessageBatch") and ex.status == 200:
            answered = {e["Id"] for e in json.loads(ex.resp_body).get("Successful", [])}
            for entry in json.loads(ex.body)["Entries"]:
                if entry["Id"] in answered:
                    deletes.setdefault(entry["ReceiptHandle"], []).append(ex.req_seq)
    return bodies, deletes


def bulk_outcomes(proxy):
    """eventID -> (number of the first final answer, [statuses]); final = accepted or refused for good."""
    out = {}
    for ex in proxy.snapshot():
        if not ex.path.endswith("_bulk") or ex.status != 200:
            continue
        for item in json.loads(ex.resp_body)["items"]:
            (result,) = item.values()
            first, statuses = out.setdefault(result["_id"], (None, []))
            statuses.append(result["status"])
            final = result["status"] < 300 or not (result["status"] == 429 or result["status"] >= 500)
            if final and first is None:
                out[result["_id"]] = (ex.seq, statuses)
    return out


def publish(moto, akid, secret, corpus, by_key):
    """Bucket, queue and topic in moto, every object uploaded, one notification per log file or
    group of them in every shape CloudTrail setups send. Returns (sqs client, queue URL,
    number of notifications that name log files)."""
    logs = sorted(k for k in by_key if "/CloudTrail/" in k)
    digests = sorted(k for k in by_key if "CloudTrail-Digest" in k)
    _, sqs, sns, q, topic = moto.trail(akid, secret, corpus, sorted(by_key), queue="ct-os", visibility=120)
    half = len(logs) // 2
    chunks = [logs[i:min(i + 3, half)] for i in range(0, half, 3)]
    chunks[0] += digests[:2]
    for c in chunks:  # CloudTrail's own notifications through SNS, several keys each
        sns.publish(TopicArn=topic, Message=json.dumps({"s3Bucket": "trail", "s3ObjectKey": c}))
    sns.publish(TopicArn=topic, Message="CloudTrail validation message.")
    for k in logs[half:]:  # S3 event notifications, keys URL-encoded
        body = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                             "s3": {"bucket": {"name": "trail"},
                                    "object": {"key": urllib.parse.quote_plus(k, safe="/"), "size": 1}}}]}
        sqs.send_message(QueueUrl=q, MessageBody=json.dumps(body))
    sqs.send_message(QueueUrl=q, MessageBody="this is not a notification")
    return sqs, q, len(chunks) + 1 + len(logs) - half


def run_service(moto, sqs_proxy, os_proxy, akid, secret, queue, dead_path):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=akid, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION="us-east-1",
               AWS_ENDPOINT_URL=moto.url, AWS_ENDPOINT_URL_SQS=sqs_proxy.url, AWS_EC2_METADATA_DISABLED="true")
    # One receiver: moto can hand one message to concurrent receivers (see test_run_moto.py).
    p = subprocess.run([BIN, "run", "--queue", queue, "--sink",
                        f"opensearch:http://127.0.0.1:{os_proxy.port}/ct-%Y.%m.%d,auth=sigv4",
                        "--receivers", "1", "--wait", "1", "--exit-when-idle", "3", "--stats-interval", "0",
                        "--linger-ms", "300", "--dead-letter", dead_path],
                       env=env, capture_output=True, text=True, timeout=300)
    print(p.stderr[-2500:])
    check(p.returncode == 0, f"run exited {p.returncode}")
    return p


def check_documents(fake, outcomes, all_ids, rejected, stderr):
    acc = fake.accepted()["opensearch"]
    good = [i for i in all_ids if i not in rejected]
    check(sorted(acc["ids"]) == sorted(good) and acc["adds"] == len(good),
          f"every eventID accepted exactly once ({len(acc['ids'])} ids, {acc['adds']} adds, {len(good)} expected)")
    twice = [i for i, (_, st) in outcomes.items() if sum(s < 300 for s in st) != (0 if i in rejected else 1)]
    check(not twice, f"no document stored twice or never ({twice[:3]})")
    fired = fake.stats()["faults_fired"]
    check(fired.get("bulk_item") == 50 and fired.get("status") == 1 and fired.get("reset") == 1,
          f"every injected fault fired ({fired})")
    retried = [i for i, (_, st) in outcomes.items() if any(s in (429, 503) for s in st)]
    check(len(retried) >= 40 and all(outcomes[i][1][-1] < 300 for i in retried),
          f"items refused with 429/503 were sent again and stored ({len(retried)})")
    st = fakelib.opensearch_counters(stderr)
    check(st and (st["batches_failed"], st["stored"], st["retried_items"], st["dead_lettered"]) ==
          (0, len(good), 50, len(rejected)), f"sink counters: {st or stderr[-300:]}")
    check(fake.stats()["auth_failures"] == 0, "the fake verified every SigV4 signature")


def check_dead_letters(dead_path, rejected):
    dead = [json.loads(line) for line in open(dead_path)] if os.path.exists(dead_path) else []
    dead_by_id = {json.loads(r["data"].split("\n")[0])["index"]["_id"]: r for r in dead if r.get("kind") == "document"}
    check(set(dead_by_id) == set(rejected), f"the rejected ids are dead-lettered ({len(dead_by_id)}/{len(rejected)})")
    wrong = [(r["source"], r["reason"]) for i, r in dead_by_id.items()
             if "HTTP 400 mapper_parsing_exception" not in r["reason"] or "reject_ids" not in r["reason"]
             or r["source"] != "s3://trail/" + rejected[i]]
    check(not wrong, "dead letters carry the reason and the S3 source", wrong[:2])


def check_messages(sqs_proxy, outcomes, by_key, expected, sqs, queue):
    bodies, deletes = sqs_events(sqs_proxy)
    malformed = [r for r, b in bodies.items() if keys_of(b) is None]
    named = {r: keys_of(b) for r, b in bodies.items() if keys_of(b) is not None}
    check(len(named) == expected and len(malformed) >= 1, f"all {expected} notifications received once "
                                                          f"({len(named)})")
    check(sum(len(by_key[k]) for keys in named.values() for k in keys) == sum(map(len, by_key.values())),
          "the notifications named every record of the corpus once")
    check(all(len(deletes.get(r, [])) == 1 for r in named) and not any(r in deletes for r in malformed),
          "each notification deleted exactly once, the malformed message never",
          [(named[r], deletes.get(r)) for r in named if len(deletes.get(r, [])) != 1][:3])
    early = []
    for receipt, keys in named.items():
        for key in keys:
            for event_id in by_key.get(key, []):
                first_final = outcomes.get(event_id, (None, []))[0]
                if first_final is None or any(first_final > d for d in deletes.get(receipt, [])):
                    early.append((key, event_id, first_final, deletes.get(receipt)))
    check(not early, "every message deleted only after its records were accepted or dead-lettered", early[:3])
    last_final = max(seq for seq, _ in outcomes.values() if seq is not None)
    check(deletes and min(d for ds in deletes.values() for d in ds) < last_final,
          "messages were deleted while other batches were still out (the order above is not trivial)")
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    left = int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
    check(left == 1, f"only the malformed message is left in the queue ({left})")


def main():
    tmp = tempfile.mkdtemp(prefix="ctindex-run-os-")
    try:
        corpus = os.path.join(tmp, "corpus")
        subprocess.run([os.path.join(BUILD, "bench", "ctgen"), "--out", corpus, "--files", "40", "--max-records",
                        "400", "--seed", "23", "--digest", "--days", "2"], check=True, capture_output=True)
        by_key = corpus_records(corpus)
        all_ids = [i for ids in by_key.values() for i in ids]
        # One rejected record in each of a few files, so several messages wait on a dead letter.
        rejected = {ids[len(ids) // 2]: k for k, ids in sorted(by_key.items())[::5] if ids}
        dead_path = os.path.join(tmp, "dead.jsonl")
        with fakelib.MotoServer(no_auth_actions=3) as moto, fakelib.RecordingProxy(moto.port) as sqs_proxy:
            akid, secret = moto.create_admin_key()
            sqs, queue, expected = publish(moto, akid, secret, corpus, by_key)
            # One credential chain signs S3, SQS and _bulk: the fake verifies with moto's key.
            with fakelib.FakeSearch(access_key=akid, secret_key=secret) as fake, \
                    fakelib.RecordingProxy(fake.port) as os_proxy:
                fake.fault(delay_ms=2000, count=1)  # the first request answers late: later batches finish first
                fake.fault(bulk_item_status=429, count=40)
                fake.fault(bulk_item_status=503, count=10)
                fake.fault(reject_ids=sorted(rejected))
                fake.fault(status=503, count=1)
                fake.fault(reset=1)
                p = run_service(moto, sqs_proxy, os_proxy, akid, secret, queue, dead_path)
                outcomes = bulk_outcomes(os_proxy)
                check_documents(fake, outcomes, all_ids, rejected, p.stderr)
            check_dead_letters(dead_path, rejected)
            check_messages(sqs_proxy, outcomes, by_key, expected, sqs, queue)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
