"""End to end, offline: ctgen corpus -> ctindex replay/convert -> batch files.

Checks what a user of `ctindex replay DIR --sink dir:OUT` relies on: every record of every log
file becomes exactly one document (id = eventID), digest files are skipped and counted, every
batch file is one CloudSearch would accept (validated by the strict fake's own rules against
the schema `ctindex schema` prints), field values equal the source record's, a corrupt file is
reported without losing the good records of the others, and the bulk format is well formed."""
import glob
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
import cloudsearch_docs  # noqa: E402

BIN = os.environ.get("CTINDEX_BIN")
BUILD = os.environ.get("CTINDEX_BUILD")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def run(args, expect=None):
    p = subprocess.run(args, capture_output=True, text=True)
    if expect is not None and p.returncode != expect:
        print(p.stdout, p.stderr)
        check(False, f"{args[:3]} exited {p.returncode}, expected {expect}")
    return p


def load_records(root):
    """eventID -> record for every log file (not digests) under root."""
    records, nfiles, digests = {}, 0, 0
    for path in sorted(glob.glob(os.path.join(root, "**", "*.json*"), recursive=True)):
        if "CloudTrail-Digest" in path:
            digests += 1
            continue
        nfiles += 1
        raw = open(path, "rb").read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        data = json.loads(raw) if raw.strip() else {}
        for rec in data.get("Records", []):
            records.setdefault(rec.get("eventID"), []).append(rec)
    return records, nfiles, digests


def read_batches(out):
    docs = []
    for path in sorted(glob.glob(os.path.join(out, "batch-*.json"))):
        body = open(path, "rb").read()
        check(len(body) <= 5_000_000, f"{path} is {len(body)} bytes, over 5 MB")
        yield path, body


def main():
    if not BIN or not BUILD:
        print("CTINDEX_BIN/CTINDEX_BUILD not set")
        return 2
    ctgen = os.path.join(BUILD, "bench", "ctgen")
    tmp = tempfile.mkdtemp(prefix="ctindex-convert-")
    try:
        corpus, out = os.path.join(tmp, "corpus"), os.path.join(tmp, "out")
        run([ctgen, "--out", corpus, "--files", "25", "--max-records", "800", "--seed", "7", "--edge-cases",
             "--digest", "--ids", os.path.join(tmp, "ids.txt")], expect=0)
        records, nfiles, ndigests = load_records(corpus)
        total = sum(len(v) for v in records.values())
        check(ndigests > 0, "the corpus has digest files")
        schema_path = os.path.join(tmp, "schema.json")
        p = run([BIN, "schema"], expect=0)
        open(schema_path, "w").write(p.stdout)
        schema = cloudsearch_docs.load_schema_file(schema_path)
        check(schema.get("event_time") == "date" and schema.get("error_code") == "literal", "schema types")

        p = run([BIN, "replay", corpus, "--sink", "dir:" + out, "--no-progress"], expect=0)
        m = re.search(r"(\d+) digests skipped", p.stdout)
        check(m and int(m.group(1)) == ndigests, f"summary counts {ndigests} digests: {p.stdout}")
        m = re.search(r"records: (\d+) read, (\d+) documents", p.stdout)
        check(m and int(m.group(1)) == total and int(m.group(2)) == total, f"summary counts {total} records: {p.stdout}")

        ids = []
        for path, body in read_batches(out):
            try:
                ops = cloudsearch_docs.validate_batch(body.decode("utf-8"), False, schema)
            except cloudsearch_docs.BatchError as e:
                check(False, f"{path} would be rejected: {e}")
                continue
            ids.extend(i for _, i in ops)
            for doc in json.loads(body):
                recs = records.get(doc["id"])
                if not recs:
                    continue
                rec, f = recs[0], doc["fields"]
                for src, dst in (("eventName", "event_name"), ("eventSource", "event_source"),
                                 ("awsRegion", "aws_region"), ("eventTime", "event_time"),
                                 ("eventID", "event_id")):
                    if isinstance(rec.get(src), str) and rec[src].isascii():
                        check(f.get(dst) == rec[src], f"{doc['id']}: {dst} {f.get(dst)!r} != {rec[src]!r}")
                ui = rec.get("userIdentity") or {}
                if isinstance(ui.get("type"), str):
                    check(f.get("user_identity_type") == ui["type"], f"{doc['id']}: user_identity_type")
                if rec.get("requestParameters") is None:
                    check("request_parameters" not in f, f"{doc['id']}: null requestParameters omitted")
                if "ctindex_trimmed" not in f and "raw" in f and len(json.dumps(rec)) < 200_000:
                    check(json.loads(f["raw"])["eventID"] == rec["eventID"], f"{doc['id']}: raw holds the record")
        check(len(ids) == len(set(ids)), "no document id twice")
        expected = set(k for k in records if k)
        got = set(ids)
        check(expected <= got, f"missing eventIDs: {sorted(expected - got)[:5]}")
        fallback = [i for i in got - expected]
        check(len(fallback) == len(records.get(None, [])), f"one fallback id per record without eventID: {fallback}")
        check(all(re.fullmatch(r"h_[0-9a-f]+", i) for i in fallback), f"fallback ids look like h_HEX: {fallback}")
        check(len(ids) == total, f"{len(ids)} documents for {total} records")
        listed = set(l.strip() for l in open(os.path.join(tmp, "ids.txt")) if l.strip())
        check(listed <= got, "every eventID ctgen wrote is indexed")

        # convert: explicit files give the same documents; a corrupt file fails alone.
        files = sorted(f for f in glob.glob(os.path.join(corpus, "**", "*.json*"), recursive=True)
                       if "CloudTrail-Digest" not in f)
        bad = os.path.join(tmp, "corrupt.json.gz")
        good = gzip.compress(json.dumps({"Records": [{"eventID": "x"}]}).encode())
        open(bad, "wb").write(good[:10] + b"\x00garbage" + good[18:])
        out2 = os.path.join(tmp, "out2")
        p = run([BIN, "convert", *files, bad, "-o", out2, "--no-progress"], expect=1)
        check("corrupt.json.gz" in p.stderr, "the corrupt file is named on stderr")
        ids2 = [d["id"] for _, body in read_batches(out2) for d in json.loads(body)]
        check(sorted(ids2) == sorted(ids), "convert of the same files gives the same documents")

        # bulk format: action line + source line per record
        out3 = os.path.join(tmp, "out3")
        run([BIN, "replay", corpus, "--sink", "dir:" + out3, "--format", "bulk", "--no-progress"], expect=0)
        n = 0
        for path in glob.glob(os.path.join(out3, "batch-*.ndjson")):
            lines = open(path, "rb").read().split(b"\n")
            check(lines[-1] == b"", f"{path} ends with a newline")
            for a, s in zip(lines[0:-1:2], lines[1:-1:2]):
                action = json.loads(a)["index"]
                check(re.fullmatch(r"cloudtrail-\d{4}\.\d{2}\.\d{2}", action["_index"]) is not None,
                      f"index name {action['_index']}")
                json.loads(s)
                n += 1
        check(n == total, f"bulk has {n} documents for {total} records")

        # an empty folder is nothing to do, not an error (its empty file list used to reach qsort as NULL)
        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)
        p = run([BIN, "replay", empty, "--sink", "dir:" + os.path.join(tmp, "out4"), "--no-progress"], expect=0)
        check("files:   0 indexed, 0 failed" in p.stdout + p.stderr and "runtime error" not in p.stderr,
              "an empty folder replays to nothing")

        # usage errors are clear and exit 2
        p = run([BIN, "replay", corpus], expect=2)
        check("--sink" in p.stderr, "replay without --sink says so")
        p = run([BIN, "replay", os.path.join(tmp, "nope"), "--sink", "dir:" + out], expect=2)
        check("nope" in p.stderr, "a missing folder is named")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
