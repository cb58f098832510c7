"""`ctindex run` end to end against moto (S3, SQS, SNS) with signature checks on.

CloudTrail-style notifications arrive on one queue in every shape ctindex understands (SNS
envelope from a real SNS subscription, raw delivery, S3 event notifications, EventBridge), plus
a test event, the validation message and a malformed body. ctindex must index every record of
every file once (dir sink), delete every message it handled, leave the malformed one for the
redrive policy, and exit 0 when the queue is drained. One more file holds a record over the
record limit: it goes to the dead-letter file, and the file's message is still deleted."""
import glob
import gzip
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import runlib
from runlib import BIN, BUILD, fakelib

check = fakelib.Checks()


def indexed_ids(out):
    ids = []
    for path in sorted(glob.glob(os.path.join(out, "batch-*.json"))):
        ids.extend(d["id"] for d in json.load(open(path)))
    return ids


def run(tmp):
    out = os.path.join(tmp, "out")
    corpus = runlib.Corpus(BUILD, tmp, files=40, max_records=300, seed=11, digest=True, accounts=2, regions=2)
    ids = corpus.ids()
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        stack = runlib.Stack(moto, akid, secret, visibility=60)
        stack.upload(corpus)
        stack.notify_all_shapes(corpus.logs, corpus.digests)
        stack.send("this is not a notification")  # malformed: must stay in the queue
        big_key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T0005Z_BigRecordBigRec1.json.gz"
        small = {"eventID": "beside-the-big-one", "eventName": "GetObject", "eventTime": "2024-05-01T00:00:00Z"}
        big = json.dumps({"eventID": "too-big", "pad": "x" * (2 << 20)})
        body = '{"Records":[%s,%s]}' % (big, json.dumps(small))
        stack.put(big_key, gzip.compress(body.encode()))
        stack.cloudtrail_raw([big_key])
        ids = ids | {small["eventID"]}
        q = stack.queue

        env = runlib.run_env(moto, akid, secret)
        # One receiver: moto serves concurrent ReceiveMessage calls without locking and can hand one
        # message to both (real SQS is at-least-once too; documents are keyed by eventID).
        p = subprocess.run([BIN, "run", "--queue", q, "--sink", "dir:" + out, "--receivers", "1", "--wait", "1", "--exit-when-idle",
                            "3", "--stats-interval", "0", "--dead-letter", os.path.join(tmp, "dead.jsonl")],
                           env=env, capture_output=True, text=True, timeout=300)
        print(p.stderr[-3000:])
        check(p.returncode == 0, f"run exits 0 ({p.returncode})")
        got = indexed_ids(out)
        check(set(got) == ids, f"indexed {len(set(got))} of {len(ids)} eventIDs; missing "
                               f"{sorted(ids - set(got))[:3]}, extra {sorted(set(got) - ids)[:3]}")
        check(len(got) == len(set(got)), "each record indexed once")
        check("not understood" in p.stderr, "the malformed message is reported")
        dead = [json.loads(line) for line in open(os.path.join(tmp, "dead.jsonl"))]
        check(len(dead) == 1 and dead[0]["source"] == f"s3://{stack.bucket}/{big_key}" and
              "larger than the record limit (2097152 bytes)" in dead[0]["reason"] and dead[0]["offset"] == 12 and
              dead[0]["size"] == len(big) and dead[0]["data"].startswith('{"eventID": "too-big"'),
              "the record over the limit is dead-lettered with its place, size and start",
              str(dead)[:300])
        final = [st for kind, st in runlib.stats_lines(p.stderr) if kind == "final"]
        check(final and final[0].get("dead_lettered") == 1 and final[0].get("objects_failed") == 0,
              "the final stats line counts it as dead-lettered, and no object failed", str(final)[:300])
        visible, invisible = stack.counts()
        check(visible + invisible == 1, f"only the malformed message is left in the queue ({visible + invisible})",
              str([(m["Body"][:200], m["Attributes"]) for m in stack.peek()]))

        # A wrong secret: the service cannot receive, says why, and a SIGTERM still stops it cleanly.
        bad_env = dict(env, AWS_SECRET_ACCESS_KEY="wrong" + secret)
        hport = fakelib.free_port()
        proc = subprocess.Popen([BIN, "run", "--queue", q, "--sink", "dir:" + os.path.join(tmp, "out2"),
                                 "--wait", "1", "--health-port", str(hport),
                                 "--dead-letter", os.path.join(tmp, "dead2.jsonl")], env=bad_env, stderr=subprocess.PIPE,
                                text=True)
        try:
            # Every receive fails: the health endpoint must not say OK (issue 12).
            health = None
            for _ in range(100):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{hport}/", timeout=2) as r:
                        health = (r.status, json.loads(r.read()))
                except urllib.error.HTTPError as e:
                    health = (e.code, json.loads(e.read()))
                except Exception:
                    health = None
                if health and health[1].get("status") == "degraded":
                    break
                time.sleep(0.1)
            check(health is not None and health[0] == 503 and health[1].get("status") == "degraded" and
                  health[1].get("receive_errors", 0) >= 1,
                  f"health endpoint answers 503 degraded with the receive errors: {health}")
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.terminate()
            err = proc.communicate(timeout=30)[1]
        finally:
            if proc.poll() is None:  # a failed check must not leave the service running
                proc.kill()
                proc.wait()
        check(proc.returncode == 0, f"SIGTERM exits 0 ({proc.returncode})")
        check("SignatureDoesNotMatch" in err or "403" in err, "a bad secret is reported: " + err[-500:])
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(runlib.main(run, "ctindex-run-"))
