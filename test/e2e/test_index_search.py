"""The embedded index end to end: `ctindex replay DIR` with no --sink indexes into ./ctindex.db, and
`ctindex search` answers the article's sample queries (matchall, event_source:'sqs.amazonaws.com',
a one-day event_time range) and more, with facets, each compared with an oracle computed here,
in Python, from the records ctgen wrote (never from ctindex's own output).

Corpus: ctgen over 2014-09-01..03 (the article's dates) plus one file of SQS events made from
ctgen records (ctgen writes none). A second replay of the same folder changes nothing (documents
are keyed by eventID)."""
import collections
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import shutil
import uuid

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402
from serve_lib import load_records  # noqa: E402

BIN = os.environ["CTINDEX_BIN"]
BUILD = os.environ["CTINDEX_BUILD"]
# The full field profile: the literal-array fields (resource_types) are not in the default one,
# and the index must serve every field a document may carry.
FIELDS = ["--fields", "full"]
check = fakelib.Checks()


def add_sqs_file(root, recs, count=150, seed=5):
    """A CloudTrail file of SQS data events made from ctgen records."""
    rnd = random.Random(seed)
    names = ["SendMessage", "ReceiveMessage", "DeleteMessage", "CreateQueue", "SetQueueAttributes"]
    out = []
    for r in rnd.sample(recs, count):
        r = json.loads(json.dumps(r))
        r["eventSource"] = "sqs.amazonaws.com"
        r["eventName"] = rnd.choice(names)
        r["eventID"] = str(uuid.UUID(int=rnd.getrandbits(128)))
        r["requestParameters"] = {"queueUrl": "https://sqs.us-east-1.amazonaws.com/111122223333/orders-%d" % rnd.randint(1, 3)}
        r.pop("resources", None)
        out.append(r)
    acct = "111122223333"
    d = os.path.join(root, "AWSLogs", acct, "CloudTrail", "us-east-1", "2014", "09", "01")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"{acct}_CloudTrail_us-east-1_20140901T2355Z_SqsEventsFile0001.json.gz")
    with gzip.open(path, "wt") as f:
        json.dump({"Records": out}, f)
    return out


def search(cwd, query, *args, parser=None):
    argv = [BIN, "search", query, "--json"] + list(args)
    if parser:
        argv += ["--parser", parser]
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return None, p
    return json.loads(p.stdout), p


def top_facet(values, n=10):
    c = collections.Counter(values)
    return [(v, k) for v, k in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def got_facet(resp, field):
    return [(b["value"], b["count"]) for b in resp.get("facets", {}).get(field, {}).get("buckets", [])]


def check_query(cwd, name, query, match, recs, facet="event_name", parser=None):
    """found, hit order (newest first), each hit matching, and a facet, against the oracle."""
    want = [r for r in recs if match(r)]
    resp, p = search(cwd, query, "--size", "10", "--facet", f"{facet}:10", "--return", "event_time,event_name",
                     parser=parser)
    if not check(resp is not None, f"{name}: search runs", p.stderr[-500:]):
        return
    hits = resp["hits"]["hit"]
    check(resp["hits"]["found"] == len(want), f"{name}: found {resp['hits']['found']} == oracle {len(want)}")
    by_id = {r["eventID"]: r for r in want}
    check(all(h["id"] in by_id for h in hits), f"{name}: every hit matches the query")
    times = [h["fields"].get("event_time", "") for h in hits]
    newest = sorted((r.get("eventTime", "") for r in want), reverse=True)[:len(hits)]
    check(times == newest, f"{name}: the {len(hits)} newest, in order", f"{times[:3]} vs {newest[:3]}")
    check(len(hits) == min(10, len(want)), f"{name}: {len(hits)} hits returned")
    check(got_facet(resp, facet) == top_facet(r.get(facet_path[facet]) for r in want if r.get(facet_path[facet]) is not None),
          f"{name}: facet {facet} equals the oracle's top 10",
          f"{got_facet(resp, facet)[:4]} vs {top_facet(r.get(facet_path[facet]) for r in want)[:4]}")


facet_path = {"event_name": "eventName", "aws_region": "awsRegion", "event_source": "eventSource"}


def ident(r, key):
    return (r.get("userIdentity") or {}).get(key)


def run(tmp):
    corpus = os.path.join(tmp, "logs")
    subprocess.run([os.path.join(BUILD, "bench", "ctgen"), "--out", corpus, "--files", "30", "--max-records", "600",
                    "--seed", "14", "--start", "2014-09-01", "--days", "3", "--digest"], check=True, capture_output=True)
    recs = load_records(corpus)
    recs += add_sqs_file(corpus, recs)
    check(len(recs) > 2000, f"corpus: {len(recs)} records")
    work = os.path.join(tmp, "work")
    os.makedirs(work)
    h = subprocess.run([BIN, "replay", "--help"], capture_output=True, text=True)
    check("index:ctindex.db" in h.stdout, "replay --help names the default sink")
    p = subprocess.run([BIN, "replay", corpus, "--no-progress"] + FIELDS, cwd=work, capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, f"replay without --sink exits 0 ({p.returncode})", p.stderr[-800:])
    check(os.path.exists(os.path.join(work, "ctindex.db")), "it wrote ./ctindex.db")

    # The article's three queries.
    check_query(work, "matchall", "matchall", lambda r: True, recs)
    check_query(work, "sqs", "event_source:'sqs.amazonaws.com'", lambda r: r.get("eventSource") == "sqs.amazonaws.com",
                recs)
    day = lambda r: "2014-09-01T00:00:00Z" <= r.get("eventTime", "") <= "2014-09-02T00:00:00Z"  # noqa: E731
    check_query(work, "one day", "event_time:['2014-09-01T00:00:00Z','2014-09-02T00:00:00Z']", day, recs,
                facet="aws_region")
    # More of the language.
    check_query(work, "and/not", "(and event_source:'s3.amazonaws.com' (not event_name:'GetObject'))",
                lambda r: r.get("eventSource") == "s3.amazonaws.com" and r.get("eventName") != "GetObject", recs)
    check_query(work, "or/prefix", "(or (prefix field=event_name 'Describe') user_identity_type:'Root')",
                lambda r: r.get("eventName", "").startswith("Describe") or ident(r, "type") == "Root", recs,
                facet="event_source")
    check_query(work, "exclusive range", "event_time:{'2014-09-02T00:00:00Z',}",
                lambda r: r.get("eventTime", "") > "2014-09-02T00:00:00Z", recs)
    roles = collections.Counter(ident(r, "sessionContext") and r["userIdentity"]["sessionContext"].get("sessionIssuer", {})
                                .get("userName") for r in recs)
    role = next(v for v, _ in roles.most_common() if v)
    check_query(work, "literal on a nested field", f"user_identity_session_issuer_user_name:'{role}'",
                lambda r: ((ident(r, "sessionContext") or {}).get("sessionIssuer") or {}).get("userName") == role, recs)
    types = collections.Counter(t.get("type") for r in recs for t in r.get("resources") or [])
    rtype = next(v for v, _ in types.most_common() if v)
    check_query(work, "literal array", f"resource_types:'{rtype}'",
                lambda r: any(t.get("type") == rtype for t in r.get("resources") or []), recs)
    # Text: a word of the user agents, any case, through the structured and the simple parser.
    check_query(work, "text field", "user_agent:'BOTO3'", lambda r: "boto3" in words(r.get("userAgent")), recs)
    check_query(work, "simple parser", "boto3 -athena", lambda r: "boto3" in words(json.dumps(r)) and
                "athena" not in words(json.dumps(r)), recs, parser="simple")
    # A malformed query: CloudSearch's kind of error, exit 2.
    _, p = search(work, "(and event_name:'x'")
    check(p.returncode == 2 and "Syntax error in query" in p.stderr and "offset" in p.stderr,
          f"a malformed query exits 2 saying what and where: {p.stderr.strip()[:120]}")
    # Human output: the count, hit lines and facets.
    p = subprocess.run([BIN, "search", "event_source:'sqs.amazonaws.com'", "--facet", "event_name:3"], cwd=work,
                       capture_output=True, text=True)
    n_sqs = sum(1 for r in recs if r.get("eventSource") == "sqs.amazonaws.com")
    check(p.returncode == 0 and p.stdout.startswith(f"{n_sqs} hits") and "facets:" in p.stdout and
          "sqs.amazonaws.com" in p.stdout, "the human output shows the count, hits and facets", p.stdout[:400])
    # Redelivery: the same files again change nothing.
    p = subprocess.run([BIN, "replay", corpus, "--no-progress"] + FIELDS, cwd=work, capture_output=True, text=True, timeout=600)
    resp, _ = search(work, "matchall", "--size", "0")
    check(p.returncode == 0 and resp and resp["hits"]["found"] == len({r["eventID"] for r in recs}),
          "a second replay of the same files adds nothing (documents keyed by eventID)")
    return check.exit_code()


def words(text):
    import re
    return set(re.findall(r"[a-z0-9]+", (text or "").lower()))


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="ctindex-index-")
    try:
        sys.exit(run(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
