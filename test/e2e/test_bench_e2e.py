#!/usr/bin/env python3
"""End-to-end test of the benchmark harness (bench/bench_e2e): on a small generated corpus it must
report every figure, count exactly the records the corpus holds (counted here independently),
and fail when a record does not arrive. Also checks that libctalloc.so really counts allocations.
bench_e2e starts fakeaws and ctindex itself; they die with it (PR_SET_PDEATHSIG), and this test
kills bench_e2e in `finally`."""
import glob
import gzip
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

BUILD = os.environ.get("CTINDEX_BUILD", "build")
BENCH = os.path.join(BUILD, "bench", "bench_e2e")
PRELOAD = os.path.join(BUILD, "bench", "libctalloc.so")
CTALLOC_MAGIC = 0x6374616C6C6F6331

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import fakelib  # noqa: E402

check = fakelib.Checks()


def run_bench(args, timeout=300):
    # --no-pin: this checks the harness, not speed. Pinned, the engine shares core 0 with whatever
    # else is pinned there (every bench_e2e on a shared machine pins its engine to core 0).
    proc = subprocess.Popen([BENCH, "--no-pin"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


def count_records(corpus):
    n = 0
    for path in glob.glob(os.path.join(corpus, "**", "*.json*"), recursive=True):
        with open(path, "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        n += len(json.loads(data).get("Records", []))
    return n


def field(out, pattern, what):
    m = re.search(pattern, out, re.M)
    check(m is not None, "report shows " + what)
    return m


def test_report(tmp):
    corpus = os.path.join(tmp, "corpus")
    rc, out, err = run_bench(["--corpus", corpus, "--files", "4", "--min-records", "3", "--max-records", "400",
                              "--reps", "1", "--engine-reps", "2"])
    print(out)
    check(rc == 0, "bench_e2e succeeds on a generated corpus (rc %d)" % rc)
    if rc != 0:
        print(err)
    check("generating 4 files" in err, "it generated the corpus with ctgen")
    expected = count_records(corpus)
    check(expected >= 12, "the corpus holds records (%d)" % expected)
    m = field(out, r"^documents\s+(\d+) accepted of (\d+) expected, 0 rejected batches, (\d+) messages deleted; "
                   r"engine exit 0$", "documents accepted/expected")
    if m:
        check(int(m.group(1)) == expected and int(m.group(2)) == expected,
              "every record arrived exactly (%s/%s, counted here %d)" % (m.group(1), m.group(2), expected))
        check(int(m.group(3)) == 4, "one message per file deleted")
    m = field(out, r"^corpus .* (\d+) B/record$", "record JSON per record")
    rec_json = int(m.group(1)) if m else 0
    m = field(out, r"^doc bytes  (\d+) B/record, (\d+\.\d\d)x of the record JSON$", "document bytes per record")
    doc_raw = int(m.group(1)) if m else 0
    if m and rec_json:
        check(abs(float(m.group(2)) - doc_raw / rec_json) < 0.006, "the ratio is document over record bytes")
        # raw on: every document holds its whole record, escaped.
        check(doc_raw > rec_json, "documents with raw are larger than their records (%d > %d)" % (doc_raw, rec_json))
    check(re.search(r"^engine .*, SHA extensions (on|absent \(this CPU\));", out, re.M) is not None,
          "the engine line says the SHA extensions are used")
    field(out, r"^engine\s+ctindex run, .*; not pinned \(--no-pin\)$", "the engine line (not pinned)")
    field(out, r"^whole run\s+[\d.]+ s wall:\s+\d+ records/s\s+[\d.]+ MB/s of JSON$", "records/s and MB/s")
    field(out, r"^engine CPU [\d.]+ s \(user [\d.]+, sys [\d.]+\):\s+\d+ records per CPU-second", "records per CPU-s")
    # Two engine runs, each against a fresh fake (every record arrived in each, or the run fails):
    # the one shown is the median, the lower of two, and its figure is the engine CPU line's.
    check(len(re.findall(r"engine: run \d of 2,", err)) == 2, "the engine ran twice")
    m = field(out, r"^runs\s+2 engine runs, the median one \(by records per CPU-second\) shown: (\d+)(\*?) (\d+)(\*?)$",
              "every run's records per CPU-second")
    cpu = re.search(r"^engine CPU .*:\s+(\d+) records per CPU-second", out, re.M)
    if m and cpu:
        runs = [int(m.group(1)), int(m.group(3))]
        shown = runs[0] if m.group(2) else runs[1] if m.group(4) else None
        check((m.group(2) == "*") != (m.group(4) == "*"), "exactly one run is marked as shown")
        check(shown == min(runs), "the run shown is the median (the lower of two): %s of %s" % (shown, runs))
        check(int(cpu.group(1)) == shown, "the engine CPU line is the shown run's (%s)" % cpu.group(1))
    field(out, r"^\s+spread \d+% of the median \((steady|a run without)", "the spread of the runs")
    m = field(out, r"^peak RSS\s+([\d.]+) MB", "peak RSS")
    if m:
        check(1.0 < float(m.group(1)) < 1024.0, "peak RSS is plausible (%s MB)" % m.group(1))
    for name in ("inflate only", "inflate \\+ split \\+ tokenize", "inflate \\+ split \\+ build"):
        field(out, r"^  %s\s+[\d.]+ MB/s\s+\d+ records/s\s+engine [\d.]+x" % name, "ceiling " + name.replace("\\", ""))
    field(out, r"^targets\s+>= 200k records/s", "the targets")
    if "not counted (sanitizer build)" in out:
        print("note: allocations not counted in this (sanitizer) build")
    else:
        field(out, r"^allocs\s+whole run: \d+ \([\d.]+ per record\)$", "allocations per record")
        field(out, r"0 allocations per record in steady state: met in the per-record path \(0 allocations\)",
              "no allocation in the per-record path")
    # A second run reuses the corpus instead of generating it again; without raw and without the SHA
    # extensions: the raw field alone is at least the record's bytes.
    rc, out, err = run_bench(["--corpus", corpus, "--reps", "1", "--engine-reps", "1", "--no-sha-ext", "--",
                              "--no-raw"])
    check(rc == 0 and "reusing" in err, "a second run reuses the corpus")
    field(out, r"^runs\s+1 engine run, the median one \(by records per CPU-second\) shown: \d+\*$", "one run")
    check(re.search(r"^engine .*, SHA extensions (masked \(OPENSSL_ia32cap=:~0x20000000\)|absent \(this CPU\));",
                    out, re.M) is not None, "--no-sha-ext masks the SHA extensions")
    m = field(out, r"^doc bytes  (\d+) B/record", "document bytes per record without raw")
    if m and doc_raw and rec_json:
        check(doc_raw - int(m.group(1)) >= rec_json,
              "raw adds at least the record's bytes (%d - %s >= %d)" % (doc_raw, m.group(1), rec_json))


def test_lost_record_fails(tmp):
    """A record the engine cannot index (an empty object, without the raw field) is dead-lettered and
    never reaches the sink: the harness must say records were lost and exit 1, not report a clean run."""
    corpus = os.path.join(tmp, "lossy")
    d = os.path.join(corpus, "AWSLogs", "123456789012", "CloudTrail", "us-east-1", "2024", "05", "01")
    os.makedirs(d)
    good = {"eventVersion": "1.08", "eventID": "0b0e9a4c-1111-2222-3333-444455556666", "eventName": "GetObject",
            "eventSource": "s3.amazonaws.com", "eventTime": "2024-05-01T00:00:00Z", "awsRegion": "us-east-1"}
    with open(os.path.join(d, "123456789012_CloudTrail_us-east-1_20240501T0000Z_aaaa.json.gz"), "wb") as f:
        f.write(gzip.compress(json.dumps({"Records": [good, {}]}).encode()))
    rc, out, err = run_bench(["--corpus", corpus, "--reps", "1", "--", "--no-raw"])
    print(out)
    check(rc == 1, "a lost record fails the run (rc %d)" % rc)
    check("FAILED: records were lost" in out, "and says so")
    check(re.search(r"^documents\s+1 accepted of 2 expected", out, re.M) is not None, "counting 1 of 2")
    m = re.search(r"^work directory kept: (/tmp/ctindex-bench-run-\w+)$", out, re.M)
    check(m is not None, "it keeps the logs of a failed run")
    if m:
        check(os.path.exists(os.path.join(m.group(1), "engine.log")), "including the engine's log")
        shutil.rmtree(m.group(1), ignore_errors=True)


def test_preload_counts(tmp):
    """libctalloc.so counts the allocations of a program it is preloaded into."""
    counters = os.path.join(tmp, "counters")
    with open(counters, "wb") as f:
        f.write(b"\0" * 4096)
    env = dict(os.environ, LD_PRELOAD=os.path.abspath(PRELOAD), CTINDEX_ALLOC_COUNTERS=counters)
    env.pop("ASAN_OPTIONS", None)
    # 1000 buffers of 1 MB: Python takes each straight from malloc. One at a time (each freed before
    # the next): keeping all of them meant faulting in 1 GB, which under load outran the timeout.
    subprocess.run([sys.executable, "-c", "for _ in range(1000): bytearray(1 << 20)"], env=env, check=True,
                   timeout=60)
    with open(counters, "rb") as f:
        magic, allocs, frees, nbytes = struct.unpack("<4Q", f.read(32))
    check(magic == CTALLOC_MAGIC, "the library mapped the counter file")
    check(allocs >= 1000 and nbytes >= 1000 << 20, "it counted >= 1000 allocations of >= 1000 MB (%d, %d MB)"
          % (allocs, nbytes >> 20))
    check(frees >= 1000, "and their frees (%d)" % frees)


def main():
    for p in (BENCH, PRELOAD):
        if not os.path.exists(p):
            print("missing %s: build the project first" % p)
            return 1
    tmp = tempfile.mkdtemp(prefix="ctindex-bench-test-")
    try:
        test_preload_counts(tmp)
        test_report(tmp)
        test_lost_record_fails(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
