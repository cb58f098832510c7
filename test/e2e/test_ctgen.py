#!/usr/bin/env python3
"""Checks bench/ctgen: its files parse, match the real S3 key layout, carry every edge case it
promises, list every eventID in --ids, and are byte-identical for the same seed."""
import filecmp
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import zlib

BUILD = os.environ.get("CTINDEX_BUILD", "build")
CTGEN = os.path.join(BUILD, "bench", "ctgen")

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


# CloudTrail User Guide, "Finding your CloudTrail log files" and "CloudTrail digest file structure"
LOG_NAME = re.compile(r"^\d{12}_CloudTrail_[a-z0-9-]+_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")
INSIGHT_NAME = re.compile(r"^\d{12}_CloudTrail-Insight_[a-z0-9-]+_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")
DIGEST_NAME = re.compile(r"^\d{12}_CloudTrail-Digest_[a-z0-9-]+_trail_[a-z0-9-]+_\d{8}T\d{6}Z\.json\.gz$")
DIR = re.compile(r"^AWSLogs/(\d{12})/(CloudTrail|CloudTrail-Insight|CloudTrail-Digest)/([a-z0-9-]+)/"
                 r"(\d{4})/(\d{2})/(\d{2})/([^/]+)$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def run(args, expect_rc=0):
    p = subprocess.run([CTGEN] + args, capture_output=True, text=True, timeout=300)
    check(p.returncode == expect_rc, f"ctgen {' '.join(args)}: rc {p.returncode} != {expect_rc}: {p.stderr}")
    return p


def summary(stdout):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", stdout)}


def tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root)] = p
    return out


def record_size(r):
    return len(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))


def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)


def main():
    if not os.access(CTGEN, os.X_OK):
        print(f"ctgen not built at {CTGEN}", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="ctgen-test-")
    d1, d2, d3 = (os.path.join(tmp, n) for n in ("a", "b", "c"))
    ids1, ids2 = os.path.join(tmp, "ids1.txt"), os.path.join(tmp, "ids2.txt")
    common = ["--files", "24", "--max-records", "300", "--seed", "4242", "--accounts", "2", "--regions", "3",
              "--days", "2", "--start", "2024-02-28"]
    s = summary(run(["--out", d1] + common + ["--edge-cases", "--digest", "--ids", ids1]).stdout)
    for k in ("files", "records", "json_bytes", "gzip_bytes", "digest_files"):
        check(k in s, f"summary lacks {k}: {s}")

    files = tree(d1)
    logs, insights, digests = {}, {}, {}
    for rel, path in files.items():
        m = DIR.match(rel)
        check(m is not None, f"unexpected path {rel}")
        if not m:
            continue
        acct, kind, region, y, mo, d, name = m.groups()
        trail = "trail_%s_" % region if kind == "CloudTrail-Digest" else ""
        check(name.startswith(f"{acct}_{kind}_{region}_{trail}{y}{mo}{d}T"), f"name does not match its folders: {rel}")
        {"CloudTrail": logs, "CloudTrail-Insight": insights, "CloudTrail-Digest": digests}[kind][rel] = (
            path, acct, region, name)
        pattern = {"CloudTrail": LOG_NAME, "CloudTrail-Insight": INSIGHT_NAME, "CloudTrail-Digest": DIGEST_NAME}[kind]
        check(pattern.match(name) is not None, f"file name breaks the §5.1 layout: {name}")

    check(len(logs) == 24 + 6, f"{len(logs)} CloudTrail/ files, want 24 normal + 6 edge-case")
    check(len(insights) == 1, f"{len(insights)} Insights files, want 1")
    check(len(digests) == 2 * 3 * 2, f"{len(digests)} digests, want one per account/region/day = 12")
    check(s.get("files") == len(logs) + len(insights), f"summary files {s.get('files')}")
    check(s.get("digest_files") == len(digests), f"summary digest_files {s.get('digest_files')}")

    total_records = json_bytes = gz_bytes = 0
    event_ids, no_id, sizes = [], [], []
    ident_types, sources, versions = set(), set(), set()
    all_strings = []
    empty_files = multi_member = null_bodies = errors = 0
    for rel, (path, acct, region, name) in sorted({**logs, **insights}.items()):
        raw = open(path, "rb").read()
        gz_bytes += len(raw)
        check(raw[:2] == b"\x1f\x8b", f"not gzip: {rel}")
        dobj = zlib.decompressobj(31)
        dobj.decompress(raw)
        if dobj.unused_data:
            multi_member += 1
        data = gzip.decompress(raw)  # reads every member
        json_bytes += len(data)
        check(data.count(b"\n") == 0 and data.startswith(b'{"Records":['), f"not one compact line: {rel}")
        doc = json.loads(data)
        recs = doc["Records"]
        if not recs:
            empty_files += 1
        total_records += len(recs)
        stamp = re.search(r"_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z_", name).groups()
        hour_prefix = "%s-%s-%sT%s:" % stamp[:4]
        delivered = "%s-%s-%sT%s:%s:00Z" % stamp
        for r in recs:
            sizes.append(record_size(r))
            all_strings.extend(strings(r))
            if "eventID" in r:
                event_ids.append(r["eventID"])
            else:
                no_id.append(r)
            check(TIME.match(r["eventTime"]) is not None, f"eventTime format {r['eventTime']}")
            check(r["eventTime"].startswith(hour_prefix) and r["eventTime"] <= delivered,
                  f"eventTime {r['eventTime']} outside the hour before delivery {delivered} ({rel})")
            check(r["awsRegion"] == region, f"awsRegion {r['awsRegion']} in a {region} file")
            check(r["recipientAccountId"] == acct, f"recipientAccountId {r['recipientAccountId']} in {acct}'s file")
            versions.add(r["eventVersion"])
            if "/CloudTrail-Insight/" in path:
                check(r["eventType"] == "AwsCloudTrailInsight" and r["eventCategory"] == "Insight",
                      "Insights record type")
                check("eventName" not in r and "userIdentity" not in r and "insightDetails" in r,
                      "Insights record shape")
                check(r["insightDetails"]["state"] in ("Start", "End"), "insight state")
                continue
            for k in ("userIdentity", "eventSource", "eventName", "sourceIPAddress", "requestParameters",
                      "responseElements", "eventType", "eventCategory", "managementEvent"):
                check(k in r, f"record lacks {k}: {r.get('eventName')}")
            ident_types.add(r["userIdentity"]["type"])
            sources.add(r["eventSource"])
            if r["requestParameters"] is None and r["responseElements"] is None:
                null_bodies += 1
            if "errorCode" in r or "errorMessage" in r:
                errors += 1
            if r["eventName"] in ("GetObject", "PutObject"):
                check(r["eventCategory"] == "Data" and r["managementEvent"] is False, "S3 object call is a data event")
                check(len(r.get("resources", [])) == 2 and "additionalEventData" in r, "S3 data event details")
            if r["eventName"] == "AssumeRole" and r["responseElements"]:
                tok = r["responseElements"]["credentials"]["sessionToken"]
                check(400 <= len(tok) <= 820, f"session token length {len(tok)}")
            if r["userIdentity"]["type"] == "AssumedRole":
                sc = r["userIdentity"]["sessionContext"]
                check(sc["attributes"]["mfaAuthenticated"] in ("true", "false") and "sessionIssuer" in sc,
                      "AssumedRole sessionContext")
            if r["eventName"] == "ConsoleLogin":
                check(r["responseElements"] is None or "ConsoleLogin" in r["responseElements"], "ConsoleLogin")

    check(total_records == s.get("records"), f"records in files {total_records} != summary {s.get('records')}")
    check(json_bytes == s.get("json_bytes"), f"JSON bytes {json_bytes} != summary {s.get('json_bytes')}")
    check(gz_bytes == s.get("gzip_bytes"), f"gzip bytes {gz_bytes} != summary {s.get('gzip_bytes')}")

    # eventIDs: unique, UUID v4, exactly the --ids list; one record deliberately has none.
    check(len(no_id) == 1, f"{len(no_id)} records without eventID, want 1")
    check(len(set(event_ids)) == len(event_ids), "duplicate eventIDs")
    uuid4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    check(all(uuid4.match(e) for e in event_ids), "eventID not a UUID v4")
    listed = open(ids1).read().split("\n")
    check(listed[-1] == "", "--ids file does not end with a newline")
    listed = listed[:-1]
    check(len(listed) == len(event_ids) and set(listed) == set(event_ids),
          f"--ids lists {len(listed)} ids, files hold {len(event_ids)}")

    # Realistic mix.
    check(versions <= {"1.08", "1.09", "1.10", "1.11"} and len(versions) >= 3, f"eventVersions {versions}")
    want_types = {"IAMUser", "AssumedRole", "AWSService", "Root", "FederatedUser", "AWSAccount"}
    check(want_types <= ident_types, f"identity types {ident_types}")
    want_src = {s + ".amazonaws.com" for s in ("s3", "sts", "ec2", "kms", "iam", "lambda", "signin")}
    check(want_src <= sources, f"event sources {sources}")
    normal = [n for n in sizes if n < 64 * 1024]
    avg = sum(normal) / len(normal)
    check(1000 <= avg <= 2000, f"average record {avg:.0f} B, want ~1.5 KB")
    print(f"{total_records} records, {len(logs) + len(insights)} files, average record {avg:.0f} B")

    # Edge cases.
    check(any(n > 1024 * 1024 for n in sizes) and max(sizes) < 1536 * 1024, f"biggest record {max(sizes)} B")
    check(any(90_000 <= n <= 130_000 for n in sizes), "no ~100 KB record")
    check(multi_member == 1, f"{multi_member} multi-member gzip files, want 1")
    check(empty_files == 1, f"{empty_files} files with empty Records, want 1")
    check(null_bodies >= 3, f"{null_bodies} records with null requestParameters and responseElements")
    check(errors >= 7, f"only {errors} records with errors")
    joined = "\x1e".join(all_strings)
    for needle, what in (("\x00", "NUL"), ("\x01", "\\u0001"), ("\b", "backspace"), ("\ud800", "lone high surrogate"),
                         ("\udc00", "lone low surrogate"), ("é", "é"), ("日本語", "Japanese"), ("😀", "emoji"),
                         ("\U0001F680", "escaped surrogate pair")):
        check(needle in joined, f"no {what} in any string")

    # Digests: no Records, and together they list every CloudTrail/ log file exactly once.
    listed_logs = []
    for rel, (path, acct, region, name) in digests.items():
        doc = json.loads(gzip.decompress(open(path, "rb").read()))
        check("Records" not in doc, f"digest with Records: {rel}")
        check(doc["awsAccountId"] == acct and doc["digestS3Object"] == rel, f"digest header {rel}")
        for lf in doc["logFiles"]:
            listed_logs.append(lf["s3Object"])
            check(lf["s3Object"].startswith(f"AWSLogs/{acct}/CloudTrail/{region}/"), "digest lists a foreign file")
    check(sorted(listed_logs) == sorted(logs), "digests do not list exactly the CloudTrail/ log files")

    # Determinism: same seed and options => same bytes; the normal files do not depend on
    # --edge-cases/--digest; another seed => other files.
    run(["--out", d2] + common + ["--edge-cases", "--digest", "--ids", ids2])
    t2 = tree(d2)
    check(sorted(t2) == sorted(files), "same seed gave other file names")
    same = [rel for rel in files if rel in t2 and filecmp.cmp(files[rel], t2[rel], shallow=False)]
    check(len(same) == len(files), f"{len(files) - len(same)} files differ between two runs with the same seed")
    check(filecmp.cmp(ids1, ids2, shallow=False), "--ids differ between two runs with the same seed")
    run(["--out", d3] + common)
    t3 = tree(d3)
    check(len(t3) == 24 and all(rel in files and filecmp.cmp(files[rel], p, shallow=False) for rel, p in t3.items()),
          "normal files change when --edge-cases/--digest are added")
    d4 = os.path.join(tmp, "d")
    run(["--out", d4, "--files", "3", "--seed", "4243"])
    check(not set(tree(d4)) & set(files), "another seed gave the same file names")

    # --plain writes .json files with the same layout.
    d5 = os.path.join(tmp, "e")
    s5 = summary(run(["--out", d5, "--files", "3", "--plain", "--seed", "9"]).stdout)
    plain = tree(d5)
    check(len(plain) == 3 and all(p.endswith(".json") for p in plain), f"--plain files {list(plain)}")
    n = sum(len(json.load(open(p, "rb"))["Records"]) for p in plain.values())
    check(n == s5.get("records") and s5.get("gzip_bytes") == 0, "--plain summary")

    # Command line.
    p = run(["--help"])
    check("usage: ctgen --out DIR" in p.stdout, "--help prints the usage")
    p = run(["--out", d5, "--bogus"], expect_rc=2)
    check("unknown option '--bogus'" in p.stderr, "unknown option message")
    run(["--files", "1"], expect_rc=2)
    run(["--out", d5, "--min-records", "10", "--max-records", "5"], expect_rc=2)
    run(["--out", d5, "--start", "2023-02-29"], expect_rc=2)
    run(["--out", d5, "--files", "-1"], expect_rc=2)
    run(["--out", d5, "--regions", "99"], expect_rc=2)

    if failures == 0:
        subprocess.run(["rm", "-rf", tmp])
    else:
        print(f"{failures} failures; output kept in {tmp}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
