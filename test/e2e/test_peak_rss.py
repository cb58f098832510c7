#!/usr/bin/env python3
"""The peak RSS a replay prints is its own: started from a large parent (Python's subprocess
starts children with vfork, as bench_index does with posix_spawn), getrusage's ru_maxrss counted
the parent's pages too (a replay of 4 records said 413.6 MB from a 400 MB parent). The figure
must be the process's own high-water mark (VmHWM), well below the parent's."""
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
check = fakelib.Checks()


def main():
    tmp = tempfile.mkdtemp(prefix="ctindex-peak-rss-")
    try:
        logs = os.path.join(tmp, "logs")
        os.makedirs(logs)
        recs = [{"eventID": "e-%d" % i, "eventName": "GetObject", "eventTime": "2024-05-01T00:00:%02dZ" % i}
                for i in range(4)]
        with open(os.path.join(logs, "111122223333_CloudTrail_us-east-1_20240501T0000Z_x.json.gz"), "wb") as f:
            f.write(gzip.compress(json.dumps({"Records": recs}).encode()))
        big = bytearray(400 << 20)  # the parent's pages, touched
        for i in range(0, len(big), 4096):
            big[i] = 1
        p = subprocess.run([BIN, "replay", logs, "--sink", "index:" + os.path.join(tmp, "ix.db"), "--no-progress"],
                           capture_output=True, text=True, timeout=120)
        del big
        check(p.returncode == 0, "the replay succeeds", p.stderr[-800:])
        m = re.search(r"peak RSS ([0-9.]+) MB", p.stdout)
        mb = float(m.group(1)) if m else None
        print("peak RSS printed:", mb)
        check(mb is not None and 0 < mb < 200, "the peak RSS is the replay's own, not its 400 MB parent's", p.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
