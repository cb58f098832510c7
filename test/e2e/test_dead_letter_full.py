#!/usr/bin/env python3
"""The dead-letter file in `ctindex replay DIR` (no peers needed):

  * on a full disk (/dev/full), the file whose unusable records could not be dead-lettered is
    not counted as indexed: exit 1, its name and the reason on stderr; every good record, of it
    and of the other file, is still stored;
  * once it can be written, it holds those records, and it is created with mode 0600 even under
    umask 000 (it holds raw records);
  * a record nested a million levels deep (2 MB) is dead-lettered as too deeply nested, at the
    cost of any other 2 MB record (the whole replay is given 60 s; it took about 17 minutes of
    CPU before)."""
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


def write_log(folder, name, parts):
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(gzip.compress(('{"Records":[' + ",".join(parts) + "]}").encode()))
    return path


def good(i):
    return json.dumps({"eventID": "good-%d" % i, "eventName": "GetObject", "eventTime": "2024-05-01T00:00:%02dZ" % i})


def stored_ids(out):
    ids = []
    for name in sorted(os.listdir(out)):
        if name.startswith("batch-"):
            with open(os.path.join(out, name)) as f:
                ids += [d["id"] for d in json.load(f)]
    return sorted(ids)


def replay(logs, out, dead, umask=None):
    argv = [BIN, "replay", logs, "--sink", "dir:" + out, "--dead-letter", dead, "--no-progress"]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, -1, "", "did not finish within 60 s")


def main():
    tmp = tempfile.mkdtemp(prefix="ctindex-dead-full-")
    try:
        logs = os.path.join(tmp, "logs")
        os.makedirs(logs)
        bad = write_log(logs, "111122223333_CloudTrail_us-east-1_20240501T0000Z_bad.json.gz",
                        [good(0), '{"eventID":"broken","x":tru}', good(1), "42", good(2)])
        write_log(logs, "111122223333_CloudTrail_us-east-1_20240501T0005Z_fine.json.gz", [good(3), good(4)])

        if os.access("/dev/full", os.W_OK):
            p = replay(logs, os.path.join(tmp, "out-full"), "/dev/full")
            print(p.stderr[-2000:])
            check(p.returncode == 1, "a dead letter that cannot be written fails the replay (exit 1)",
                  f"rc {p.returncode}")
            check(bad in p.stderr and "No space left on device" in p.stderr,
                  "stderr names the file and the reason", p.stderr[-800:])
            check("files:   1 indexed, 1 failed" in p.stdout, "the file is counted as failed, not indexed", p.stdout)
            check(stored_ids(os.path.join(tmp, "out-full")) == ["good-%d" % i for i in range(5)],
                  "every good record is still stored")
        else:
            print("no /dev/full: the full-disk part is skipped")

        deep = '{"eventID":"deep","a":' + "[" * 1000000 + "1" + "]" * 1000000 + "}"
        write_log(logs, "111122223333_CloudTrail_us-east-1_20240501T0010Z_deep.json.gz", [good(5), deep, good(6)])
        out = os.path.join(tmp, "out")
        dead = os.path.join(tmp, "dead.jsonl")
        p = replay(logs, out, dead, umask=0)
        check(p.returncode == 0, "with a writable dead-letter file, the replay succeeds",
              f"rc {p.returncode}: {p.stderr[-800:]}")
        check(stored_ids(out) == ["good-%d" % i for i in range(7)], "every good record is stored")
        entries = []
        if os.path.exists(dead):
            with open(dead) as f:
                entries = [json.loads(line) for line in f]
        reasons = sorted(e["reason"] for e in entries)
        check(len(entries) == 3 and reasons[0].startswith("element of Records is a number") and
              "nested too deeply" in reasons[1] and reasons[2] == "record is not valid JSON",
              "the two unusable records and the deep one are dead-lettered", reasons)
        mode = os.stat(dead).st_mode & 0o7777 if os.path.exists(dead) else None
        check(mode == 0o600, "the dead-letter file is created with mode 0600 under umask 000", mode and oct(mode))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
