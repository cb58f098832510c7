"""`ctindex replay s3://BUCKET/PREFIX` against moto (S3 and SQS, signatures checked) and the strict
search fake.

A ctgen corpus over 6 days, 3 accounts and 3 regions, with digests and Insights files
(CloudTrail-Insight/), goes into a bucket under a prefix; one account sits under an organization
folder (AWSLogs/o-.../), and objects that are no trail logs lie beside them. Checked:
  * a date range with --account/--region filters indexes exactly the eventIDs of the files in those
    partitions (dir sink), Insights events included, each once; digests are never read; summary
    numbers; with --no-insights only the CloudTrail/ files;
  * a checkpoint written before Insights were replayed still loads: its finished days are not
    listed again, and the Insights series of those days are replayed;
  * a wrong secret fails the listing with SignatureDoesNotMatch (the checks are on);
  * SIGTERM mid-way (CloudSearch sink slowed by the fake): exit 1, every day in the checkpoint has all
    its records accepted, and the rerun lists no finished day again and completes the range;
  * kill -9 mid-way (OpenSearch sink): the same guarantees, from the checkpoint alone;
  * a checkpoint of another replay is refused;
  * --enqueue: exactly one SQS message per in-range log file, which `ctindex run` then indexes."""
import glob
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
sys.dont_write_bytecode = True

import fakelib  # noqa: E402

fakelib.require_or_skip(modules=("boto3",), programs=("moto_server",))
import boto3  # noqa: E402

BIN = os.environ["CTINDEX_BIN"]
BUILD = os.environ["CTINDEX_BUILD"]
BUCKET, PREFIX, ORG = "trail-archive", "org/logs/", "o-exampleorg1"
check = fakelib.Checks()


class Corpus:
    """Every log file of the corpus: S3 key, partition and eventIDs."""

    def __init__(self, root, org_account):
        self.files = []  # dicts: key, path, account, region, day, ids, digest
        for path in sorted(glob.glob(os.path.join(root, "AWSLogs", "**", "*.json.gz"), recursive=True)):
            rel = os.path.relpath(path, root)
            parts = rel.split("/")  # AWSLogs ACCOUNT CloudTrail[-Digest|-Insight] REGION Y M D FILE
            account, folder, region, day = parts[1], parts[2], parts[3], "-".join(parts[4:7])
            key = PREFIX + rel
            if account == org_account:
                key = PREFIX + "AWSLogs/" + ORG + "/" + "/".join(parts[1:])
            ids = []
            if folder != "CloudTrail-Digest":
                data = gzip.decompress(open(path, "rb").read())
                ids = [r["eventID"] for r in json.loads(data)["Records"]]
            self.files.append({"key": key, "path": path, "account": account, "region": region, "day": day,
                               "ids": ids, "digest": folder == "CloudTrail-Digest",
                               "insight": folder == "CloudTrail-Insight"})
        self.logs = [f for f in self.files if not f["digest"]]  # what a replay reads, Insights included

    def select(self, since, until, accounts=None, regions=None, insights=True):
        return [f for f in self.logs if since <= f["day"] <= until and (not accounts or f["account"] in accounts)
                and (not regions or f["region"] in regions) and (insights or not f["insight"])]

    @staticmethod
    def ids(files):
        return {i for f in files for i in f["ids"]}

    def series_name(self, f):
        return ((ORG + "/" if f["key"].startswith(PREFIX + "AWSLogs/" + ORG) else "") + f["account"] + "/" +
                ("CloudTrail-Insight/" if f["insight"] else "") + f["region"])


def batch_ids(out):
    ids = []
    for path in sorted(glob.glob(os.path.join(out, "batch-*.json"))):
        ids.extend(d["id"] for d in json.load(open(path)))
    return ids


def read_checkpoint(path):
    """{series: set of days} from a checkpoint file."""
    done = {}
    if not os.path.exists(path):
        return done
    for line in open(path):
        if not line.startswith("done "):
            continue
        _, series, ranges = line.split()
        days = done.setdefault(series, set())
        for item in ranges.split(","):
            lo, _, hi = item.partition("..")
            for d in day_range(lo, hi or lo):
                days.add(d)
    return done


def day_range(lo, hi):
    import datetime
    a, b = datetime.date.fromisoformat(lo), datetime.date.fromisoformat(hi)
    return [(a + datetime.timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]


def listed_days(stderr):
    """(series, day) of every day listing a verbose run made."""
    out = set()
    for m in re.finditer(r"listing day s3://[^/]+/" + re.escape(PREFIX) + r"AWSLogs/((?:o-[a-z0-9]+/)?\d{12})/"
                         r"CloudTrail(-Insight)?/([a-z0-9-]+)/(\d{4})/(\d\d)/(\d\d)/", stderr):
        kind = "CloudTrail-Insight/" if m.group(2) else ""
        out.add((m.group(1) + "/" + kind + m.group(3), f"{m.group(4)}-{m.group(5)}-{m.group(6)}"))
    return out


def finished_days_accepted(corpus, done, accepted, since, until, what):
    """Every day the checkpoint calls finished has all its records in the sink."""
    missing = []
    for f in corpus.select(since, until):
        if f["day"] in done.get(corpus.series_name(f), set()) and not set(f["ids"]) <= accepted:
            missing.append(f["key"])
    check(not missing, f"{what}: every file of every checkpointed day was accepted ({missing[:2]})")


def run(args, env, timeout=240):
    p = subprocess.run([BIN, "replay", *args], env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def wait_for_checkpoint(path, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if read_checkpoint(path):
            return True
        time.sleep(0.05)
    return False


def interrupted_then_resumed(corpus, env, tmp, label, sink, fake, service, sig):
    """Run the whole range into sink, stop it with sig once a day is recorded, rerun, check."""
    since, until = "2024-05-01", "2024-05-06"
    cp = os.path.join(tmp, label + ".checkpoint")
    args = [f"s3://{BUCKET}/{PREFIX}", "--since", since, "--until", until, "--sink", sink, "--checkpoint", cp,
            "--no-progress", "--uploads", "1", "--batch-bytes", "2097152", "--listings", "2", "--downloads", "2",
            "--dead-letter", os.path.join(tmp, label + ".dead")]
    fake.fault(delay_ms=250, count=1000, target=service)
    proc = subprocess.Popen([BIN, "replay", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = wait_for_checkpoint(cp, proc)
        check(seen and proc.poll() is None, f"{label}: a day is recorded while the replay still runs")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGTERM:
        check(proc.returncode == 1, f"{label}: SIGTERM exits 1 ({proc.returncode})", err[-800:])
        check("interrupted" in err and "rerun the same command" in err, f"{label}: says how to continue")
    else:
        check(proc.returncode == -signal.SIGKILL, f"{label}: killed ({proc.returncode})")
    accepted_first = set(fake.accepted()[service]["ids"])
    fake.reset()  # drops the delay
    done = read_checkpoint(cp)
    finished_days_accepted(corpus, done, accepted_first, since, until, label)
    want = corpus.ids(corpus.select(since, until))
    check(accepted_first < want, f"{label}: the first run stopped part-way ({len(accepted_first)} of {len(want)})")
    rc, out, err = run(args + ["--verbose"], env)
    acc = fake.accepted()[service]
    check(rc == 0, f"{label}: the rerun exits 0 ({rc})", err[-1500:])
    relisted = {(s, d) for (s, d) in listed_days(err) if d in done.get(s, set())}
    check(listed_days(err) and not relisted, f"{label}: the rerun lists no day the checkpoint holds ({sorted(relisted)[:3]})")
    skipped = sum(len(v & set(day_range(since, until))) for v in done.values())
    check(f"{skipped} finished before (checkpoint)" in out, f"{label}: the summary counts {skipped} days as done before")
    got = accepted_first | set(acc["ids"])
    check(got == want, f"{label}: every in-range eventID indexed over both runs (missing {len(want - got)}, "
                       f"extra {len(got - want)})")
    final = read_checkpoint(cp)
    nseries = len({corpus.series_name(f) for f in corpus.logs})
    check(len(final) == nseries and all(v == set(day_range(since, until)) for v in final.values()),
          f"{label}: the final checkpoint holds every day of all {nseries} series")


def main():
    tmp = tempfile.mkdtemp(prefix="ctindex-replay-s3-")
    try:
        return run_all(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_all(tmp):
    corpus_dir = os.path.join(tmp, "corpus")
    subprocess.run([os.path.join(BUILD, "bench", "ctgen"), "--out", corpus_dir, "--files", "90", "--max-records", "150",
                    "--seed", "7", "--digest", "--insights", "24", "--accounts", "3", "--regions", "3", "--days", "6", "--start",
                    "2024-05-01"], check=True, capture_output=True)
    accounts = sorted(os.listdir(os.path.join(corpus_dir, "AWSLogs")))
    corpus = Corpus(corpus_dir, org_account=accounts[0])
    regions = sorted({f["region"] for f in corpus.logs})
    check(len(accounts) == 3 and len(regions) == 3 and len({f["day"] for f in corpus.logs}) == 6,
          f"corpus spans 3 accounts, 3 regions, 6 days ({accounts} {regions})")
    insight_files = [f for f in corpus.logs if f["insight"]]
    check(len(insight_files) == 24 and all(f["ids"] for f in insight_files), "corpus has 24 Insights files")
    schema_file = os.path.join(tmp, "schema.json")
    with open(schema_file, "w") as f:
        f.write(subprocess.run([BIN, "schema"], check=True, capture_output=True, text=True).stdout)

    # 0. usage errors: exit 2 with a message that names the problem, before any request
    usage = [(["s3://bkt", "--sink", "dir:x"], "--since DATE is required"),
             (["s3://bkt", "--since", "2024-02-30", "--sink", "dir:x"], "a real one"),
             (["s3://bkt", "--since", "2024-05-02", "--until", "2024-05-01", "--sink", "dir:x"], "after --until"),
             (["s3://bkt", "--since", "2024-05-01"], "--sink SINK or --enqueue QUEUE_URL"),
             (["s3://bkt", "--since", "2024-05-01", "--sink", "dir:x", "--enqueue", "q"], "(one of them)"),
             (["s3://bkt", "--since", "2024-05-01", "--sink", "dir:x", "--account", "1234"], "12-digit account"),
             (["s3://bkt", "--since", "2024-05-01", "--sink", "dir:x", "--region", "east"], "region name"),
             (["s3://b", "--since", "2024-05-01", "--sink", "dir:x"], "3 to 63 characters"),
             (["s3://bkt", "s3://other", "--since", "2024-05-01", "--sink", "dir:x"], "give one s3://"),
             (["s3://bkt", "--since", "2000-01-01", "--sink", "dir:x"], "at most 7305 days")]
    for args, message in usage:
        rc, out, err = run(args, dict(os.environ, AWS_ENDPOINT_URL="http://127.0.0.1:9"), timeout=30)
        check(rc == 2 and message in err, f"usage: {' '.join(args[1:])} -> exit 2, '{message}'", f"{rc} {err[-300:]}")
    rc, out, err = run(["--help"], os.environ, timeout=30)
    check(rc == 0 and "replay DIR..." in out and "replay s3://BUCKET[/PREFIX]" in out and "--checkpoint FILE" in out,
          "replay --help shows both forms and the s3 options")

    with fakelib.MotoServer(no_auth_actions=3, raw_uri_signing=True) as moto:
        akid, secret = moto.create_admin_key()
        kw = moto.client_kwargs(akid, secret)
        s3, sqs = boto3.client("s3", **kw), boto3.client("sqs", **kw)
        s3.create_bucket(Bucket=BUCKET)
        extras = {PREFIX + "AWSLogs/notes.txt": b"not a trail", PREFIX + "AWSLogs/" + accounts[1] + "/Config/x.json": b"{}",
                  "elsewhere/AWSLogs/" + accounts[1] + "/CloudTrail/us-east-1/2024/05/02/x.json.gz": b"not read"}
        with ThreadPoolExecutor(8) as pool:
            # Digests are stored unreadable: reading one would fail the run.
            list(pool.map(lambda f: s3.put_object(Bucket=BUCKET, Key=f["key"], Body=b"digest: must not be read")
                          if f["digest"] else s3.upload_file(f["path"], BUCKET, f["key"]), corpus.files))
            list(pool.map(lambda kv: s3.put_object(Bucket=BUCKET, Key=kv[0], Body=kv[1]), extras.items()))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=akid, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION="us-east-1",
                   AWS_ENDPOINT_URL=moto.url, AWS_EC2_METADATA_DISABLED="true", HOME=tmp)

        # 1. date range and filters, dir sink
        out1 = os.path.join(tmp, "out1")
        pick_acc, pick_reg = [accounts[0], accounts[2]], regions[:2]
        rc, out, err = run([f"s3://{BUCKET}/{PREFIX.rstrip('/')}", "--since", "2024-05-02", "--until", "2024-05-04",
                            "--account", pick_acc[0], "--account", pick_acc[1], "--region", ",".join(pick_reg),
                            "--sink", "dir:" + out1, "--no-progress"], env)
        want_files = corpus.select("2024-05-02", "2024-05-04", pick_acc, pick_reg)
        want = corpus.ids(want_files)
        got = batch_ids(out1)
        check(rc == 0, f"filtered: exit 0 ({rc})", err[-1500:])
        check(len(want_files) >= 6 and set(got) == want,
              f"filtered: exactly the in-range eventIDs ({len(set(got))} of {len(want)}; extra "
              f"{len(set(got) - want)}, missing {len(want - set(got))})")
        check(len(got) == len(set(got)), "filtered: each record indexed once")
        series = {(corpus.series_name(f)) for f in corpus.logs if f["account"] in pick_acc and f["region"] in pick_reg}
        nins = len({s for s in series if "/CloudTrail-Insight/" in s})
        check(f"over {len(series)} series ({nins} of Insights events)" in out and f"{len(series) * 3} in range" in out,
              f"filtered: {len(series)} series ({nins} Insights) x 3 days in the summary: {out.splitlines()[:1]}")
        check(any(f["insight"] for f in want_files), "filtered: the range holds Insights files")
        check(f"files:   {len(want_files)} indexed, 0 failed" in out, f"filtered: {len(want_files)} files indexed")
        check("Digest" not in err and "gunzip" not in err, "filtered: digests are not read (they would fail to inflate)",
              err[-800:])

        # 1b. --no-insights: the CloudTrail/ files only
        out1b = os.path.join(tmp, "out1b")
        rc, out, err = run([f"s3://{BUCKET}/{PREFIX}", "--since", "2024-05-02", "--until", "2024-05-04",
                            "--no-insights", "--sink", "dir:" + out1b, "--no-progress"], env)
        want = corpus.ids(corpus.select("2024-05-02", "2024-05-04", insights=False))
        got = batch_ids(out1b)
        check(rc == 0 and set(got) == want and len(got) == len(want),
              f"--no-insights: exactly the CloudTrail/ eventIDs ({rc}; {len(set(got))} of {len(want)})", err[-800:])
        check("(0 of Insights events)" in out, "--no-insights: no Insights series", out.splitlines()[:1])

        # 1c. a checkpoint from before Insights were replayed: its days of log files stay done, the
        # Insights series of those days are replayed (and only they)
        out1c, cp1c = os.path.join(tmp, "out1c"), os.path.join(tmp, "old.checkpoint")
        os.makedirs(out1c)
        log_series = sorted({corpus.series_name(f) for f in corpus.logs if not f["insight"]})
        with open(cp1c, "w") as f:
            f.write(f"ctindex-checkpoint 1\nsource s3://{BUCKET}/{PREFIX}\ntarget dir:{os.path.realpath(out1c)}\n")
            f.writelines(f"done {s} 2024-05-01..2024-05-06\n" for s in log_series)
            f.write("end\n")
        rc, out, err = run([f"s3://{BUCKET}/{PREFIX}", "--since", "2024-05-01", "--until", "2024-05-06",
                            "--checkpoint", cp1c, "--sink", "dir:" + out1c, "--no-progress", "--verbose"], env)
        want = corpus.ids(insight_files)
        got = batch_ids(out1c)
        check(rc == 0 and set(got) == want, f"old checkpoint: loads, and only the Insights events are indexed ({rc}; "
                                            f"{len(set(got))} of {len(want)}, extra {len(set(got) - want)})", err[-800:])
        relisted = {s for (s, d) in listed_days(err) if "/CloudTrail-Insight/" not in s}
        check(not relisted, f"old checkpoint: no day of the log series is listed again ({sorted(relisted)[:2]})")
        final = read_checkpoint(cp1c)
        ins_series = {corpus.series_name(f) for f in insight_files}
        check(set(final) == set(log_series) | ins_series and all(v == set(day_range("2024-05-01", "2024-05-06"))
                                                                 for v in final.values()),
              f"old checkpoint: now holds the {len(ins_series)} Insights series too")

        # 2. signatures are checked: a wrong secret cannot list
        bad = dict(env, AWS_SECRET_ACCESS_KEY="wrong" + secret)
        rc, out, err = run([f"s3://{BUCKET}/{PREFIX}", "--since", "2024-05-01", "--sink", "dir:" + os.path.join(tmp, "x"),
                            "--no-progress"], bad, timeout=60)
        check(rc == 2 and "SignatureDoesNotMatch" in err, f"wrong secret: exit 2 with SignatureDoesNotMatch ({rc})")

        # 3. SIGTERM mid-way into CloudSearch, 4. kill -9 mid-way into OpenSearch; both resumed
        with fakelib.FakeSearch(access_key=akid, secret_key=secret, region="us-east-1", schema=schema_file,
                                os_auth="sigv4") as fake:
            sinks = [("sigterm", "cloudsearch:" + fake.url, "cloudsearch", signal.SIGTERM),
                     ("kill9", f"opensearch:{fake.url},auth=sigv4", "opensearch", signal.SIGKILL)]
            for label, sink, service, sig in sinks:
                fake.reset()
                interrupted_then_resumed(corpus, env, tmp, label, sink, fake, service, sig)

            # 5. a checkpoint belongs to one replay
            rc, out, err = run([f"s3://{BUCKET}/{PREFIX}", "--since", "2024-05-01", "--sink", "dir:" + out1,
                                "--checkpoint", os.path.join(tmp, "sigterm.checkpoint"), "--no-progress"], env)
            check(rc == 2 and "belongs to a replay into cloudsearch:" in err,
                  f"a checkpoint of another sink is refused ({rc})", err[-300:])

        # 6. --enqueue: one message per in-range file; `ctindex run` indexes them
        q = sqs.create_queue(QueueName="backfill", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        rc, out, err = run([f"s3://{BUCKET}/{PREFIX}", "--since", "2024-05-03", "--until", "2024-05-05",
                            "--enqueue", q, "--no-progress"], env)
        want_files = corpus.select("2024-05-03", "2024-05-05")
        check(rc == 0 and f"files:   {len(want_files)} enqueued, 0 failed" in out,
              f"enqueue: exit 0, {len(want_files)} files enqueued ({rc})", out[:300] + err[-800:])
        bodies = []
        for _ in range(100):
            msgs = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                       WaitTimeSeconds=0).get("Messages", [])
            if not msgs:
                break
            bodies.extend(json.loads(m["Body"]) for m in msgs)
        keys = [k for b in bodies for k in b["s3ObjectKey"]]
        check(len(bodies) == len(want_files) and all(len(b["s3ObjectKey"]) == 1 and b["s3Bucket"] == BUCKET
                                                       for b in bodies),
              f"enqueue: one message per file ({len(bodies)} messages for {len(want_files)} files)")
        check(sorted(keys) == sorted(f["key"] for f in want_files), "enqueue: exactly the in-range keys")
        # make them visible again and let the service index them
        q2 = sqs.create_queue(QueueName="backfill2", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        rc, out, err = run([f"s3://{BUCKET}/{PREFIX}", "--since", "2024-05-03", "--until", "2024-05-05",
                            "--enqueue", q2, "--no-progress", "--quiet"], env)
        out6 = os.path.join(tmp, "out6")
        p = subprocess.run([BIN, "run", "--queue", q2, "--sink", "dir:" + out6, "--receivers", "1", "--wait", "1",
                            "--exit-when-idle", "3", "--stats-interval", "0", "--dead-letter",
                            os.path.join(tmp, "dead6.jsonl")], env=env, capture_output=True, text=True, timeout=300)
        got = batch_ids(out6)
        check(p.returncode == 0 and set(got) == corpus.ids(want_files),
              f"enqueue: `ctindex run` indexes every in-range eventID from the messages ({p.returncode}, "
              f"{len(set(got))} of {len(corpus.ids(want_files))})", p.stderr[-800:])
        # 7. today: indexed, but not recorded as finished (CloudTrail still delivers into it)
        import datetime
        today = datetime.datetime.now(datetime.timezone.utc).date()
        src = corpus.logs[0]
        key = (f"{PREFIX}AWSLogs/{accounts[1]}/CloudTrail/{regions[0]}/{today:%Y/%m/%d}/"
               f"{accounts[1]}_CloudTrail_{regions[0]}_{today:%Y%m%d}T0005Z_TodayTodayToday1.json.gz")
        s3.upload_file(src["path"], BUCKET, key)
        out7, cp7 = os.path.join(tmp, "out7"), os.path.join(tmp, "today.checkpoint")
        rc, out, err = run([f"s3://{BUCKET}/{PREFIX}", "--since", today.isoformat(), "--sink", "dir:" + out7,
                            "--checkpoint", cp7, "--no-progress"], env)
        nseries = len({corpus.series_name(f) for f in corpus.logs})
        check(rc == 0 and set(batch_ids(out7)) == set(src["ids"]), f"today: its file is indexed ({rc})", err[-800:])
        check(f"0 finished, 0 finished before (checkpoint), 0 failed, {nseries} indexed but too recent to record"
              in out and read_checkpoint(cp7) == {}, "today: no day of today is recorded in the checkpoint", out)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
