#!/usr/bin/env python3
"""Shapes from S3, against moto (signatures checked):

1. `ctindex run`: notifications name objects of every kind. Records in other shapes and under any
   name (Firehose names without an extension, .jsonl, a .txt holding JSON lines, CloudWatch Logs
   payloads as multi-member gzip) are indexed; a 0-byte object and one without any record shape,
   both named like CloudTrail log files, are named on stderr with bucket and key, recorded in the
   dead-letter file (kind "file") and counted in the stats line (objects_refused), and their messages
   are deleted like the others; {"Records":[]} is a normal empty file (objects_empty); control
   messages are counted. Nothing is left in the queue.
2. `ctindex replay s3://BUCKET --prefix PREFIX`: a bucket laid out as Firehose writes it
   (PREFIX/YYYY/MM/DD/HH/...), CloudWatch Logs payloads in it: exactly the records of the days in
   range are indexed, with a checkpoint that a rerun honours (no day listed again); an object with
   another extension is counted, named with --verbose and makes the exit status 1; --prefix does not
   combine with --account or with a prefix in the URL."""
import glob
import gzip
import json
import os
import re
import subprocess
import sys

import runlib
from runlib import BIN, BUILD, fakelib

check = fakelib.Checks()
CTGEN = os.path.join(BUILD, "bench", "ctgen")


def values(data):
    """The top-level JSON values of a file (gzip members and all), one after another."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text, dec, i, out = data.decode("utf-8"), json.JSONDecoder(), 0, []
    while True:
        while i < len(text) and text[i] in " \r\n\t":
            i += 1
        if i >= len(text):
            return out
        v, i = dec.raw_decode(text, i)
        out.append(v)


def cwl_ids(path):
    """eventIDs in a file of CloudWatch Logs payloads."""
    with open(path, "rb") as f:
        data = f.read()
    return [json.loads(e["message"])["eventID"] for p in values(data) if p.get("messageType") == "DATA_MESSAGE"
            for e in p["logEvents"]]


def batch_ids(out):
    ids = []
    for path in sorted(glob.glob(os.path.join(out, "batch-*.json"))):
        with open(path) as f:
            ids.extend(d["id"] for d in json.load(f))
    return ids


def dead_letters(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


def rec(i):
    return {"eventVersion": "1.08", "eventID": "run-%d" % i, "eventTime": "2024-05-01T00:00:%02dZ" % (i % 60),
            "eventName": "GetObject", "eventSource": "s3.amazonaws.com", "awsRegion": "us-east-1"}


def check_run(tmp, moto, akid, secret):
    stack = runlib.Stack(moto, akid, secret, visibility=60)
    cwl = os.path.join(tmp, "cwl")
    subprocess.run([CTGEN, "--out", cwl, "--files", "2", "--max-records", "90", "--seed", "5", "--shape", "cwlogs",
                    "--layout", "firehose"], check=True, capture_output=True)
    want, keys = set(), []
    for path in sorted(glob.glob(os.path.join(cwl, "**", "ctgen-stream-*"), recursive=True)):
        key = "firehose/" + os.path.relpath(path, cwl)
        with open(path, "rb") as f:
            stack.put(key, f.read())
        want |= set(cwl_ids(path))
        keys.append(key)
    day = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/"
    objects = {
        "exports/events.jsonl": "\n".join(json.dumps(rec(i)) for i in range(3)).encode() + b"\n",
        "exports/notes.txt": "\r\n".join(json.dumps(rec(i)) for i in range(3, 5)).encode() + b"\r\n",
        "exports/eventbridge-" + "0" * 8: b"".join(json.dumps({"version": "0", "detail-type": "AWS API Call via "
                                                              "CloudTrail", "detail": rec(i)}).encode()
                                                   for i in range(5, 7)),
        day + "111122223333_CloudTrail_us-east-1_20240501T0000Z_emptyemptyempty1.json.gz": b"",
        day + "111122223333_CloudTrail_us-east-1_20240501T0005Z_norecordsnorecor.json.gz":
            gzip.compress(b'{"name":"not a trail","items":[1,2]}'),
        day + "111122223333_CloudTrail_us-east-1_20240501T0010Z_emptyrecordsarra.json.gz":
            gzip.compress(b'{"Records":[]}'),
    }
    for key, body in objects.items():
        stack.put(key, body)
        keys.append(key)
    want |= {"run-%d" % i for i in range(7)}
    stack.cloudtrail_each(keys)
    out, dead_path = os.path.join(tmp, "out-run"), os.path.join(tmp, "dead-run.jsonl")
    p = subprocess.run([BIN, "run", "--queue", stack.queue, "--sink", "dir:" + out, "--receivers", "1", "--wait", "1",
                        "--exit-when-idle", "3", "--stats-interval", "0", "--dead-letter", dead_path],
                       env=runlib.run_env(moto, akid, secret), capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, f"run: exit 0 ({p.returncode})", p.stderr[-1500:])
    got = batch_ids(out)
    check(set(got) == want and len(got) == len(want), f"run: every record of every shape and name is indexed once "
          f"({len(set(got))} of {len(want)}; missing {sorted(want - set(got))[:3]})")
    refused = [day + "111122223333_CloudTrail_us-east-1_20240501T0000Z_emptyemptyempty1.json.gz",
               day + "111122223333_CloudTrail_us-east-1_20240501T0005Z_norecordsnorecor.json.gz"]
    for key, why in zip(refused, ("an empty file (0 bytes)", 'an object with keys "name", "items"')):
        check(re.search(re.escape(f"s3://{stack.bucket}/{key}: not indexed: ") + ".*" + re.escape(why), p.stderr),
              f"run: {key.rsplit('_', 1)[1]} is named with bucket, key and reason", p.stderr[-1500:])
    files = {d["source"]: d for d in dead_letters(dead_path) if d["kind"] == "file"}
    check(set(files) == {f"s3://{stack.bucket}/{k}" for k in refused}, "run: each refused object is dead-lettered",
          sorted(files))
    final = [st for kind, st in runlib.stats_lines(p.stderr) if kind == "final"]
    st = final[0] if final else {}
    check(st.get("objects_refused") == 2 and st.get("objects_empty") == 1 and st.get("objects_failed") == 0 and
          st.get("objects_skipped") == 0 and st.get("control_messages", 0) >= 2,
          "run: the stats line counts 2 refused objects, 1 empty, control messages, nothing failed or skipped",
          str(st)[:600])
    visible, invisible = stack.counts()
    check(visible + invisible == 0, f"run: every message is deleted ({visible + invisible} left)")


def check_prefix(tmp, moto, akid, secret):
    s3 = runlib.boto3.client("s3", **moto.client_kwargs(akid, secret))
    bucket = "firehose-archive"
    s3.create_bucket(Bucket=bucket)
    src = os.path.join(tmp, "fh")
    subprocess.run([CTGEN, "--out", src, "--files", "12", "--max-records", "60", "--seed", "8", "--days", "4",
                    "--shape", "cwlogs", "--layout", "firehose"], check=True, capture_output=True)
    by_day = {}
    for path in sorted(glob.glob(os.path.join(src, "**", "ctgen-stream-*"), recursive=True)):
        rel = os.path.relpath(path, src)  # YYYY/MM/DD/HH/name
        day = "-".join(rel.split("/")[:3])
        with open(path, "rb") as f:
            s3.put_object(Bucket=bucket, Key="logs/cwl/" + rel, Body=f.read())
        by_day.setdefault(day, set()).update(cwl_ids(path))
    days = sorted(by_day)
    check(len(days) >= 3, f"prefix: the corpus spans {len(days)} days")
    s3.put_object(Bucket=bucket, Key="logs/cwl/%s/00/manifest.csv" % days[1].replace("-", "/"), Body=b"a,b\n")
    s3.put_object(Bucket=bucket, Key="logs/other/x.json", Body=b'{"Records":[{"eventID":"outside"}]}')
    env = runlib.run_env(moto, akid, secret)
    out, cp = os.path.join(tmp, "out-prefix"), os.path.join(tmp, "prefix.checkpoint")
    since, until = days[0], days[-2]
    argv = [BIN, "replay", f"s3://{bucket}", "--prefix", "logs/cwl", "--since", since, "--until", until,
            "--checkpoint", cp, "--sink", "dir:" + out, "--no-progress", "--verbose"]
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    want = set().union(*(by_day[d] for d in days if since <= d <= until))
    got = batch_ids(out)
    check(p.returncode == 1, f"prefix: exit 1, an object was not read by its name ({p.returncode})", p.stderr[-1500:])
    check(set(got) == want and len(got) == len(want),
          f"prefix: exactly the records of the days in range ({len(set(got))} of {len(want)})")
    check("manifest.csv: not read" in p.stderr and " 1 other objects skipped" in p.stdout,
          "prefix: the other object is counted and named with --verbose", p.stdout + p.stderr[-800:])
    with open(cp) as f:
        text = f.read()
    check(f"source s3://{bucket}/logs/cwl/YYYY/MM/DD/" in text and f"done YYYY/MM/DD {since}..{until}" in text,
          "prefix: the checkpoint records the finished days", text)
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    check(p.returncode == 0 and "listing day" not in p.stderr and "already finished (checkpoint)" in p.stderr,
          f"prefix: a rerun lists no finished day again and exits 0 ({p.returncode})", p.stderr[-800:])
    for extra, message in ((["--account", "111122223333"], "--account, --region and --no-insights do not apply"),
                           ([], "give the prefix either in the URL or with --prefix")):
        url = f"s3://{bucket}" + ("" if extra else "/logs")
        p = subprocess.run([BIN, "replay", url, "--prefix", "cwl", "--since", since, "--sink", "dir:" + out] + extra,
                           env=env, capture_output=True, text=True, timeout=60)
        check(p.returncode == 2 and message in p.stderr, f"prefix: usage error: {message}", p.stderr[-300:])


def run(tmp):
    # Raw-URI signing: listings send prefixes with an encoded '/' (see fakelib.MotoServer).
    with fakelib.MotoServer(no_auth_actions=3, raw_uri_signing=True) as moto:
        akid, secret = moto.create_admin_key()
        check_run(tmp, moto, akid, secret)
        check_prefix(tmp, moto, akid, secret)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(runlib.main(run, "ctindex-shapes-s3-"))
