"""`ctindex run`: the health endpoint's states and GET /metrics against a known run, with moto
(signatures checked) and the strict fake CloudSearch endpoint (issue 12).

Must hold:
  * with a wrong secret every ReceiveMessage fails: GET / answers 503 "degraded" naming
    ReceiveMessage and the error, and /metrics counts the receive errors (promtool accepts it);
    before the fix health answered 200 all along;
  * before the first ReceiveMessage answered (a 5 s long poll on an empty queue) GET / answers
    503 "starting"; once a receive succeeded, 200 "ok";
  * after a known run (N files, R records), /metrics passes `promtool check metrics` and says
    exactly what happened: N messages received and deleted, N objects read, the bytes of the N
    objects, R records read and indexed, the fake's count of upload requests as accepted upload
    requests, one upload latency observation per request, one record delay observation per
    record with an eventTime (each at least the age of its eventTime), nothing throttled, the
    sink ok and receiving on."""
import datetime
import gzip
import json
import os
import subprocess
import sys
import time

import runlib
from runlib import BIN, BUILD, fakelib

check = fakelib.Checks()


def start(argv, env, log_path):
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))


def bad_credentials(moto, akid, stack, tmp):
    hport = fakelib.free_port()
    env = runlib.run_env(moto, akid, "not-the-secret")
    log_path = os.path.join(tmp, "bad.log")
    proc = start([BIN, "run", "--queue", stack.queue, "--sink", "dir:" + os.path.join(tmp, "bad-out"),
                  "--wait", "1", "--health-port", str(hport)], env, log_path)
    try:
        seen = runlib.wait_for(lambda: runlib.health(hport)[1].get("status") == "degraded", 60)
        status, body = runlib.health(hport)
        check(seen and status == 503 and "ReceiveMessage keeps failing" in body.get("reason", ""),
              f"wrong secret: health answers 503 degraded naming ReceiveMessage: {status} {body}")
        check("SignatureDoesNotMatch" in body.get("reason", "") or "InvalidClientTokenId" in body.get("reason", ""),
              "the reason carries the service's error code", str(body))
        status, text = runlib.get(hport, "/metrics")
        ok, out = runlib.promtool_check(text)
        check(status == 200 and ok, "GET /metrics passes promtool check metrics while receives fail", out)
        check((runlib.sample(text, "ctindex_sqs_receive_errors_total") or 0) >= 1,
              "the metrics count the failed receives")
        check(runlib.sample(text, "ctindex_sqs_messages_received_total") == 0, "no message received")
    finally:
        runlib.stop(proc)


def records_with_time(corpus):
    """(records, their eventTimes as epoch seconds) of the corpus' log files."""
    times = []
    n = 0
    for key in corpus.logs:
        with gzip.open(corpus.path(key), "rt") as f:
            for rec in json.load(f)["Records"]:
                n += 1
                t = rec.get("eventTime")
                if isinstance(t, str):
                    times.append(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())
    return n, times


def known_run(moto, akid, secret, stack, corpus, tmp):
    schema = runlib.schema_file(tmp)
    with fakelib.FakeSearch(access_key=akid, secret_key=secret, region="us-east-1", schema=schema) as fake:
        hport = fakelib.free_port()
        env = runlib.run_env(moto, akid, secret)
        log_path = os.path.join(tmp, "run.log")
        proc = start([BIN, "run", "--queue", stack.queue, "--doc-endpoint", fake.url, "--region", "us-east-1",
                      "--wait", "5", "--receivers", "1", "--linger-ms", "200", "--health-port", str(hport),
                      "--dead-letter", os.path.join(tmp, "dead.jsonl")], env, log_path)
        try:
            states = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                status, body = runlib.health(hport)
                if status is not None:
                    states.append((status, body.get("status")))
                if status == 200:
                    break
                time.sleep(0.1)
            check((503, "starting") in states, f"503 'starting' before the first receive answered: {states[:3]}")
            check(states and states[-1] == (200, "ok"), f"then 200 'ok': {states[-1:]}")

            stack.upload(corpus)
            stack.cloudtrail_each(corpus.logs)
            ids = corpus.ids(corpus.logs)
            done = runlib.wait_for(lambda: set(fake.accepted()["cloudsearch"]["ids"]) >= ids and
                                   sum(stack.counts()) == 0, 180, step=0.5)
            check(done, "every record indexed and every message deleted")
            # the last delete is confirmed before the queue shows empty; give the counters a moment
            runlib.wait_for(lambda: runlib.sample(runlib.get(hport, "/metrics")[1],
                                                  "ctindex_sqs_messages_deleted_total") == len(corpus.logs), 20)
            status, text = runlib.get(hport, "/metrics")
            after = time.time()
            ok, out = runlib.promtool_check(text)
            check(status == 200 and ok, "GET /metrics after the run passes promtool check metrics", out)
            fstats = fake.stats()
            fbatches = fake.accepted()["cloudsearch"]["batches"]
        finally:
            runlib.stop(proc)
        print(open(log_path, errors="replace").read()[-1500:])

    n = len(corpus.logs)
    nrec, times = records_with_time(corpus)
    sizes = sum(os.path.getsize(corpus.path(k)) for k in corpus.logs)
    s = lambda name: runlib.sample(text, name)  # noqa: E731
    expect = {
        "ctindex_sqs_messages_received_total": n,
        "ctindex_sqs_messages_deleted_total": n,
        'ctindex_sqs_messages_given_back_total{cause="retry"}': 0,
        "ctindex_sqs_messages_dead_lettered_total": 0,
        "ctindex_objects_read_total": n,
        "ctindex_objects_failed_total": 0,
        "ctindex_s3_read_bytes_total": sizes,
        "ctindex_records_read_total": nrec,
        "ctindex_records_indexed_total": nrec,
        'ctindex_records_dead_lettered_total{cause="unusable"}': 0,
        'ctindex_upload_requests_total{sink="cloudsearch",outcome="accepted"}': fbatches,
        'ctindex_upload_requests_total{sink="cloudsearch",outcome="retry"}': 0,
        'ctindex_upload_throttled_total{sink="cloudsearch"}': 0,
        'ctindex_upload_duration_seconds_count{sink="cloudsearch"}': fbatches,
        'ctindex_upload_bytes_total{sink="cloudsearch"}': fstats["bytes_in"],
        "ctindex_record_delay_seconds_count": len(times),
        "ctindex_sqs_messages_in_flight": 0,
        'ctindex_uploads_in_flight{sink="cloudsearch"}': 0,
        'ctindex_sink_condition{sink="cloudsearch",condition="ok"}': 1,
        "ctindex_receiving": 1,
    }
    for name, want in expect.items():
        check(s(name) == want, f"{name} = {want}", f"got {s(name)}")
    limit = s('ctindex_upload_concurrency_limit{sink="cloudsearch"}')
    check(limit is not None and 1 <= limit <= 2, f"the concurrency limit is within 1..--uploads ({limit})")
    # every delay is at least the age of the newest eventTime, at most the age of the oldest
    total = s("ctindex_record_delay_seconds_sum")
    check(total is not None and times and
          sum(after - t for t in times) - 300 * len(times) <= total <= sum(after - t for t in times) + len(times),
          f"the record delays add up to the records' ages at acknowledgement ({total})")


def run(tmp):
    fakelib.require_or_skip(programs=["promtool"])
    corpus = runlib.Corpus(BUILD, tmp, files=6, min_records=20, max_records=300, seed=21)
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        stack = runlib.Stack(moto, akid, secret)
        bad_credentials(moto, akid, stack, tmp)
        known_run(moto, akid, secret, stack, corpus, tmp)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(runlib.main(run, "ctindex-run-health-"))
