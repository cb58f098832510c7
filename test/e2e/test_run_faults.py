"""`ctindex run` against moto (S3, SQS, SNS; signatures checked) and the strict fake CloudSearch
endpoint (SigV4 checked) while the sink misbehaves and some S3 objects are bad.

One queue carries every notification shape (SNS envelope with several keys, raw delivery, S3
events with URL-encoded keys, EventBridge), a test event, the validation message and a
malformed body. The queue has a redrive policy (maxReceiveCount 3) to a DLQ. The sink answers
507 and 503 (throttling), resets connections, answers slowly, and rejects three documents.
Some messages name a corrupt gzip file, a missing key, or a good file next to a missing one.

Must hold at the end:
  * accepted ids + dead-lettered ids = every eventID of every good file (nothing missing);
  * the dead-letter file holds exactly the rejected documents, with the service's reason;
  * the bad messages (malformed, corrupt, missing, good+missing) went to the DLQ after being
    retried; every other message was deleted; the main queue is empty; two uploads answered 200
    with an HTML page are failed requests (retried, counted in upload_errors and errors);
  * retries show in the periodic stats lines; the final stats line adds up; SIGTERM (once the
    queues show that) stops it with exit 0."""
import gzip
import json
import os
import signal
import subprocess
import sys

import runlib
from runlib import BIN, BUILD, fakelib

check = fakelib.Checks()


def run(tmp):
    corpus = runlib.Corpus(BUILD, tmp, files=48, min_records=20, max_records=400, seed=21, digest=True, regions=3)
    extra = runlib.Corpus(BUILD, tmp, name="extra", files=3, min_records=50, max_records=200, seed=77)
    odd, truncated, beside_missing = extra.logs
    good_ids = corpus.ids(corpus.logs) | extra.ids([odd, beside_missing])
    check(len(good_ids) > 3000 and len(corpus.logs) == 48, f"corpus: {len(good_ids)} records in 51 files")
    schema = runlib.schema_file(tmp)
    dead_file = os.path.join(tmp, "dead.jsonl")

    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        stack = runlib.Stack(moto, akid, secret, visibility=30, max_receive=3)
        stack.upload(corpus)
        prefix = os.path.dirname(odd) + "/"
        odd_key = prefix + "odd key with spaces.json.gz"  # moto cannot check signatures of keys with + = & %
        corrupt_key = prefix + "corrupt.json.gz"
        missing_key = prefix + "missing.json.gz"
        stack.s3.upload_file(extra.path(odd), stack.bucket, odd_key)
        stack.s3.upload_file(extra.path(beside_missing), stack.bucket, beside_missing)
        whole = open(extra.path(truncated), "rb").read()
        stack.put(corrupt_key, whole[:len(whole) * 6 // 10])

        stack.notify_all_shapes(corpus.logs, corpus.digests)
        stack.s3_event(odd_key)
        bad_bodies = {
            "this is not a notification",
            json.dumps({"s3Bucket": stack.bucket, "s3ObjectKey": [corrupt_key]}),
            json.dumps({"s3Bucket": stack.bucket, "s3ObjectKey": [missing_key]}),
            json.dumps({"s3Bucket": stack.bucket, "s3ObjectKey": [beside_missing, missing_key]}),
        }
        for body in sorted(bad_bodies):
            stack.send(body)

        ids_in_order = [i for k in corpus.logs for i in corpus.ids_by_key[k]]
        rejected = {ids_in_order[7], ids_in_order[len(ids_in_order) // 2], ids_in_order[-3]}
        with fakelib.FakeSearch(access_key=akid, secret_key=secret, region="us-east-1", schema=schema) as fake:
            fake.fault(status=507, count=3)
            fake.fault(status=503, count=2, retry_after=1)
            fake.fault(reset=2)
            fake.fault(delay_ms=2500, count=2)
            fake.fault(reject_ids=sorted(rejected))
            fake.fault(body="<html><body>502 Bad Gateway (default page)</body></html>", count=2)
            env = runlib.run_env(moto, akid, secret)
            argv = [BIN, "run", "--queue", stack.queue, "--doc-endpoint", fake.url, "--region", "us-east-1",
                    "--receivers", "2", "--wait", "1", "--visibility", "20", "--retry-visibility", "1",
                    "--linger-ms", "300", "--stats-interval", "2", "--dead-letter", dead_file]
            # Stopped (SIGTERM) once the queues show the end state, not after some idle receives:
            # a bad message waits out its retry visibility between deliveries, and on a loaded
            # machine that took longer than the service's idle receives (it stopped early, and
            # its last receive left two of them invisible).
            with open(os.path.join(tmp, "run.log"), "w+") as log:
                proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
                try:
                    done = runlib.wait_for(lambda: stack.counts() == (0, 0) and
                                           stack.counts(stack.dlq)[0] == len(bad_bodies), 400, step=1)
                    proc.send_signal(signal.SIGTERM)
                    rc = proc.wait(timeout=120)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                log.seek(0)
                err = log.read()
            print(err[-4000:])
            check(done, "the main queue emptied and the bad messages reached the DLQ")
            check(rc == 0, f"run exited {rc} after SIGTERM")

            acc = fake.accepted()["cloudsearch"]
            accepted = set(acc["ids"])
            dead = [json.loads(line) for line in open(dead_file)] if os.path.exists(dead_file) else []
            dead_ids = {json.loads(d["data"])["id"] for d in dead if d.get("kind") == "document"}
            missing = good_ids - accepted - dead_ids
            check(not missing, f"nothing missing: {len(accepted)} accepted + {len(dead_ids)} dead-lettered of "
                               f"{len(good_ids)}", f"missing {len(missing)}: {sorted(missing)[:5]}")
            extra_ids = accepted - good_ids - extra.ids([truncated])
            check(not extra_ids, "no id from anywhere else", str(sorted(extra_ids)[:5]))
            check(dead_ids == rejected and not (accepted & rejected),
                  "the rejected documents, and only they, are in the dead-letter file",
                  f"{sorted(dead_ids)} vs {sorted(rejected)}")
            check(dead and all("reject_ids" in d["reason"] and d["source"].startswith("s3://trail/") for d in dead),
                  "dead letters carry the service's reason and the source object",
                  str([(d.get("reason"), d.get("source")) for d in dead]))
            stats = fake.stats()
            fired = stats["faults_fired"]
            check(fired.get("status") == 5 and fired.get("reset") == 2 and fired.get("delay") == 2,
                  "every injected sink fault fired", str(fired))
            check(fired.get("body") == 2, "the two foreign 200 pages were served", str(fired))
            check(stats["auth_failures"] == 0, "every upload was signed right", str(stats))
            check(stats["max_in_flight"] == 2, "two uploads in flight at once (the default)", str(stats["max_in_flight"]))

            dlq = stack.drain_dlq()
            check(sorted(dlq) == sorted(bad_bodies), "exactly the bad messages went to the DLQ",
                  f"{sorted(b[:80] for b in dlq)}")
            visible, invisible = stack.counts()
            check(visible == 0 and invisible == 0, "every other message was deleted",
                  f"{visible} visible, {invisible} in flight: {[m['Body'][:120] for m in stack.peek()]}")
            check("not understood" in err, "the malformed body is reported")
            check("missing.json.gz" in err and "corrupt.json.gz" in err, "the bad objects are named in the log")
            check("receive count 3" in err, "the receive count of a retried message is logged")

            lines = runlib.stats_lines(err)
            periodic = [v for k, v in lines if k == "stats"]
            final = [v for k, v in lines if k == "final"]
            check(len(periodic) >= 2 and len(final) == 1, f"periodic stats lines ({len(periodic)}) and one final")
            if final:
                f = final[0]
                # The resets are re-sent by libcurl itself when they hit a reused connection.
                check(f.get("retries", 0) >= 5, "retries counted (sink throttling)", str(f))
                # Each bad object fails at least once per message (a copy moto hands out twice
                # while the first is in progress is not worked on again).
                check(f.get("records", 0) >= len(good_ids) and f.get("objects_failed", 0) >= 3 and
                      f.get("retried", 0) >= 3, "records, failed objects and retried messages counted", str(f))
                check(f.get("inflight_messages") == 0 and f.get("inflight_objects") == 0, "nothing in flight at exit",
                      str(f))
                check(f.get("errors", 0) >= 1 and f.get("dead_lettered") == 3, "errors and dead letters counted",
                      str(f))
                # the two 200 pages (and the resets that reach the sink): failed uploads, counted as errors
                check(f.get("upload_errors", 0) >= 2 and f.get("errors", 0) >= 2 + f.get("objects_failed", 0),
                      "uploads answered with a page that is not CloudSearch's are counted as errors", str(f))
                check(all(name in f for name in ("messages", "deleted", "bytes_in", "batches", "rate")),
                      "the final line names messages, deletes, bytes, batches and rate", str(f))
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(runlib.main(run, "ctindex-run-faults-"))
