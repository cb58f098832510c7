#!/usr/bin/env python3
"""Every shape CloudTrail records are held in, through `ctindex replay DIR` and `convert`, offline.

  * ctgen writes the same records (same seed) in every shape: a top-level array, JSON lines (LF and
    CRLF), back-to-back JSON, EventBridge events (detail before detail-type in every other one),
    CloudWatch Logs subscription payloads (one gzip member each, a CONTROL_MESSAGE first,
    messageType last in every other one; Firehose names without an extension), lookup-events output
    (pretty, as the CLI prints it) and its entries one a line, records as JSON strings; with
    --edge-cases, a two-member gzip file cut inside a record in every shape. Each must give exactly
    the documents the S3 delivery files ({"Records":[...]}) give, byte for byte.
  * A broken line (JSON lines, EventBridge lines) or a broken log event (CloudWatch Logs) loses only
    its own record, which goes to the dead-letter file; the exit status stays 0.
  * In a folder walk, files that are none of the shapes (text without an extension, a 0-byte file, a
    JSON object of another program) are named with the reason, recorded in the dead-letter file and
    make the exit status 1; names with another extension are not read, summarised, and named with
    --verbose; {"Records":[]} and a digest (judged by content) are no failure. A file given by name
    is read whatever its name.
  * Messages say what happened to the records: no "records before this point are kept" when none
    were read.
  * Memory stays bounded for a large JSON lines file as for a large Records file."""
import glob
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import fakelib  # noqa: E402

BIN = os.environ["CTINDEX_BIN"]
BUILD = os.environ["CTINDEX_BUILD"]
CTGEN = os.path.join(BUILD, "bench", "ctgen")
GEN = ["--files", "6", "--max-records", "250", "--seed", "11", "--edge-cases", "--insights", "2", "--days", "2"]
check = fakelib.Checks()


def run(args, timeout=300):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def ctgen(out, *extra):
    p = run([CTGEN, "--out", out] + GEN + list(extra))
    check(p.returncode == 0, f"ctgen {' '.join(extra)}", p.stderr[-500:])
    return dict(re.findall(r"(\w+)=(\d+)", p.stdout))


def replay(src, out, *extra):
    p = run([BIN, "replay", src, "--sink", "dir:" + out, "--no-progress"] + list(extra))
    return p


def documents(out):
    """id -> document, as the batch files hold them."""
    docs, twice = {}, []
    for path in sorted(glob.glob(os.path.join(out, "batch-*.json"))):
        with open(path, encoding="utf-8") as f:
            for d in json.load(f):
                if d["id"] in docs:
                    twice.append(d["id"])
                docs[d["id"]] = json.dumps(d, sort_keys=True)
    check(not twice, f"{os.path.basename(out)}: every document once", twice[:3])
    return docs


def dead_letters(out):
    path = os.path.join(out, "dead-letter.jsonl")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def lines(path):
    with open(path) as f:
        return [x.strip() for x in f if x.strip()]


def check_shapes(tmp):
    base = os.path.join(tmp, "s3")
    ctgen(base, "--ids", os.path.join(tmp, "ids"))
    p = replay(base, os.path.join(tmp, "out-s3"))
    check(p.returncode == 0, "s3 delivery files: exit 0", p.stderr[-800:])
    want = documents(os.path.join(tmp, "out-s3"))
    ids = set(lines(os.path.join(tmp, "ids")))
    check(len(want) > 300 and ids <= set(want), f"s3 delivery files: every eventID indexed ({len(want)} documents)")

    variants = [("array",), ("ndjson",), ("ndjson", "--crlf"), ("ndjson", "--plain"), ("concat",),
                ("eventbridge",), ("cwlogs", "--layout", "firehose"), ("cwlogs", "--plain"), ("lookup",),
                ("lookup-lines", "--crlf"), ("strings",)]
    for v in variants:
        label = " ".join(v)
        src, out = os.path.join(tmp, "src-" + "-".join(v)), os.path.join(tmp, "out-" + "-".join(v))
        ctgen(src, "--shape", *v)
        p = replay(src, out)
        got = documents(out)
        check(p.returncode == 0, f"{label}: exit 0", p.stderr[-800:])
        check(" 0 failed, 0 refused" in p.stdout, f"{label}: no file failed or refused", p.stdout)
        missing, extra = set(want) - set(got), set(got) - set(want)
        differ = [i for i in set(want) & set(got) if want[i] != got[i]]
        check(not missing and not extra and not differ,
              f"{label}: the same documents as from the S3 delivery files ({len(missing)} missing, {len(extra)} "
              f"extra, {len(differ)} different: {(sorted(missing) + sorted(extra) + differ)[:3]})")
        check(not dead_letters(out), f"{label}: no dead letters", dead_letters(out)[:2])
        if v[0] == "cwlogs":
            m = re.search(r"(\d+) CloudWatch Logs control messages", p.stdout)
            check(m and int(m.group(1)) >= 6, f"{label}: control messages counted", p.stdout)

    # A broken line (or log event) loses its own record only.
    for v in [("ndjson", "--crlf"), ("eventbridge",), ("strings",), ("cwlogs", "--layout", "firehose")]:
        label = " ".join(v) + " --broken-line"
        src, out = os.path.join(tmp, "broken-" + v[0]), os.path.join(tmp, "out-broken-" + v[0])
        bids = os.path.join(tmp, "broken-" + v[0] + ".ids")
        summary = ctgen(src, "--shape", *v, "--broken-line", "--broken-ids", bids)
        broken = set(lines(bids))
        p = replay(src, out)
        got = documents(out)
        check(p.returncode == 0, f"{label}: exit 0 (the broken records are in the dead-letter file)", p.stderr[-800:])
        check(len(broken) == int(summary.get("broken", -1)) and len(broken) >= 4,
              f"{label}: ctgen broke {len(broken)} records")
        check(set(got) == set(want) - broken and all(got[i] == want[i] for i in got),
              f"{label}: every other record is indexed, unchanged ({len(set(want) - broken - set(got))} missing)")
        dead = dead_letters(out)
        check(len(dead) == len(broken) and all(d["kind"] == "record" and d["source"].startswith(src) for d in dead),
              f"{label}: one dead-letter entry per broken record", [d.get("reason") for d in dead][:3])
        check(all(("broken" in d["reason"] or "message of log event" in d["reason"]) for d in dead),
              f"{label}: the dead letters say why", [d.get("reason") for d in dead][:3])


def check_walk(tmp):
    src, out = os.path.join(tmp, "walk"), os.path.join(tmp, "out-walk")
    ctgen(src, "--shape", "ndjson", "--layout", "firehose")
    extras = {
        "notes.txt": b"not read: another extension",
        "README": b"# a folder of exports\n",
        "empty.json": b"",
        "package.json": b'{"name":"tool","version":"1.0"}',
        "records-empty.json.gz": gzip.compress(b'{"Records":[]}'),
        "digest-copy.json": b'{"awsAccountId":"1","digestStartTime":"2024-05-01T00:00:00Z","logFiles":[]}',
    }
    for name, data in extras.items():
        with open(os.path.join(src, name), "wb") as f:
            f.write(data)
    p = replay(src, out)
    check(p.returncode == 1, f"walk: exit 1 when files are not indexed ({p.returncode})", p.stderr[-800:])
    check(" 3 refused (not CloudTrail records), 1 without records, 1 digests skipped, 1 other files skipped" in p.stdout,
          "walk: the summary counts refused, empty, digest and other files", p.stdout)
    for name, why in (("README", "text that is not JSON ('# a folder of exports"), ("empty.json", "empty file (0 bytes)"),
                      ("package.json", 'an object with keys "name", "version"')):
        path = os.path.join(src, name)
        check(re.search(re.escape(path) + r": not indexed: .*" + re.escape(why), p.stderr),
              f"walk: {name} is named with the reason", p.stderr[-1500:])
    check("notes.txt" not in p.stderr and "1 file(s) in the folders were not read" in p.stderr,
          "walk: a skipped name is summarised without --verbose", p.stderr[-800:])
    files = {d["source"]: d for d in dead_letters(out) if d["kind"] == "file"}
    check(set(files) == {os.path.join(src, n) for n in ("README", "empty.json", "package.json")},
          "walk: each refused file has a dead-letter entry", sorted(files))
    check(files.get(os.path.join(src, "package.json"), {}).get("data") == extras["package.json"].decode(),
          "walk: the entry holds the file's first bytes")
    p = replay(src, out + "-v", "--verbose")
    check(re.search(re.escape(os.path.join(src, "notes.txt")) + r": not read: a walk reads names with", p.stderr),
          "walk: --verbose names the skipped file", p.stderr[-800:])

    # A file given by name is read whatever its name, and judged by content.
    p = run([BIN, "convert", os.path.join(src, "notes.txt"), "-o", os.path.join(tmp, "out-named")])
    check(p.returncode == 1 and "notes.txt: not indexed: the file's first value is text that is not JSON" in p.stderr,
          "a file given by name is read and judged by content", p.stderr[-500:])
    good = sorted(glob.glob(os.path.join(src, "20*", "**", "ctgen-stream-*"), recursive=True))[0]
    shutil.copy(good, os.path.join(tmp, "events.log.txt"))
    p = run([BIN, "convert", os.path.join(tmp, "events.log.txt"), "-o", os.path.join(tmp, "out-named2")])
    check(p.returncode == 0 and " 1 indexed," in p.stdout, "a file of records given by name is indexed", p.stderr[-500:])


def check_messages(tmp):
    # A gzip file cut before its first record ends: the message does not claim records were kept.
    d = os.path.join(tmp, "msg")
    os.makedirs(d)
    blob = gzip.compress(b'{"Records":[{"eventVersion":"1.08","eventID":"x","pad":"' + b"p" * 5000 + b'"}]}')
    with open(os.path.join(d, "cut.json.gz"), "wb") as f:
        f.write(blob[: len(blob) // 2])
    with open(os.path.join(d, "lines.jsonl"), "w") as f:
        f.write('{"eventVersion":"1.08","eventID":"a"}\n{"eventVersion":"1.08","eventID":"b"}\n')
    p = replay(d, os.path.join(tmp, "out-msg"))
    check(p.returncode == 1, "messages: a damaged file makes exit 1")
    check("cut.json.gz" in p.stderr and "no record of it was read" in p.stderr and "are kept" not in p.stderr,
          "messages: a damaged file's message says no record was read", p.stderr[-800:])
    check("data after the end" not in p.stderr and "lines.jsonl" not in p.stderr,
          "messages: JSON lines are read without a warning", p.stderr[-800:])
    check(set(documents(os.path.join(tmp, "out-msg"))) == {"a", "b"}, "messages: the JSON lines are indexed")


def peak_rss_mb(stdout):
    m = re.search(r"peak RSS ([0-9.]+) MB", stdout)
    return float(m.group(1)) if m else -1.0


def check_memory(tmp):
    """A large JSON lines file streams like a large Records file of the same records: the same peak
    memory, far below the file's size."""
    line = json.dumps({"eventVersion": "1.08", "eventID": "ID", "eventName": "GetObject",
                       "requestParameters": {"bucketName": "b", "key": "k" * 1200}}, separators=(",", ":"))
    n = 50000  # about 65 MB
    rss = {}
    for shape in ("jsonl", "json"):
        d = os.path.join(tmp, "big-" + shape)
        os.makedirs(d)
        path = os.path.join(d, "big." + shape)
        with open(path, "w") as f:
            f.write("" if shape == "jsonl" else '{"Records":[')
            for i in range(n):
                sep = "\n" if shape == "jsonl" else ("," if i < n - 1 else "]}")
                f.write(line.replace('"ID"', '"id-%d"' % i) + sep)
        size_mb = os.path.getsize(path) / 1e6
        p = replay(d, os.path.join(tmp, "out-big-" + shape), "--no-raw")
        check(p.returncode == 0 and f"records: {n} read, {n} documents" in p.stdout, f"memory: every {shape} record "
              "indexed", p.stdout + p.stderr[-500:])
        rss[shape] = peak_rss_mb(p.stdout)
        shutil.rmtree(d)
        shutil.rmtree(os.path.join(tmp, "out-big-" + shape))
    check(0 < rss["jsonl"] < 64 and rss["jsonl"] < size_mb and rss["jsonl"] < rss["json"] * 1.15 + 4,
          f"memory: peak RSS {rss['jsonl']} MB for a {size_mb:.0f} MB JSON lines file, {rss['json']} MB for the "
          "same records in a Records file")


def main():
    tmp = tempfile.mkdtemp(prefix="ctindex-shapes-")
    try:
        check_shapes(tmp)
        check_walk(tmp)
        check_messages(tmp)
        check_memory(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
