"""`ctindex serve` answers CloudSearch clients unchanged: the AWS CLI (Debian's awscli, `aws
cloudsearchdomain search` and `upload-documents`) and ctindex's own `cloudsearch:` sink.

Searches (structured and simple, facets, return fields, an error) are compared with an oracle
computed from the ctgen records; documents uploaded through the API (the CLI's batch, and a
replay of another corpus through `--sink cloudsearch:URL`) are then found by search."""
import json
import re
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakelib  # noqa: E402
import serve_lib  # noqa: E402
from serve_lib import BIN, top  # noqa: E402

check = fakelib.Checks()
# Debian's awscli (test/install-deps.sh) first: a pip one earlier on PATH may be another major version.
AWS = "/usr/bin/aws" if os.path.exists("/usr/bin/aws") else shutil.which("aws")


def blob(path):
    """A file as a blob parameter: AWS CLI v2 takes the path, v1 needs fileb://."""
    v = subprocess.run([AWS, "--version"], capture_output=True, text=True).stdout + "aws-cli/2"
    return path if "aws-cli/2" in v.split()[0] else "fileb://" + path


def aws(env, *args):
    p = subprocess.run([AWS, "cloudsearchdomain"] + list(args) + ["--region", "us-east-1", "--output", "json"],
                       env=env, capture_output=True, text=True, timeout=120)
    return (json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else None), p


def run(tmp):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret", HOME=tmp,
               AWS_CONFIG_FILE=os.path.join(tmp, "none"), AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmp, "none"),
               AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="")
    env.pop("AWS_PROFILE", None)
    with serve_lib.Served(tmp, files=10, max_records=200, seed=21, start="2014-09-01", days=2) as sv:
        recs = sv.records
        ep = ["--endpoint-url", sv.url]
        # structured, a facet, return fields
        out, p = aws(env, "search", *ep, "--search-query", "event_source:'sts.amazonaws.com'", "--query-parser",
                     "structured", "--facet", '{"event_name":{"sort":"count","size":5}}', "--return",
                     "event_name,event_time", "--size", "5")
        want = [r for r in recs if r.get("eventSource") == "sts.amazonaws.com"]
        check(out is not None, "aws cloudsearchdomain search answers", p.stderr[-500:])
        if out:
            check(out["hits"]["found"] == len(want), f"found {out['hits']['found']} == oracle {len(want)}")
            hits = out["hits"]["hit"]
            check(len(hits) == 5 and all(set(h["fields"]) == {"event_name", "event_time"} for h in hits),
                  "five hits with the two fields asked for")
            check(all(isinstance(h["fields"]["event_name"], list) for h in hits), "values are lists (format=sdk)")
            times = [h["fields"]["event_time"][0] for h in hits]
            check(times == sorted((r["eventTime"] for r in want), reverse=True)[:5], "the newest five, in order")
            got = [[b["value"], b["count"]] for b in out["facets"]["event_name"]["buckets"]]
            check(got == top((r.get("eventName") for r in want), 5), f"facet event_name == oracle: {got}")
        # matchall count and a date range facet
        out, p = aws(env, "search", *ep, "--search-query", "event_time:['2014-09-01T00:00:00Z','2014-09-02T00:00:00Z'}",
                     "--query-parser", "structured", "--facet", '{"aws_region":{}}', "--size", "0")
        day = [r for r in recs if "2014-09-01T00:00:00Z" <= r["eventTime"] < "2014-09-02T00:00:00Z"]
        check(out is not None and out["hits"]["found"] == len(day) and
              [[b["value"], b["count"]] for b in out["facets"]["aws_region"]["buckets"]] ==
              top(r.get("awsRegion") for r in day), "a one-day range and its region facet match the oracle")
        # the simple parser, CloudSearch's default
        out, p = aws(env, "search", *ep, "--search-query", "assumerole", "--size", "0")
        n = sum(1 for r in recs if "assumerole" in re.findall(r"[a-z0-9]+", json.dumps(r).lower()))
        check(out is not None and out["hits"]["found"] == n > 0,
              f"the simple parser finds a word in any text field ({out and out['hits']['found']} == oracle {n})")
        # an error
        out, p = aws(env, "search", *ep, "--search-query", "(and event_name:'x'", "--query-parser", "structured")
        check(p.returncode != 0 and "SearchException" in p.stderr and "offset" in p.stderr,
              f"a malformed query is a SearchException naming the offset: {p.stderr.strip()[-160:]}")

        # upload-documents through the CLI, then search
        batch = os.path.join(tmp, "batch.json")
        with open(batch, "w") as f:
            json.dump([{"type": "add", "id": "cli-doc-1", "fields": {"event_name": "UploadedByCli", "aws_region": "xx-test-1"}},
                       {"type": "add", "id": "cli-doc-2", "fields": {"event_name": "UploadedByCli", "raw": "hello world"}},
                       {"type": "delete", "id": "no-such-doc"}], f)
        out, p = aws(env, "upload-documents", *ep, "--documents", blob(batch), "--content-type", "application/json")
        check(out is not None and out.get("status") == "success" and out.get("adds") == 2 and out.get("deletes") == 1,
              f"upload-documents: {out} {p.stderr[-300:]}")
        out, p = aws(env, "search", *ep, "--search-query", "event_name:'UploadedByCli'", "--query-parser", "structured")
        check(out is not None and sorted(h["id"] for h in out["hits"]["hit"]) == ["cli-doc-1", "cli-doc-2"],
              "the uploaded documents are found")
        with open(batch, "w") as f:
            json.dump([{"type": "add", "id": "bad", "fields": {"not_a_field": "x"}}], f)
        out, p = aws(env, "upload-documents", *ep, "--documents", blob(batch), "--content-type", "application/json")
        check(p.returncode != 0 and "not_a_field" in p.stderr, "an undefined field is refused with its name")

        # ctindex's own cloudsearch sink into serve: every record of another corpus is found
        other = os.path.join(tmp, "other")
        subprocess.run([os.path.join(serve_lib.BUILD, "bench", "ctgen"), "--out", other, "--files", "4",
                        "--max-records", "100", "--seed", "77"], check=True, capture_output=True)
        ids = {r["eventID"] for r in serve_lib.load_records(other)}
        p = subprocess.run([BIN, "replay", other, "--sink", "cloudsearch:" + sv.url, "--no-progress",
                            "--dead-letter", os.path.join(tmp, "dead.jsonl")], env=dict(env, AWS_REGION="us-east-1"),
                           capture_output=True, text=True, timeout=300)
        check(p.returncode == 0, "replay --sink cloudsearch:SERVE exits 0", p.stderr[-500:])
        found = set()
        for i in sorted(ids):
            q = urllib.request.quote(f"_id:'{i}'")
            with urllib.request.urlopen(f"{sv.url}/2013-01-01/search?q.parser=structured&return=_no_fields&q={q}") as r:
                found |= {h["id"] for h in json.loads(r.read())["hits"]["hit"]}
        check(found == ids, f"every document the sink uploaded is found by its id ({len(found)} of {len(ids)})")
        code = sv.stop()
        check(code == 0, f"serve stops on SIGTERM with 0 ({code})")
    return check.exit_code()


if __name__ == "__main__":
    fakelib.require_or_skip(programs=("aws",))
    tmp = tempfile.mkdtemp(prefix="ctindex-serve-")
    try:
        sys.exit(run(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
