#!/usr/bin/env python3
"""Records larger than --max-record, and elements of Records that hold no record, are never
dropped silently: `ctindex replay DIR` writes one dead-letter entry for each (source path, offset
in the inflated stream, size, first bytes), counts them as dead-lettered in the summary, stores
every other record, and still counts the file as indexed (exit 0). One record is longer than the
splitter's whole buffer, so it is reported while it streams past. No peers needed."""
import glob
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import fakelib  # noqa: E402

BIN = os.environ["CTINDEX_BIN"]
check = fakelib.Checks()


def main():
    tmp = tempfile.mkdtemp(prefix="ctindex-oversized-")
    try:
        logs = os.path.join(tmp, "logs")
        os.makedirs(logs)
        good = [{"eventID": "good-%d" % i, "eventName": "GetObject", "eventTime": "2024-05-01T00:00:%02dZ" % i}
                for i in range(4)]
        medium = json.dumps({"eventID": "medium", "pad": "m" * 5000})        # over the limit, within one write
        huge = json.dumps({"eventID": "huge", "pad": "h{[\\\"" * 100000})    # longer than the whole buffer
        parts = [json.dumps(good[0]), medium, json.dumps(good[1]), '"not a record"', huge, json.dumps(good[2]),
                 "[1, 2]", json.dumps(good[3])]
        text = '{"Records":[' + ",".join(parts) + "]}"
        path = os.path.join(logs, "111122223333_CloudTrail_us-east-1_20240501T0000Z_abc.json.gz")
        with open(path, "wb") as f:
            f.write(gzip.compress(text.encode()))
        out = os.path.join(tmp, "out")
        p = subprocess.run([BIN, "replay", logs, "--sink", "dir:" + out, "--max-record", "2048", "--no-progress"],
                           capture_output=True, text=True, timeout=120)
        check(p.returncode == 0, "the replay succeeds", f"rc {p.returncode}: {p.stderr[-800:]}")
        check("files:   1 indexed, 0 failed" in p.stdout, "the file counts as indexed", p.stdout)
        check("records: 8 read, 4 documents" in p.stdout and "4 dead-lettered" in p.stdout,
              "summary: 8 read, 4 documents, 4 dead-lettered", p.stdout)

        docs = []
        for name in sorted(glob.glob(os.path.join(out, "batch-*.json"))):
            with open(name) as f:
                docs += json.load(f)
        check(sorted(d["id"] for d in docs) == ["good-0", "good-1", "good-2", "good-3"],
              "every good record is stored", [d.get("id") for d in docs])

        with open(os.path.join(out, "dead-letter.jsonl")) as f:
            dead = [json.loads(line) for line in f]
        check(len(dead) == 4, "one dead-letter entry per skipped element", len(dead))
        want = [(medium, "larger than the record limit (2048 bytes)"),
                ('"not a record"', "a string holding text that is not a JSON object"),
                (huge, "larger than the record limit (2048 bytes)"), ("[1, 2]", "is an array, not a record")]
        for entry, (elem, why) in zip(dead, want):
            name = elem[:20]
            offset = text.index(elem)
            check(entry.get("source") == path, f"{name}: names its file", entry.get("source"))
            check(why in entry.get("reason", ""), f"{name}: says why", entry.get("reason"))
            check(entry.get("offset") == offset and entry.get("size") == len(elem),
                  f"{name}: offset {offset} and size {len(elem)}", (entry.get("offset"), entry.get("size")))
            data = entry.get("data", "")
            if len(elem) > 512:
                check(entry.get("truncated") is True and data == elem[:512], f"{name}: its first 512 bytes",
                      data[:60])
            else:
                check("truncated" not in entry and data == elem, f"{name}: all of it", data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
