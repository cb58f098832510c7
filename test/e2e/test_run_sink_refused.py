"""`ctindex run` while the sink refuses every upload (HTTP 403: a missing policy, a rotated key)
for longer than several visibility timeouts, against moto (signatures checked) and the strict
fake CloudSearch endpoint: the queue is held, not drained into its dead-letter queue (issue 12).

The queue has a redrive policy with maxReceiveCount 3; ctindex runs with --retry-visibility 5 and
--visibility 30 (extensions every 15 s: slack for moto on a loaded machine; with 20 s one held
message was once received again while in progress), so a message given back would reach the DLQ
within about 20 s. Before the fix all 40 messages were in the DLQ after 20 s while the health
endpoint said 200. The outage lasts 60 s here (two visibility timeouts, twelve retry
visibilities: "minutes" on the service's clocks).

Must hold:
  * while the sink refuses: GET / answers 503 with a JSON reason naming the refusal; /metrics
    says the sink is refusing and receiving is paused (and promtool accepts it); the DLQ stays
    empty; only the poison message is ever received twice; the sink is probed with a few
    requests, not one per batch and attempt;
  * once the sink accepts again, without a restart: every record of every good file is indexed,
    every good message deleted; GET / answers 200; the log says receiving paused and resumed;
  * the poison message (a corrupt file) still reaches the DLQ, and the log names its object, the
    queue's redrive policy, and the receive that sends the message there."""
import json
import os
import re
import subprocess
import sys
import time

import runlib
from runlib import BIN, BUILD, fakelib

check = fakelib.Checks()
OUTAGE_S = 60


def run(tmp):
    fakelib.require_or_skip(programs=["promtool"])
    corpus = runlib.Corpus(BUILD, tmp, files=40, min_records=20, max_records=150, seed=12)
    extra = runlib.Corpus(BUILD, tmp, name="extra", files=1, min_records=200, max_records=200, seed=13)
    good_ids = corpus.ids(corpus.logs)
    check(len(corpus.logs) == 40 and len(good_ids) > 1000, f"corpus: {len(good_ids)} records in 40 files")
    schema = runlib.schema_file(tmp)
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        stack = runlib.Stack(moto, akid, secret, visibility=30, max_receive=3)
        stack.upload(corpus)
        whole = open(extra.path(extra.logs[0]), "rb").read()
        corrupt_key = os.path.dirname(corpus.logs[0]) + "/corrupt.json.gz"
        stack.put(corrupt_key, whole[:len(whole) // 2])
        poison = json.dumps({"s3Bucket": stack.bucket, "s3ObjectKey": [corrupt_key]})
        stack.cloudtrail_each(corpus.logs)
        stack.send(poison)

        with fakelib.FakeSearch(access_key=akid, secret_key=secret, region="us-east-1", schema=schema) as fake:
            fake.fault(status=403, count=10 ** 6, target="cloudsearch")
            hport = fakelib.free_port()
            env = runlib.run_env(moto, akid, secret)
            log_path = os.path.join(tmp, "run.log")
            # One receiver: moto serves concurrent ReceiveMessage calls without locking and can hand one
            # message to both (see test_run_moto.py), which this test would take for a visibility lapse.
            argv = [BIN, "run", "--queue", stack.queue, "--doc-endpoint", fake.url, "--region", "us-east-1",
                    "--receivers", "1", "--wait", "1", "--visibility", "30", "--retry-visibility", "5",
                    "--linger-ms", "300", "--stats-interval", "5", "--sink-probe-max", "5",
                    "--health-port", str(hport), "--dead-letter", os.path.join(tmp, "dead.jsonl")]
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
            try:
                outage(stack, fake, hport, proc)
                fake.fault(clear=True)  # the operator fixes the domain's access policy
                recovery(stack, fake, hport, good_ids, poison)
            finally:
                runlib.stop(proc)
            err = open(log_path, errors="replace").read()
            print(err[-3000:])
            check(proc.returncode == 0, f"SIGTERM exits 0 ({proc.returncode})")
            check("receiving paused: the sink is refusing" in err and "receiving resumed" in err,
                  "the log says receiving paused (and why) and resumed")
            check("corrupt.json.gz" in err, "the poison message's object is named in the log")
            check("the queue's redrive policy: after 3 receives" in err and
                  "reached the queue's maxReceiveCount 3: SQS moves it to the dead-letter queue" in err,
                  "the log names the queue's redrive policy, and when the poison message reaches the DLQ")
            failed_ids = set(re.findall(r"message (\S+): \d+ of \d+ object\(s\) failed", err))
            again = set(re.findall(r"message (\S+) delivered again", err))
            check(again and again <= failed_ids,
                  "only the poison message was received more than once", f"{again} vs {failed_ids}\n" +
                  "\n".join(line for line in err.splitlines()
                            if any(i in line for i in again - failed_ids) or "visibility" in line.lower())[-4000:])
    return check.exit_code()


def outage(stack, fake, hport, proc):
    start = time.monotonic()
    degraded = runlib.wait_for(lambda: runlib.health(hport)[0] == 503 and
                               "refusing" in runlib.health(hport)[1].get("reason", ""), 40)
    status, body = runlib.health(hport)
    check(degraded and body.get("status") == "degraded" and "403" in body.get("reason", ""),
          f"health answers 503 with the refusal as reason: {status} {body}")
    seen_dlq = 0
    metrics_checked = False
    while time.monotonic() - start < OUTAGE_S:
        if proc.poll() is not None:
            check(False, f"the service is still running during the outage (exit {proc.returncode})")
            return
        seen_dlq = max(seen_dlq, sum(stack.counts(stack.dlq)))
        if not metrics_checked and time.monotonic() - start > 25:
            metrics_checked = True
            status, text = runlib.get(hport, "/metrics")
            ok, out = runlib.promtool_check(text)
            check(status == 200 and ok, "GET /metrics during the outage passes promtool check metrics", out)
            check(runlib.sample(text, 'ctindex_sink_condition{sink="cloudsearch",condition="refusing"}') == 1 and
                  runlib.sample(text, 'ctindex_sink_condition{sink="cloudsearch",condition="ok"}') == 0,
                  "the metrics say the sink is refusing")
            check(runlib.sample(text, "ctindex_receiving") == 0, "the metrics say receiving is paused")
            held = runlib.sample(text, "ctindex_sqs_messages_in_flight")
            check(held and held > 0, f"messages are held ({held})")
            check((runlib.sample(text, "ctindex_sqs_oldest_message_age_seconds") or 0) >= 20,
                  "the oldest message held is reported with its age")
            check(runlib.sample(text, "ctindex_sqs_messages_deleted_total") == 0, "nothing deleted while refused")
        time.sleep(2)
    check(seen_dlq == 0, f"the DLQ stayed empty during {OUTAGE_S} s of refusals ({seen_dlq} seen)")
    status, body = runlib.health(hport)
    check(status == 503 and "refusing" in body.get("reason", ""), f"still 503 at the end of the outage: {body}")
    requests = fake.stats()["requests"].get("cloudsearch", 0)
    check(0 < requests <= 30, f"the refusing sink was probed, not flooded: {requests} upload requests in "
                              f"{OUTAGE_S} s")


def recovery(stack, fake, hport, good_ids, poison):
    done = runlib.wait_for(lambda: set(fake.accepted()["cloudsearch"]["ids"]) >= good_ids and
                           sum(stack.counts()) == 0, 150, step=1)
    accepted = set(fake.accepted()["cloudsearch"]["ids"])
    missing = good_ids - accepted
    check(done and not missing, f"once the sink accepts: every record indexed ({len(accepted & good_ids)} of "
                                f"{len(good_ids)}) and the queue emptied", f"missing {len(missing)}")
    dlq = stack.drain_dlq()
    check(dlq == [poison], "only the poison message reached the DLQ", str([b[:100] for b in dlq]))
    ok = runlib.wait_for(lambda: runlib.health(hport)[0] == 200, 20)
    check(ok, f"health answers 200 once work flows: {runlib.health(hport)}")
    status, text = runlib.get(hport, "/metrics")
    check(runlib.sample(text, 'ctindex_sink_condition{sink="cloudsearch",condition="ok"}') == 1 and
          runlib.sample(text, "ctindex_receiving") == 1 and
          (runlib.sample(text, 'ctindex_sink_degraded_total{sink="cloudsearch"}') or 0) >= 1,
          "the metrics say the sink is ok again, after one degraded spell or more")
    check(runlib.sample(text, "ctindex_sqs_messages_deleted_total") == 40, "the 40 good messages deleted",
          str(runlib.sample(text, "ctindex_sqs_messages_deleted_total")))
    check(runlib.sample(text, "ctindex_sqs_messages_dead_lettered_total") == 1,
          "the poison message is counted as dead-lettered (receive count at the queue's maxReceiveCount)")


if __name__ == "__main__":
    sys.exit(runlib.main(run, "ctindex-run-refused-"))
