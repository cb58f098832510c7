#!/usr/bin/env python3
"""End-to-end: an index filled by many small `ctindex replay` runs (one file of under 150 records
each, none of which writes the ~1,000 records the zstd dictionary is trained on) ends with its
dictionary, every record compressed with it, about as few stored bytes a record as the index one
replay of the whole folder builds, and every record reading back as it was in the log files
(compared here, by eventID, with the records read from the files themselves)."""
import glob
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

BIN = os.environ["CTINDEX_BIN"]
BUILD = os.environ["CTINDEX_BUILD"]
CTGEN = os.path.join(BUILD, "bench", "ctgen")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import fakelib  # noqa: E402

check = fakelib.Checks()


def run(args, cwd=None):
    proc = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def store_figures(db):
    """(dictionaries, rows compressed without one, stored bytes, rows) of an index file."""
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT (SELECT count(*) FROM dicts), "
                           "(SELECT count(*) FROM store WHERE hex(substr(z, 2, 1)) = '00'), "
                           "(SELECT sum(length(z)) FROM store), (SELECT count(*) FROM store)").fetchone()
    finally:
        con.close()


def main():
    fakelib.require_or_skip(programs=[CTGEN])
    tmp = tempfile.mkdtemp(prefix="ctindex-small-writers-")
    try:
        corpus = os.path.join(tmp, "corpus")
        rc, _, err = run([CTGEN, "--out", corpus, "--files", "24", "--min-records", "60", "--max-records", "140",
                          "--seed", "3", "--days", "2"])
        check(rc == 0, "ctgen makes the corpus", err)
        files = sorted(glob.glob(os.path.join(corpus, "AWSLogs", "*", "CloudTrail", "**", "*.json.gz"),
                               recursive=True))
        records = {}
        for path in files:
            with open(path, "rb") as f:
                for r in json.loads(gzip.decompress(f.read()))["Records"]:
                    records[r["eventID"]] = r
        check(1500 <= len(records) <= 3400, "the corpus holds %d records" % len(records))

        small, whole = os.path.join(tmp, "small.db"), os.path.join(tmp, "whole.db")
        failed = []
        for path in files:
            rc, _, err = run([BIN, "replay", path, "--sink", "index:" + small, "--no-progress"])
            if rc != 0:
                failed.append("%s: rc %d: %s" % (os.path.basename(path), rc, err))
        check(not failed, "a replay of each of the %d files, one at a time, succeeds" % len(files), "\n".join(failed))
        rc, _, err = run([BIN, "replay", corpus, "--sink", "index:" + whole, "--no-progress"])
        check(rc == 0, "one replay of the folder succeeds", err)

        fs, fw = store_figures(small), store_figures(whole)
        print("many replays: %d dictionaries, %d rows without, %.1f stored bytes a record" %
              (fs[0], fs[1], fs[2] / fs[3]))
        print("one replay:   %d dictionaries, %d rows without, %.1f stored bytes a record" %
              (fw[0], fw[1], fw[2] / fw[3]))
        check(fs[3] == len(records) and fw[3] == len(records), "both indexes hold every record once")
        check(fs[0] == 1 and fw[0] == 1, "both indexes have their dictionary")
        check(fs[1] == 0 and fw[1] == 0, "no record is left compressed without it")
        check(fs[2] <= fw[2] * 1.1, "the small replays' index stores at most 10%% more (%d vs %d bytes)" %
              (fs[2], fw[2]))

        rc, out, err = run([BIN, "search", "matchall", "--index", small, "--size", str(len(records)),
                            "--return", "raw", "--json"])
        check(rc == 0, "a search of the small replays' index succeeds", err)
        hits = json.loads(out)["hits"]["hit"] if rc == 0 else []
        same = sum(1 for h in hits if json.loads(h["fields"]["raw"]) == records.get(h["id"]))
        check(len(hits) == len(records) and same == len(records),
              "every record reads back as in its file (%d of %d)" % (same, len(records)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
