"""`ctindex run --sink index:FILE` against moto (signatures checked), killed with -9 at random moments
while batches are being written, then run until the queue is empty: every record is in the index
exactly once (documents are keyed by eventID: a message delivered again replaces, never adds), the
file passes SQLite's integrity check, and the facet counts the index keeps match the records."""
import collections
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import runlib
from runlib import BIN, BUILD, fakelib, read, start, stop_children

check = fakelib.Checks()
# How long a wait may take before the test gives up: reached only when it fails; generous for a
# loaded machine (ctest -j8 on two cores).
BUDGET_S = 300


def search(db, query, *args):
    p = subprocess.run([BIN, "search", query, "--index", db, "--json"] + list(args), capture_output=True, text=True,
                       timeout=120)
    return json.loads(p.stdout) if p.returncode == 0 else None


def count(db):
    if not os.path.exists(db):
        return 0
    r = search(db, "matchall", "--size", "0")
    return r["hits"]["found"] if r else 0


def run(tmp):
    corpus = runlib.Corpus(BUILD, tmp, files=40, min_records=20, max_records=250, seed=41)
    all_ids = corpus.ids()
    records = [r for k in corpus.logs for r in runlib.file_records(corpus.path(k))]
    check(len(all_ids) > 2000, f"corpus: {len(all_ids)} records in {len(corpus.logs)} files")
    db = os.path.join(tmp, "index.db")
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        stack = runlib.Stack(moto, akid, secret, visibility=30)
        stack.upload(corpus)
        env = runlib.run_env(moto, akid, secret)
        base = [BIN, "run", "--queue", stack.queue, "--sink", "index:" + db, "--region", "us-east-1",
                "--visibility", "10", "--wait", "1", "--receivers", "2", "--linger-ms", "300",
                "--dead-letter", os.path.join(tmp, "dead.jsonl")]
        rnd = random.Random(7)
        for i in range(4):
            part = corpus.logs[i * len(corpus.logs) // 4:(i + 1) * len(corpus.logs) // 4]
            stack.cloudtrail_each(part)
            before = count(db)
            log = os.path.join(tmp, f"crash{i}.log")
            proc = start(base, env, log)
            # once this run has committed a batch, at a random moment: mid-transaction, between
            # a commit and the deletes, or after
            runlib.wait_for(lambda: count(db) > before, BUDGET_S, step=0.05)
            time.sleep(rnd.uniform(0.0, 1.0))
            alive = proc.poll() is None
            proc.kill()
            proc.wait()
            check(alive, f"round {i + 1}: killed with -9 while running ({count(db)} documents)", read(log)[-800:])
        log = os.path.join(tmp, "final.log")
        proc = start(base + ["--stats-interval", "5"], env, log)
        # Until the service has its signal handlers: a SIGINT before that just ends the process
        # (the queue may already look empty while the killed runs' messages are invisible).
        check(runlib.wait_for(lambda: "consuming" in read(log), BUDGET_S), "the last run started", read(log)[-1000:])
        emptied = runlib.wait_for(lambda: stack.counts() == (0, 0), BUDGET_S, step=0.5)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=BUDGET_S)
        check(emptied, "the queue was emptied after the crashes", str(stack.counts()))
        check(rc == 0, f"the last run stops on SIGINT with 0 ({rc})", read(log)[-1000:])
    got = search(db, "matchall", "--size", "10000", "--return", "_no_fields")
    ids = [h["id"] for h in got["hits"]["hit"]] if got else []
    check(got and got["hits"]["found"] == len(all_ids) == len(ids), f"{got and got['hits']['found']} documents for "
          f"{len(all_ids)} records")
    check(set(ids) == all_ids and len(ids) == len(set(ids)), "every eventID exactly once",
          f"missing {sorted(all_ids - set(ids))[:3]}")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        ok = con.execute("PRAGMA integrity_check").fetchone()[0]
    check(ok == "ok", f"SQLite's integrity check: {ok}")
    facet = search(db, "matchall", "--size", "0", "--facet", "event_name:10000")
    got_counts = {b["value"]: b["count"] for b in facet["facets"]["event_name"]["buckets"]} if facet else {}
    want = collections.Counter(r["eventName"] for r in records)
    check(got_counts == dict(want), "the index's own value counts (matchall facets) match the records")
    dead = os.path.join(tmp, "dead.jsonl")
    check(not os.path.exists(dead) or os.path.getsize(dead) == 0, "nothing dead-lettered")
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(runlib.main(run, "ctindex-run-index-", cleanup=stop_children))
