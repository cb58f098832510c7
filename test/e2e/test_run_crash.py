"""`ctindex run` stopped politely and killed outright, against moto (signatures checked) and the
strict fake CloudSearch endpoint, with a short visibility timeout so that redelivery happens in
test time.

1. Slow sink, visibility 10 s, more than ten messages in flight for longer than that: the
   service extends their visibility (ten to a call) so no message is delivered twice; SIGTERM
   (sent while S3 downloads are held at a proxy, so some received messages have surely not
   started) then stops receiving, finishes or gives back what is in flight and exits 0: no
   message is left invisible, and every deleted message's records were accepted.
2. kill -9 at random moments (four rounds, uploads slowed down at random), then a run until the
   queue is empty (stopped with SIGINT): the fake's accepted ids equal every eventID in the
   bucket."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import runlib
from runlib import BIN, BUILD, fakelib, read, start, stop_children

check = fakelib.Checks()
# How long a step that waits for a condition may take before the test gives up. Reached only
# when the test fails; on a loaded machine (ctest -j16 on two cores) the service, moto and the
# fake are many times slower than idle, so the budgets are generous.
BUDGET_S = 300


def run(tmp):
    corpus = runlib.Corpus(BUILD, tmp, files=60, min_records=20, max_records=300, seed=31, digest=True)
    all_ids = corpus.ids()
    check(len(all_ids) > 3000, f"corpus: {len(all_ids)} records in {len(corpus.logs)} files")
    schema = runlib.schema_file(tmp)
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        stack = runlib.Stack(moto, akid, secret, visibility=30)
        stack.upload(corpus)
        stack.cloudtrail_each(corpus.logs)
        with fakelib.FakeSearch(access_key=akid, secret_key=secret, region="us-east-1", schema=schema) as fake:
            env = runlib.run_env(moto, akid, secret)
            base = [BIN, "run", "--queue", stack.queue, "--doc-endpoint", fake.url, "--region", "us-east-1",
                    "--visibility", "10", "--wait", "1", "--dead-letter", os.path.join(tmp, "dead.jsonl")]
            with fakelib.RecordingProxy(moto.port) as s3_proxy:
                acc = extend_and_drain(tmp, stack, fake, corpus, dict(env, AWS_ENDPOINT_URL_S3=s3_proxy.url), base,
                                       s3_proxy)
            crash_rounds(tmp, stack, fake, corpus, env, base)
            acc |= set(fake.accepted()["cloudsearch"]["ids"])
            missing = all_ids - acc
            check(not missing and acc <= all_ids, f"after the crashes: {len(acc)} of {len(all_ids)} eventIDs accepted",
                  f"missing {len(missing)} {sorted(missing)[:3]}, extra {sorted(acc - all_ids)[:3]}")
            dead = os.path.join(tmp, "dead.jsonl")
            check(not os.path.exists(dead) or os.path.getsize(dead) == 0, "nothing dead-lettered")
    return check.exit_code()


def received(log):
    """Messages the service received, from its latest stats line (0 before the first)."""
    lines = [v for _, v in runlib.stats_lines(read(log))]
    return int(lines[-1].get("messages", 0)) if lines else 0


def extend_and_drain(tmp, stack, fake, corpus, env, base, s3_proxy):
    """s3_proxy: S3 goes through it (env), so the test can stop downloads from starting."""
    # Every upload takes 4 s: 60 messages stay in flight for well over the 10 s visibility.
    fake.fault(delay_ms=4000, count=1000)
    log = os.path.join(tmp, "drain.log")
    # One receiver, so a second delivery can only mean an expired visibility timeout (moto may
    # hand one message to two concurrent receives).
    # One upload and two downloads at a time: most of the 40 messages wait, so SIGTERM finds both
    # work to finish and work to give back.
    # Batches of 2 MiB (the smallest): the corpus makes about eight, 4 s each, so uploads are still
    # going when the test holds S3 (at 5 MB, default-profile documents made four, all done by then).
    proc = start(base + ["--receivers", "1", "--max-messages", "40", "--downloads", "2", "--uploads", "1",
                         "--batch-bytes", "2097152", "--stats-interval", "1", "--drain-timeout", "40"], env, log)
    extended = runlib.wait_for(lambda: any(v.get("visibility_extensions", 0) >= 20 and
                                           v.get("inflight_messages", 0) > 10
                                           for _, v in runlib.stats_lines(read(log))), BUDGET_S)
    check(extended, "more than ten messages in flight had their visibility extended")
    time.sleep(6)  # past the first visibility timeout of every message received so far
    # SIGTERM must find both work to finish and work to give back. Which received messages have
    # started depends on how fast this machine is (under load every one had), so the test makes
    # sure: S3 requests wait at the proxy from now on. Once both downloads wait there, no other
    # object can start, and a message received but not counted among the S3 requests is
    # unstarted until the SIGTERM.
    s3_proxy.hold()
    unstarted = runlib.wait_for(lambda: s3_proxy.counts()[1] == 2 and received(log) > s3_proxy.counts()[0],
                                BUDGET_S)
    check(unstarted, "both downloads waiting, and a received message not started", str(s3_proxy.counts()))
    proc.send_signal(signal.SIGTERM)
    s3_proxy.hold(False)
    t0 = time.monotonic()
    try:
        rc = proc.wait(timeout=BUDGET_S)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t0
    err = read(log)
    print(err[-2500:])
    check(rc == 0, f"SIGTERM: exit 0 after {took:.1f} s ({rc})")
    check("SIGTERM: stopping" in err, "SIGTERM starts the drain")
    check("delivered again" not in err and "received again" not in err,
          "no message was delivered twice while its visibility was extended")
    final = [v for k, v in runlib.stats_lines(err) if k == "final"]
    check(final and final[0].get("inflight_messages") == 0 and final[0].get("inflight_batches") == 0,
          "the final line shows nothing in flight", str(final))
    visible, invisible = stack.counts()
    left = stack.peek(limit=100)
    check(invisible == 0, f"after the drain nothing is left invisible ({visible} visible, {invisible} in flight)")
    left_keys = {k for m in left for k in json.loads(m["Body"])["s3ObjectKey"]}
    done_keys = [k for k in corpus.logs if k not in left_keys]
    acc = set(fake.accepted()["cloudsearch"]["ids"])
    check(done_keys and corpus.ids(done_keys) <= acc,
          f"every record of the {len(done_keys)} deleted messages was accepted",
          f"missing {len(corpus.ids(done_keys) - acc)}")
    check(len(left) == visible and visible > 0, f"{visible} message(s) left visible for later")
    check(final and final[0].get("released", 0) >= 1, "unstarted messages were given back, and counted", str(final))
    fake.reset()  # forgets the faults, and the accepted ids: they are returned
    return acc


def wait_running(log):
    """Until the service has its signal handlers (a signal before that just ends the process)."""
    check(runlib.wait_for(lambda: "consuming" in read(log), BUDGET_S), "the service started", read(log)[-1000:])


def crash_rounds(tmp, stack, fake, corpus, env, base):
    rnd = random.Random(5)
    for i in range(4):
        # Fresh work for every round (what earlier rounds held stays invisible for 10 s): every
        # file once more, SNS-wrapped, three keys a message, in four parts.
        part = corpus.logs[i * len(corpus.logs) // 4:(i + 1) * len(corpus.logs) // 4]
        for j in range(0, len(part), 3):
            stack.cloudtrail_sns(part[j:j + 3])
        fake.fault(delay_ms=rnd.choice([1000, 2000, 3000]), count=2)
        uploads = fake.stats()["requests"].get("cloudsearch", 0)
        log = os.path.join(tmp, f"crash{i}.log")
        proc = start(base + ["--receivers", "2", "--linger-ms", "500"], env, log)
        wait_running(log)
        # A random moment once uploads have begun: before, during or after an upload is
        # accepted, before or after its messages are deleted.
        began = runlib.wait_for(lambda: fake.stats()["requests"].get("cloudsearch", 0) > uploads, BUDGET_S, step=0.05)
        check(began, f"round {i + 1}: uploads began")
        time.sleep(rnd.uniform(0.0, 2.5))
        alive = proc.poll() is None
        proc.kill()
        proc.wait()
        visible, invisible = stack.counts()
        check(alive and invisible > 0, f"round {i + 1}: killed with -9 while messages were in flight "
                                       f"({visible} visible, {invisible} invisible)", read(log)[-1500:])
    # Until the queue is empty: what the killed runs held comes back after its 10 s timeout.
    log = os.path.join(tmp, "final.log")
    proc = start(base + ["--receivers", "2", "--linger-ms", "500", "--stats-interval", "5"], env, log)
    wait_running(log)
    emptied = runlib.wait_for(lambda: stack.counts() == (0, 0), BUDGET_S, step=0.5)
    proc.send_signal(signal.SIGINT)
    rc = proc.wait(timeout=BUDGET_S)
    err = read(log)
    print(err[-1500:])
    check(emptied, "the queue was emptied after the crashes", str(stack.counts()))
    check(rc == 0 and "SIGINT: stopping" in err, f"last run: SIGINT stops it, exit 0 ({rc})")
    check("delivered again (receive count" in err, "messages held by killed runs were delivered again")


if __name__ == "__main__":
    sys.exit(runlib.main(run, "ctindex-run-crash-", cleanup=stop_children))
