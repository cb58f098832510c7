#!/usr/bin/env python3
"""End-to-end test of the index benchmark's harness (bench/bench_index) on a small generated corpus:
the sliced measurement must replay every record exactly once across its slices (counted here
independently), feed the ceiling the same documents, skip the files a replay of the folder skips,
report the ratio of the totals with each slice's ratio, and build an index with the same content as
one whole replay (--compare-whole). --single, the measurement before slices, still reports. Checks
the harness, not speed: no figure of time is asserted beyond being printed and consistent."""
import glob
import gzip
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

BUILD = os.environ.get("CTINDEX_BUILD", "build")
BENCH = os.path.join(BUILD, "bench", "bench_index")
CTGEN = os.path.join(BUILD, "bench", "ctgen")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import fakelib  # noqa: E402

check = fakelib.Checks()


def run(args, timeout=400):
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def count_records(corpus):
    """Records of the files a replay of the folder reads (CloudTrail logs, not digests or .txt)."""
    n = 0
    for path in glob.glob(os.path.join(corpus, "AWSLogs", "*", "CloudTrail", "**", "*.json.gz"), recursive=True):
        with open(path, "rb") as f:
            n += len(json.loads(gzip.decompress(f.read())).get("Records", []))
    return n


def make_corpus(tmp):
    # Slices of at least 1,000 records: the index trains its zstd dictionary on its first ~1,000
    # records, which a smaller first slice samples from the store in another order than one whole
    # replay does (a dictionary of its own, other stored bytes), and --compare-whole would say so.
    corpus = os.path.join(tmp, "corpus")
    rc, _, err = run([CTGEN, "--out", corpus, "--files", "3", "--min-records", "1000", "--max-records", "1100",
                      "--seed", "3", "--days", "2", "--accounts", "2", "--regions", "2"])
    check(rc == 0, "ctgen made the corpus", err)
    # What a walk of the folder skips: a digest (by its folder) and another extension. The ceiling
    # must skip them too: the .txt is not gzip and would fail its pass.
    d = os.path.join(corpus, "AWSLogs", "123456789012", "CloudTrail-Digest", "us-east-1", "2024", "05", "01")
    os.makedirs(d)
    with open(os.path.join(d, "123456789012_CloudTrail-Digest_us-east-1_t_us-east-1_20240501T000000Z.json.gz"),
              "wb") as f:
        f.write(gzip.compress(b'{"awsAccountId":"123456789012","logFiles":[]}'))
    with open(os.path.join(corpus, "AWSLogs", "notes.txt"), "w") as f:
        f.write("not a log\n")
    return corpus


def number(out, pattern, what):
    m = re.search(pattern, out, re.M)
    check(m is not None, "report shows " + what, out)
    return m


def test_slices(tmp, corpus, expected):
    index = os.path.join(tmp, "ix.db")
    rc, out, err = run([BENCH, "--corpus", corpus, "--index", index, "--slices", "3", "--compare-whole",
                        "--reps", "3"])
    print(out)
    check(rc == 0, "bench_index in 3 slices succeeds (rc %d)" % rc, err)
    slices = re.findall(r"^slice +(\d+)/3: +(\d+) files, +(\d+) records, (engine|ceiling) +first: engine +([\d.]+) s "
                        r"CPU \( *\d+ records/CPU-s\), ceiling +([\d.]+) s CPU \( *\d+ documents/CPU-s\): "
                        r"ratio ([\d.]+)x$", out, re.M)
    check([int(s[0]) for s in slices] == [1, 2, 3], "one line per slice, in order")
    check(sum(int(s[1]) for s in slices) == 3 and all(int(s[1]) == 1 for s in slices),
          "the 3 log files, one a slice (the digest and .txt left out)")
    check(sum(int(s[2]) for s in slices) == expected,
          "the slices' replays read every record once (%d, counted here %d)"
          % (sum(int(s[2]) for s in slices), expected))
    check([s[3] for s in slices] == ["engine", "ceiling", "engine"], "the first of the two alternates")
    m = number(out, r"^engine \(.*3 replays of one slice each\): [\d.]+ s wall, ([\d.]+) s CPU .*peak RSS ([\d.]+) MB",
               "the engine's totals")
    if m and len(slices) == 3:
        cpu = float(m.group(1))
        check(abs(cpu - sum(float(s[4]) for s in slices)) <= 0.02, "the engine's CPU is the sum of the slices'")
        check(float(m.group(2)) > 1, "a peak RSS")
    m = number(out, r"^  a replay's start and stop: ([\d.]+) s CPU .*, counted in it$", "a replay's start and stop")
    if m:
        check(0 < float(m.group(1)) < 5, "a replay's start and stop is measured (%s s)" % m.group(1))
    m = number(out, r"^  page faults: (\d+) in 3 replays", "the replays' page faults")
    if m:
        check(int(m.group(1)) > 0, "page faults counted")
    m = number(out, r"^ceiling \(FTS5 alone, text fields of the same (\d+) documents, slice by slice into one "
                    r"database\): ([\d.]+) s CPU", "the ceiling's totals")
    if m:
        check(int(m.group(1)) == expected, "the ceiling built the same documents (%s)" % m.group(1))
    check("WARNING" not in out, "no warning")
    number(out, r"^ratio: [\d.]+x of the ceiling \(target >= 0\.70: (met|NOT met)\)$", "the ratio of the totals")
    m = number(out, r"^slices: 3, ratio median ([\d.]+)x, min ([\d.]+)x, max ([\d.]+)x, spread \d+% of the median$",
               "the slices' median and spread")
    if m and len(slices) == 3:
        ratios = sorted((s[6] for s in slices), key=float)
        check([m.group(2), m.group(1), m.group(3)] == ratios, "min, median and max are the slices' ratios")
    m = number(out, r"^whole replay \(--compare-whole\): (\d+) records", "the whole replay")
    if m:
        check(int(m.group(1)) == expected, "the whole replay read every record")
    check(re.search(r"^content: the same in both", out, re.M) is not None,
          "the sliced index holds what one whole replay builds")
    check(re.search(r"DIFFERENT", out) is None, "no part differs")
    db = sqlite3.connect("file:%s?mode=ro" % index, uri=True)
    docs = db.execute("SELECT count(*) FROM docs").fetchone()[0]
    db.close()
    check(docs == expected, "the index holds every record once (%d documents)" % docs)
    check(not os.path.exists(index + "-whole.db"), "the whole replay's file is removed")
    number(out, r"^size: [\d.]+ MB, \d+ bytes per record", "bytes per record")
    number(out, r"^  literal term, 10 newest +wall p50 +[\d.]+ p99", "latencies")


def test_single(tmp, corpus, expected):
    index = os.path.join(tmp, "single.db")
    rc, out, err = run([BENCH, "--corpus", corpus, "--index", index, "--single", "--reps", "3"])
    print(out)
    check(rc == 0, "bench_index --single succeeds (rc %d)" % rc, err)
    m = number(out, r"^corpus: \d+ files, (\d+) records", "the corpus")
    if m:
        check(int(m.group(1)) == expected, "one replay read every record")
    number(out, r"^ceiling \(FTS5 alone, text fields of the same \d+ documents\): [\d.]+ s CPU \([\d.]+ before the "
                r"engine, [\d.]+ after\)", "the ceiling before and after")
    number(out, r"^ratio: [\d.]+x of the ceiling", "the ratio")
    check("slice" not in out, "no slices")
    rc, _, err = run([BENCH, "--corpus", corpus, "--index", index, "--single", "--slices", "2"])
    check(rc == 1 and "--single takes neither" in err, "--single refuses --slices")


def main():
    for p in (BENCH, CTGEN):
        if not os.path.exists(p):
            print("missing %s: build the project first" % p)
            return 1
    tmp = tempfile.mkdtemp(prefix="ctindex-bench-index-test-")
    try:
        corpus = make_corpus(tmp)
        expected = count_records(corpus)
        check(expected >= 3000, "the corpus holds records (%d)" % expected)
        test_slices(tmp, corpus, expected)
        test_single(tmp, corpus, expected)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
