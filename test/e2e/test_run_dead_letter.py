"""`ctindex run` against moto (signatures checked) when the dead-letter file cannot be written.

One object holds good records and two unusable ones (invalid JSON, an element that is not an
object), another only good records. With the dead-letter file on a full disk (/dev/full), the
good object's message is deleted, but the other one's must not be: its unusable records exist
nowhere else yet. The message comes back (after --retry-visibility), and a second run with a writable dead-letter file
dead-letters the two records and deletes it."""
import gzip
import json
import os
import subprocess
import sys

import runlib
from runlib import BIN, BUILD, fakelib

check = fakelib.Checks()
PREFIX = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/"


def good(i):
    return json.dumps({"eventID": "good-%d" % i, "eventName": "GetObject", "eventTime": "2024-05-01T00:00:%02dZ" % i})


def indexed_ids(out):
    ids = []
    for name in sorted(os.listdir(out)) if os.path.isdir(out) else []:
        if name.startswith("batch-"):
            ids += [d["id"] for d in json.load(open(os.path.join(out, name)))]
    return set(ids)


def run(tmp):
    if not os.access("/dev/full", os.W_OK):
        print("skipped: no /dev/full")
        return 77
    bad_key = PREFIX + "111122223333_CloudTrail_us-east-1_20240501T0000Z_BadRecordsInIt.json.gz"
    fine_key = PREFIX + "111122223333_CloudTrail_us-east-1_20240501T0005Z_OnlyGoodRecords.json.gz"
    bad_body = '{"Records":[%s,{"eventID":"broken","x":tru},%s,42]}' % (good(0), good(1))
    fine_body = '{"Records":[%s,%s]}' % (good(2), good(3))
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        stack = runlib.Stack(moto, akid, secret, visibility=60)
        stack.put(bad_key, gzip.compress(bad_body.encode()))
        stack.put(fine_key, gzip.compress(fine_body.encode()))
        stack.cloudtrail_raw([bad_key])
        stack.cloudtrail_raw([fine_key])
        env = runlib.run_env(moto, akid, secret)

        def service(out, dead):
            # A failed message comes back after 6 s; the service leaves after 2 empty receives (~2 s).
            argv = [BIN, "run", "--queue", stack.queue, "--sink", "dir:" + out, "--receivers", "1", "--wait", "1",
                    "--exit-when-idle", "2", "--stats-interval", "0", "--retry-visibility", "6", "--linger-ms", "200",
                    "--dead-letter", dead]
            p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
            print(p.stderr[-2500:])
            final = [st for kind, st in runlib.stats_lines(p.stderr) if kind == "final"]
            return p, final[0] if final else {}

        out1 = os.path.join(tmp, "out1")
        p, final = service(out1, "/dev/full")
        check(p.returncode == 0, f"the service runs on ({p.returncode})")
        check("No space left on device" in p.stderr and bad_key in p.stderr,
              "the failed dead letter is logged with its object")
        check(final.get("objects_failed", 0) >= 1 and final.get("dead_lettered", -1) == 0,
              "the object counts as failed, nothing as dead-lettered", str(final))
        check(indexed_ids(out1) == {"good-0", "good-1", "good-2", "good-3"}, "the good records are stored",
              str(sorted(indexed_ids(out1))))
        runlib.wait_for(lambda: stack.counts()[0] > 0, 30)
        left = stack.peek()
        check([m["Body"] for m in left] == [json.dumps({"s3Bucket": stack.bucket, "s3ObjectKey": [bad_key]})],
              "the message of the object with unusable records was not deleted; the other one was",
              str([m["Body"][:160] for m in left]))

        out2 = os.path.join(tmp, "out2")
        dead = os.path.join(tmp, "dead.jsonl")
        p, final = service(out2, dead)
        check(p.returncode == 0, f"second run exits 0 ({p.returncode})")
        entries = [json.loads(line) for line in open(dead)] if os.path.exists(dead) else []
        reasons = sorted(e["reason"] for e in entries)
        check(len(reasons) == 2 and reasons[0].startswith("element of Records is a number") and
              reasons[1] == "record is not valid JSON" and
              all(e["source"] == f"s3://{stack.bucket}/{bad_key}" for e in entries),
              "the redelivered message's unusable records are dead-lettered", str(entries)[:400])
        check(final.get("dead_lettered") == 2 and final.get("objects_failed") == 0, "and counted", str(final))
        visible, invisible = stack.counts()
        check(visible + invisible == 0, f"then its message is deleted ({visible} visible, {invisible} in flight)")
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(runlib.main(run, "ctindex-run-dead-"))
