#!/usr/bin/env python3
"""The CloudSearch sink and configuration client against the strict fake (fake_search.py with
SigV4 checks and the schema printed by `ctindex schema`), driven by the test program
drive_cloudsearch (local files -> indexer -> sink):

  * every eventID of a ctgen corpus is accepted, at most 2 uploads in flight;
  * 507 x3 and a connection reset: retried, nothing lost;
  * reject_ids: the batch is split, the rejected documents are dead-lettered with the
    service's reason, every other id is accepted;
  * a wrong secret: 403, the run fails with one clear message, nothing acknowledged;
  * CreateDomain + DefineIndexField (every schema field, types and options) + IndexDocuments,
    DescribeDomains discovery of the document endpoint, and a missing domain.
Exit 0 = all checks passed, 1 = failures, 77 = the driver or python modules are missing."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TEST_DIR = os.environ.get("CTINDEX_TEST_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BUILD = os.environ.get("CTINDEX_BUILD", "")
BIN = os.environ.get("CTINDEX_BIN", "")
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(TEST_DIR, "fakes"))

import fakelib  # noqa: E402

AKID, SECRET, REGION = "AKIDCSSINKTEST000000", "cs/sink+secret", "us-east-1"
failures = []


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f"  -- {detail}"), flush=True)
    if not condition:
        failures.append(name)


def base_env(tmp, fake_url, secret=SECRET):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION=REGION,
               AWS_ENDPOINT_URL_CLOUDSEARCH=fake_url, AWS_EC2_METADATA_DISABLED="true", HOME=tmp)
    return env


def drive(driver, args, env, timeout=240):
    p = subprocess.run([driver, *args], env=env, capture_output=True, text=True, timeout=timeout)
    values = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    return p.returncode, values, p.stderr


def num(values, key):
    try:
        return int(values.get(key, "-1"))
    except ValueError:
        return -1


def main():
    driver = os.path.join(BUILD, "test", "drive_cloudsearch")
    ctgen = os.path.join(BUILD, "bench", "ctgen")
    for path in (driver, ctgen, BIN):
        if not path or not os.path.exists(path):
            print(f"SKIP: {path or 'CTINDEX_BIN'} not built")
            return 77
    tmp = tempfile.mkdtemp(prefix="ctindex-cs-sink-")
    try:
        return run(tmp, driver, ctgen)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp, driver, ctgen):
    corpus, ids_file, schema_file = (os.path.join(tmp, n) for n in ("corpus", "ids.txt", "schema.json"))
    subprocess.run([ctgen, "--out", corpus, "--files", "12", "--min-records", "20", "--max-records", "400",
                    "--seed", "11", "--ids", ids_file], check=True, capture_output=True)
    with open(schema_file, "w") as f:
        f.write(subprocess.run([BIN, "schema"], check=True, capture_output=True, text=True).stdout)
    schema = json.load(open(schema_file))
    ids = [line.strip() for line in open(ids_file) if line.strip()]
    all_ids = set(ids)
    check("corpus has records", len(all_ids) > 300, f"{len(all_ids)} ids")

    with fakelib.FakeSearch(access_key=AKID, secret_key=SECRET, region=REGION, schema=schema_file) as fake:
        env = base_env(tmp, fake.url)
        upload = ["--files", corpus, "--batch-docs", "150", "--retry-max-ms", "300"]

        # 1. clean upload
        rc, v, err = drive(driver, upload + ["--endpoint", fake.url], env)
        acc = fake.accepted()["cloudsearch"]
        check("clean: exit 0", rc == 0, f"rc={rc} {err[-2000:]}")
        check("clean: every eventID accepted", set(acc["ids"]) == all_ids,
              f"missing {len(all_ids - set(acc['ids']))}, extra {len(set(acc['ids']) - all_ids)}")
        check("clean: adds == documents", acc["adds"] == len(all_ids) == num(v, "accepted"), f"{acc['adds']} {v}")
        check("clean: several batches, no retry, no split",
              num(v, "batches") == acc["batches"] > 2 and num(v, "retries") == 0 and num(v, "splits") == 0, str(v))
        stats = fake.stats()
        check("clean: at most 2 uploads in flight", 1 <= stats["max_in_flight"] <= 2, str(stats["max_in_flight"]))
        check("clean: signatures verified", stats["auth_failures"] == 0, str(stats))
        check("clean: every handle closed at exit", "loop_close" not in v, v.get("loop_close", ""))

        # 2. 507 three times, then a connection reset: retried, nothing lost
        fake.reset()
        fake.fault(reset=1)  # first, so it hits a fresh connection (see below)
        fake.fault(status=507, count=3)
        rc, v, err = drive(driver, upload + ["--endpoint", fake.url], env)
        acc = fake.accepted()["cloudsearch"]
        fired = fake.stats()["faults_fired"]
        check("faults: exit 0", rc == 0, f"rc={rc} {err[-2000:]}")
        check("faults: all fired", fired.get("status") == 3 and fired.get("reset") == 1, str(fired))
        check("faults: every eventID accepted", set(acc["ids"]) == all_ids, f"{len(acc['ids'])} of {len(all_ids)}")
        # libcurl itself re-sends a request once when a *reused* connection turns out dead; the
        # reset comes first, on a fresh connection, so it reaches the sink as a connection error.
        check("faults: 4 retries counted, 3 throttled", num(v, "retries") == 4 and num(v, "throttled") == 3, str(v))
        retry_lines = [l for l in err.splitlines() if "retrying in" in l]
        check("faults: each retry logged with attempt and delay",
              len(retry_lines) == 4 and
              all(re.search(r"attempt \d+, retrying in \d+ ms", l) for l in retry_lines) and
              sum("HTTP 507" in l for l in retry_lines) == 3 and
              sum("(connection)" in l for l in retry_lines) == 1, "\n".join(retry_lines))

        # 3. rejected documents: split, dead-lettered with the reason, the rest accepted
        fake.reset()
        bad = [ids[5], ids[len(ids) // 2], ids[-1]]
        fake.fault(reject_ids=bad)
        dead_file = os.path.join(tmp, "dead.jsonl")
        rc, v, err = drive(driver, upload + ["--endpoint", fake.url, "--dead-letter", dead_file], env)
        acc = fake.accepted()["cloudsearch"]
        check("reject: exit 0", rc == 0, f"rc={rc} {err[-2000:]}")
        check("reject: every other id accepted", set(acc["ids"]) == all_ids - set(bad),
              f"missing {sorted(all_ids - set(bad) - set(acc['ids']))[:5]}, extra {set(acc['ids']) & set(bad)}")
        check("reject: 3 dead-lettered after splits", num(v, "dead_lettered") == 3 and num(v, "splits") >= 3, str(v))
        lines = [json.loads(l) for l in open(dead_file)] if os.path.exists(dead_file) else []
        docs = [json.loads(l["data"]) for l in lines if l.get("kind") == "document"]
        check("reject: dead-letter file holds exactly the rejected documents",
              sorted(d["id"] for d in docs) == sorted(bad), str([d.get("id") for d in docs]))
        check("reject: reason is the service's message",
              lines and all("reject_ids" in l["reason"] for l in lines), str([l.get("reason") for l in lines]))
        check("reject: source names the log file", lines and all(l["source"].endswith(".json.gz") for l in lines),
              str([l.get("source") for l in lines]))

        # 4. wrong secret: 403, one clear error, nothing acknowledged
        fake.reset()
        rc, v, err = drive(driver, upload + ["--endpoint", fake.url], base_env(tmp, fake.url, secret="wrong"))
        acc = fake.accepted()["cloudsearch"]
        check("403: run fails", rc == 1, f"rc={rc}")
        check("403: nothing accepted", acc["ids"] == [], str(len(acc["ids"])))
        check("403: no record acknowledged",
              num(v, "records_failed") == num(v, "records") == len(all_ids) and num(v, "batches") == 0, str(v))
        errors = [l for l in err.splitlines() if " error " in l and "refused" in l]
        check("403: the error is logged once, with the AWS code and message",
              len(errors) == 1 and "HTTP 403" in errors[0] and "SignatureDoesNotMatch" in errors[0]
              and "credentials" in errors[0], "\n".join(errors) or err[-1500:])
        check("403: not retried", num(v, "retries") == 0, str(v))

        # 4b. a 200 that is not CloudSearch's answer for the documents sent stores nothing: retried
        fake.reset()
        fake.fault(body="<html><body>It works!</body></html>", count=2)
        fake.fault(body=json.dumps({"status": "success", "adds": 1, "deletes": 0}), content_type="application/json")
        rc, v, err = drive(driver, upload + ["--endpoint", fake.url], env)
        acc = fake.accepted()["cloudsearch"]
        check("foreign 200: the fake answered 3 times with a page", fake.stats()["faults_fired"].get("body") == 3,
              str(fake.stats()["faults_fired"]))
        check("foreign 200: exit 0, every eventID accepted once all the same",
              rc == 0 and set(acc["ids"]) == all_ids and acc["adds"] == len(all_ids), f"rc={rc} {err[-1500:]}")
        check("foreign 200: three failed requests, retried, counted as errors",
              num(v, "retries") == 3 and num(v, "request_errors") == 3 and num(v, "throttled") == 0, str(v))
        retry_lines = [l for l in err.splitlines() if "retrying in" in l]
        check("foreign 200: each logged with what came back",
              sum("not a CloudSearch result" in l and "It works!" in l for l in retry_lines) == 2 and
              sum("1 added, 0 deleted" in l for l in retry_lines) == 1, "\n".join(retry_lines))

        # 4c. a rejected document that cannot be written to the dead-letter file is not stored:
        # its batch fails, its records are not acknowledged
        fake.reset()
        fake.fault(reject_ids=[ids[5]])
        rc, v, err = drive(driver, upload + ["--endpoint", fake.url, "--dead-letter", "/dev/full"], env)
        acc = fake.accepted()["cloudsearch"]
        check("dead letter not written: the run fails", rc == 1, f"rc={rc}")
        check("dead letter not written: its batch is not acknowledged",
              num(v, "batches_failed") == 1 and 0 < num(v, "records_failed") <= 150 and num(v, "dead_lettered") == 0,
              str(v))
        check("dead letter not written: said so", "could not be written to the dead-letter file" in err, err[-1500:])

        # 5. configuration API: create, define every field, index, describe; then upload by name
        fake.reset()
        rc, v, err = drive(driver, ["--create-domain", "trail-new", "--define-fields", "trail-new",
                                    "--describe", "trail-new"], env, timeout=120)
        check("config: create + define + describe succeed", rc == 0 and v.get("fields_defined") == "trail-new",
              f"rc={rc} {v} {err[-1500:]}")
        check("config: document endpoint found", v.get("endpoint") == fake.url, str(v))
        try:
            import boto3
        except ImportError:
            boto3 = None
        if boto3:
            cfg = boto3.client("cloudsearch", endpoint_url=fake.url, region_name=REGION,
                               aws_access_key_id=AKID, aws_secret_access_key=SECRET)
            fields = {f["Options"]["IndexFieldName"]: f for f in
                      cfg.describe_index_fields(DomainName="trail-new")["IndexFields"]}
            want = {f["IndexFieldName"]: f for f in schema}
            check("config: every schema field defined", set(fields) == set(want),
                  f"missing {set(want) - set(fields)}, extra {set(fields) - set(want)}")
            same = all(fields[n]["Options"]["IndexFieldType"] == w["IndexFieldType"] and
                       all(fields[n]["Options"].get(k) == opts for k, opts in w.items() if k.endswith("Options"))
                       for n, w in want.items() if n in fields)
            check("config: types and options as `ctindex schema` prints them", same,
                  json.dumps(fields.get("event_name", {}).get("Options")))
            check("config: IndexDocuments ran",
                  all(f["Status"]["State"] == "Active" for f in fields.values()), "state not Active")
        rc, v, err = drive(driver, ["--describe", "no-such-domain"], env, timeout=60)
        check("config: a missing domain is reported", rc == 1 and "does not exist" in v.get("config_error", ""),
              f"rc={rc} {v}")
        fake.reset()
        rc, v, err = drive(driver, upload + ["--spec", "cloudsearch:cloudtrail-1,inflight=1"], env)
        acc = fake.accepted()["cloudsearch"]
        check("discovery: upload through DescribeDomains (sink spec)", rc == 0 and set(acc["ids"]) == all_ids,
              f"rc={rc} {len(acc['ids'])} {err[-1500:]}")
        check("discovery: inflight=1 from the spec", fake.stats()["max_in_flight"] == 1, str(fake.stats()))
        rc, v, err = drive(driver, upload + ["--domain", "absent-domain"], env)
        check("discovery: a missing domain fails the run, nothing acknowledged",
              rc == 1 and num(v, "records_failed") == len(all_ids) and "does not exist" in err, f"rc={rc} {v}")

    print(f"{len(failures)} failure(s)" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
