"""End to end: ctgen corpus -> `ctindex replay DIR --sink opensearch:URL` -> the strict fake `_bulk`
(test/fakes/fake_search.py), sometimes through a recording proxy (fakelib.RecordingProxy, which
forwards every byte and the Host header, so SigV4 still verifies) that shows which index each
accepted document went to, how many requests were in flight at once, and the signed requests.

Checks: every eventID accepted exactly once, in the index named after its event date (default
pattern and a pattern from the URL path; undated records in the zero-dated index); several
requests in flight, bounded by --uploads; request size bounded by max-request=; 429/503 item
faults, a 503 answer and a dropped connection are retried and lose nothing; a type-conflict
document is dead-lettered with the reason and source and the rest is accepted; 413 splits the
request; the index template `ctindex schema --opensearch` prints is accepted by the fake and maps
every field the builder emits (no dynamic fields), and a template that contradicts the documents
gets them dead-lettered; `convert --format bulk` files are valid _bulk bodies; SigV4 `es` and
`aoss` (checked by the fake, and one request re-signed by botocore's stock SigV4Auth as an
independent oracle), Basic auth (environment and URL user info); a wrong secret or password fails
the batches with a clear message and a non-zero exit."""
import datetime
import glob
import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from unittest import mock

TEST_DIR = os.environ.get("CTINDEX_TEST_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(TEST_DIR, "fakes"))
import fakelib  # noqa: E402

fakelib.require_or_skip(modules=("botocore",))
import botocore.auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

BIN = os.environ.get("CTINDEX_BIN")
BUILD = os.environ.get("CTINDEX_BUILD")
check = fakelib.Checks()
AKID, SECRET, REGION = "AKIDOPENSEARCHTEST01", "open-search-secret", "us-east-1"


def load_corpus(root):
    """eventID (or a stand-in for a record without one) -> record of every log file, digests excluded."""
    records = {}
    for path in sorted(glob.glob(os.path.join(root, "**", "*.json*"), recursive=True)):
        if "CloudTrail-Digest" in path:
            continue
        raw = open(path, "rb").read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        for rec in json.loads(raw).get("Records", []):
            records[rec.get("eventID") or f"no-event-id-{len(records)}"] = rec
    return records


def replay(spec, corpus, tmp, env_extra=None, args=()):
    """Runs ctindex replay; returns (process, sink counters from its closing log line, dead letters)."""
    dead = os.path.join(tmp, "dead-%d.jsonl" % len(os.listdir(tmp)))
    argv = [BIN, "replay", corpus, "--sink", spec, "--dead-letter", dead, "--no-progress",
            "--batch-bytes", "2097152", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OPENSEARCH_"))}
    env.update({"AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    env.update(env_extra or {})
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    counters = fakelib.opensearch_counters(p.stderr)
    dead_rows = [json.loads(line) for line in open(dead)] if os.path.exists(dead) else []
    return p, counters, dead_rows


def sigv4_env(secret=SECRET):
    return {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": secret}


def date_index(prefix, rec, fmt="%Y.%m.%d"):
    t = rec["eventTime"]
    return prefix + fmt.replace("%Y", t[0:4]).replace("%m", t[5:7]).replace("%d", t[8:10])


def accepted(fake):
    acc = fake.accepted()["opensearch"]
    return acc["ids"], acc


def stored_items(proxy):
    """(index, id) of every item the fake answered with 2xx, from the recorded bulk answers."""
    out = []
    for ex in proxy.snapshot():
        if ex.path.endswith("_bulk") and ex.status == 200:
            for item in json.loads(ex.resp_body)["items"]:
                (result,) = item.values()
                if result["status"] < 300:
                    out.append((result["_index"], result["_id"]))
    return out


def botocore_agrees(ex, service):
    """Re-sign the recorded request with botocore's stock SigV4Auth at the client's X-Amz-Date,
    holding exactly the headers the client signed; the Authorization headers must be equal."""
    auth = ex.header("Authorization") or ""
    m = re.search(r"SignedHeaders=([^,\s]+)", auth)
    if not m:
        return False, f"no SignedHeaders in {auth!r}"
    request = AWSRequest(method=ex.method, url="http://" + ex.header("Host") + ex.path, data=ex.body)
    for name in m.group(1).split(";"):
        if name not in ("host", "x-amz-date"):
            request.headers[name] = ex.header(name)
    if "x-amz-content-sha256" in request.headers:  # botocore signs the header's value: use the true hash
        request.headers.replace_header("x-amz-content-sha256", hashlib.sha256(ex.body).hexdigest())
    when = datetime.datetime.strptime(ex.header("X-Amz-Date"), "%Y%m%dT%H%M%SZ")
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
        botocore.auth.SigV4Auth(Credentials(AKID, SECRET), service, REGION).add_auth(request)
    return request.headers["Authorization"] == auth, f"botocore {request.headers['Authorization']}\nctindex  {auth}"


def test_sigv4_es_default_pattern(corpus, records, tmp):
    with fakelib.FakeSearch(access_key=AKID, secret_key=SECRET) as fake, fakelib.RecordingProxy(fake.port) as proxy:
        fake.fault(delay_ms=1500, count=3)  # slow answers: the next requests go out meanwhile
        # adaptive=0: exactly --uploads at once (adaptive concurrency would start at one)
        p, st, dead = replay(f"opensearch:http://127.0.0.1:{proxy.port},adaptive=0", corpus, tmp, sigv4_env(),
                             ["--os-auth", "sigv4", "--uploads", "3"])
        ids, acc = accepted(fake)
        seen = stored_items(proxy)
        check(p.returncode == 0, "sigv4 es: exit 0", p.stderr[-400:])
        check(sorted(ids) == sorted(records), f"sigv4 es: every eventID accepted ({len(ids)}/{len(records)})")
        check(acc["adds"] == len(records), f"sigv4 es: each accepted exactly once (adds {acc['adds']})")
        check(st.get("stored") == len(records) and st.get("dead_lettered") == 0, f"sigv4 es: sink counters {st}")
        check(st.get("batches", 0) >= 3, f"sigv4 es: several batches ({st.get('batches')})")
        check(f"records: {len(records)} read, {len(records)} documents" in p.stdout, "sigv4 es: summary", p.stdout)
        wrong = [(i, d) for i, d in seen if i != date_index("cloudtrail-", records[d])]
        check(len(seen) == len(records) and not wrong,
              f"sigv4 es: index cloudtrail-YYYY.MM.DD per event date ({len(seen)} seen, wrong: {wrong[:3]})")
        check(len({i for i, _ in seen}) >= 2, "sigv4 es: corpus spans several daily indices")
        check(proxy.max_active == 3, f"sigv4 es: --uploads 3 puts 3 requests in flight (saw {proxy.max_active})")
        check(fake.stats()["auth_failures"] == 0, "sigv4 es: no signature rejected")
        bulk = [ex for ex in proxy.snapshot() if ex.path == "/_bulk"]
        same, detail = botocore_agrees(bulk[0], "es") if bulk else (False, "no request recorded")
        check(same, "sigv4 es: botocore's SigV4Auth signs the recorded request identically", detail)
        check(bulk and bulk[0].header("Content-Type") == "application/x-ndjson", "sigv4 es: NDJSON content type")


def test_pattern_from_url_no_auth(corpus, records, tmp):
    with fakelib.FakeSearch(os_auth="none") as fake, fakelib.RecordingProxy(fake.port) as proxy:
        p, st, _ = replay(f"opensearch:http://127.0.0.1:{proxy.port}/trail-%Y%m,max-request=65536,inflight=1",
                          corpus, tmp)
        seen = stored_items(proxy)
        sizes = [len(ex.body) for ex in proxy.snapshot() if ex.path.endswith("_bulk")]
        check(p.returncode == 0, "url pattern: exit 0", p.stderr[-300:])
        wrong = [(i, d) for i, d in seen if i != date_index("trail-", records[d], "%Y%m")]
        check(len(seen) == len(records) and not wrong, f"url pattern: index trail-YYYYMM ({wrong[:3]})")
        check(sizes and max(sizes) <= 65536 and st.get("requests", 0) > st.get("batches", 0),
              f"max-request: {st.get('batches')} batches sent as {st.get('requests')} requests of at most "
              f"{max(sizes or [0])} bytes")
        check(proxy.max_active == 1, f"inflight=1: one request at a time (saw {proxy.max_active})")


def test_item_and_request_faults(corpus, records, tmp):
    with fakelib.FakeSearch(access_key=AKID, secret_key=SECRET) as fake:
        fake.fault(bulk_item_status=429, count=30)
        fake.fault(bulk_item_status=503, count=5)
        fake.fault(status=503, count=2)
        fake.fault(reset=1)
        p, st, dead = replay(f"opensearch:http://127.0.0.1:{fake.port},auth=sigv4", corpus, tmp, sigv4_env())
        ids, acc = accepted(fake)
        fired = fake.stats()["faults_fired"]
        check(p.returncode == 0, "faults: exit 0", p.stderr[-400:])
        check(fired.get("bulk_item") == 35 and fired.get("status") == 2 and fired.get("reset") == 1,
              f"faults: all injected faults fired ({fired})")
        check(sorted(ids) == sorted(records) and acc["adds"] == len(records),
              f"faults: nothing lost, nothing twice ({len(ids)}/{len(records)}, adds {acc['adds']})")
        check(st.get("retried_items") == 35, f"faults: the 35 refused items were sent again ({st.get('retried_items')})")
        # >= 2: curl itself resends once on a reused connection that died before answering
        check(st.get("request_retries", 0) >= 2, f"faults: whole requests retried ({st.get('request_retries')})")
        check(st.get("stored") == len(records) and not dead, f"faults: all stored, none dead-lettered ({st})")
        check(fake.accepted()["rejected_items"] == 35, "faults: the fake refused exactly the injected items")


def test_type_conflict_basic_env(corpus, records, tmp):
    with fakelib.FakeSearch(basic="admin:s3cr3t") as fake:
        # Seed a daily index with error_code mapped as a number: string codes there no longer fit.
        day = sorted({date_index("cloudtrail-", r) for r in records.values() if r.get("errorCode")})[0]
        seed = json.dumps({"index": {"_index": day, "_id": "seed"}}) + "\n" + json.dumps({"error_code": 12}) + "\n"
        status, _, _ = fakelib.raw_request(fake.url + "/_bulk", body=seed.encode(), headers={
            "Content-Type": "application/x-ndjson", "Authorization": "Basic YWRtaW46czNjcjN0"})
        check(status == 200, f"conflict: seed accepted ({status})")
        doomed = {i for i, r in records.items() if r.get("errorCode") and date_index("cloudtrail-", r) == day}
        p, st, dead = replay(f"opensearch:http://127.0.0.1:{fake.port}", corpus, tmp,
                             {"OPENSEARCH_USERNAME": "admin", "OPENSEARCH_PASSWORD": "s3cr3t"})
        ids, _ = accepted(fake)
        dead_ids = {json.loads(row["data"].split("\n")[0])["index"]["_id"] for row in dead}
        check(p.returncode == 0, "conflict: exit 0, batches complete", p.stderr[-400:])
        check(len(doomed) >= 1 and dead_ids == doomed,
              f"conflict: exactly the conflicting documents dead-lettered ({len(dead_ids)} vs {len(doomed)})")
        check(all(row["kind"] == "document" and "HTTP 400 mapper_parsing_exception" in row["reason"] and
                  "error_code" in row["reason"] and row["source"].endswith(".json.gz") for row in dead),
              f"conflict: dead letters carry the reason and source ({dead[:1]})")
        check(sorted(set(ids) - {"seed"}) == sorted(set(records) - doomed), "conflict: every other document accepted")
        check("s3cr3t" not in p.stderr + p.stdout, "conflict: basic password not logged")
        check(st.get("dead_lettered") == len(doomed) and st.get("stored") == len(records) - len(doomed),
              f"conflict: counters ({st})")
        check(f"({0} unusable, {len(doomed)} refused by the sink)" in p.stdout, "conflict: summary counts the refused",
              p.stdout)


def test_split_on_413(corpus, records, tmp):
    with fakelib.FakeSearch(os_auth="none", max_bulk_bytes=300000) as fake:
        p, st, dead = replay(f"opensearch:http://127.0.0.1:{fake.port}", corpus, tmp)
        ids, acc = accepted(fake)
        check(p.returncode == 0 and st.get("splits", 0) >= 1, f"413: split in halves ({st.get('splits')} splits)",
              p.stderr[-300:])
        check(sorted(ids) == sorted(records) and acc["adds"] == len(records) and not dead,
              "413: every document accepted once after splitting")


def test_aoss_and_basic_url(corpus, records, tmp):
    with fakelib.FakeSearch(access_key=AKID, secret_key=SECRET, os_service="aoss") as fake, \
            fakelib.RecordingProxy(fake.port) as proxy:
        p, st, _ = replay(f"opensearch:http://127.0.0.1:{proxy.port},auth=sigv4,service=aoss", corpus, tmp,
                          sigv4_env())
        ids, _ = accepted(fake)
        check(p.returncode == 0 and sorted(ids) == sorted(records), "aoss: all accepted", p.stderr[-300:])
        bulk = [ex for ex in proxy.snapshot() if ex.path == "/_bulk"]
        ex = bulk[-1] if bulk else None
        check(ex is not None and ex.header("X-Amz-Content-Sha256") == hashlib.sha256(ex.body).hexdigest()
              and "x-amz-content-sha256" in ex.header("Authorization"),
              "aoss: X-Amz-Content-Sha256 is the body's hash and is signed")
        same, detail = botocore_agrees(ex, "aoss") if ex else (False, "no request recorded")
        check(same, "aoss: botocore's SigV4Auth signs the recorded request identically", detail)
        # Signed as "es" and without X-Amz-Content-Sha256: refused by aoss.
        p, st, _ = replay(f"opensearch:http://127.0.0.1:{fake.port},auth=sigv4", corpus, tmp, sigv4_env())
        check(p.returncode == 1 and st.get("stored") == 0, "aoss: a request without the content hash is refused")
    with fakelib.FakeSearch(basic="ops:pa,ss@1") as fake:
        p, st, _ = replay(f"opensearch:http://ops:pa%2Css%401@127.0.0.1:{fake.port}", corpus, tmp)
        ids, _ = accepted(fake)
        check(p.returncode == 0 and sorted(ids) == sorted(records), "basic (URL user info): all accepted",
              p.stderr[-300:])
        check("pa,ss@1" not in p.stderr + p.stdout, "basic (URL user info): password not logged")


def test_wrong_credentials(corpus, records, tmp):
    with fakelib.FakeSearch(access_key=AKID, secret_key=SECRET) as fake:
        p, st, _ = replay(f"opensearch:http://127.0.0.1:{fake.port}", corpus, tmp, sigv4_env("not-the-secret"),
                          ["--os-auth", "sigv4"])
        ids, _ = accepted(fake)
        check(p.returncode == 1, f"wrong secret: exit 1 (got {p.returncode})")
        check(st.get("batches_failed", 0) >= 1 and st.get("batches_failed") == st.get("batches"),
              f"wrong secret: every batch failed ({st})")
        check("refused our credentials" in p.stderr and "HTTP 403" in p.stderr and "signature" in p.stderr.lower(),
              "wrong secret: clear message", p.stderr[-500:])
        check(st.get("request_retries") == 0 and not ids, "wrong secret: not retried, nothing accepted")
        check(f"{len(records)} not stored" in p.stdout, "wrong secret: the summary says nothing was stored", p.stdout)
    with fakelib.FakeSearch(basic="admin:right") as fake:
        p, st, _ = replay(f"opensearch:http://127.0.0.1:{fake.port}", corpus, tmp,
                          {"OPENSEARCH_USERNAME": "admin", "OPENSEARCH_PASSWORD": "Zq9-not-it"})
        check(p.returncode == 1 and "HTTP 401" in p.stderr and "security_exception" in p.stderr,
              "wrong password: fails with 401", p.stderr[-300:])
        check("Zq9-not-it" not in p.stderr + p.stdout, "wrong password: password not logged")


def test_answers_that_are_not_bulk_results(corpus, records, tmp):
    """A 200 whose body is not the `_bulk` answer for the documents sent (a proxy's HTML page, an
    answer without items, items for other documents) stores nothing: retried, never taken as
    stored, counted as failed requests."""
    foreign = json.dumps({"took": 1, "errors": False, "items": [{"index": {"_id": "not-ours", "status": 201}}]})
    with fakelib.FakeSearch(os_auth="none") as fake:
        fake.fault(body="<html><body>Welcome to nginx!</body></html>", count=2)
        fake.fault(body=json.dumps({"took": 1, "errors": False}), content_type="application/json")
        p, st, dead = replay(f"opensearch:http://127.0.0.1:{fake.port},inflight=1", corpus, tmp)
        ids, acc = accepted(fake)
        check(fake.stats()["faults_fired"].get("body") == 3, "foreign 200: the fake answered 3 times with a page")
        check(p.returncode == 0 and sorted(ids) == sorted(records) and acc["adds"] == len(records) and not dead,
              f"foreign 200: every document stored once all the same ({len(ids)}/{len(records)})", p.stderr[-400:])
        check(st.get("request_retries", 0) >= 3 and st.get("stored") == len(records),
              f"foreign 200: the three requests were sent again ({st})")
        check(p.stderr.count("not taken as stored") == 3, "foreign 200: each one logged as a failed request",
              p.stderr[-800:])
    with fakelib.FakeSearch(os_auth="none") as fake:
        # one document per request, so an answer for one item fits the count but names another id
        fake.fault(body=foreign, content_type="application/json")
        p, st, dead = replay(f"opensearch:http://127.0.0.1:{fake.port},inflight=1,max-request=65536", corpus, tmp)
        ids, acc = accepted(fake)
        check(p.returncode == 0 and sorted(ids) == sorted(records) and not dead,
              "foreign items: nothing lost", p.stderr[-400:])


def test_dead_letter_write_fails(corpus, records, tmp):
    """Documents refused one by one must reach the dead-letter file before their records are
    acknowledged: with a file that cannot be written (/dev/full), their batches fail."""
    some = [sorted(k for k in records if not k.startswith("no-event-id-"))[5]]
    with fakelib.FakeSearch(os_auth="none") as fake:
        fake.fault(reject_ids=some)
        argv = [BIN, "replay", corpus, "--sink", f"opensearch:http://127.0.0.1:{fake.port}", "--dead-letter",
                "/dev/full", "--no-progress", "--batch-bytes", "2097152",
                "--no-raw"]  # an entry shorter than stdio's buffer: its failure shows at the flush
        p = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        st = fakelib.opensearch_counters(p.stderr)
        ids, _ = accepted(fake)
        check(p.returncode == 1, f"dead letter not written: exit 1 ({p.returncode})", p.stderr[-600:])
        check(st.get("batches_failed", 0) >= 1 and st.get("dead_lettered") == 0,
              f"dead letter not written: the batches holding refused documents failed ({st})")
        check("could not be written to the dead-letter file" in p.stderr, "dead letter not written: said so",
              p.stderr[-600:])
        check(not set(some) & set(ids) and "0 not stored" not in p.stdout,
              "dead letter not written: the summary counts records not stored", p.stdout)


def put_template(fake, name, template):
    return fakelib.raw_request(f"{fake.url}/_index_template/{name}", "PUT", json.dumps(template).encode(),
                               {"Content-Type": "application/json"})


def test_index_template(edge_corpus, tmp):
    """The template ctindex prints maps every field it emits, with types the documents fit."""
    records = load_corpus(edge_corpus)
    p = subprocess.run([BIN, "schema", "--opensearch", "--index-pattern", "cloudtrail-%Y.%m.%d"], capture_output=True,
                       text=True)
    template = json.loads(p.stdout)
    mapped = template["template"]["mappings"]["properties"]
    with fakelib.FakeSearch(os_auth="none") as fake:
        status, _, body = put_template(fake, "cloudtrail", template)
        check(status == 200, "template: the fake (OpenSearch 2.x / Elasticsearch 8 rules) accepts it", body)
        p, st, dead = replay(f"opensearch:http://127.0.0.1:{fake.port}", edge_corpus, tmp)
        ids, _ = accepted(fake)
        indices = fake.mappings()
        dynamic = {(i, f) for i, d in indices.items() for f, m in d["fields"].items() if m["origin"] != "template"}
        used = {f for d in indices.values() for f in d["fields"]}
        check(p.returncode == 0 and len(set(ids)) == len(records) and set(records) - set(ids) <= {
              k for k in records if k.startswith("no-event-id-")} and not dead,
              f"template: every edge-case document accepted ({len(ids)}/{len(records)})", p.stderr[-400:])
        check(indices and all(d["template"] == "cloudtrail" for d in indices.values()),
              f"template: every index was made from it ({sorted(indices)})")
        check(not dynamic, f"template: no field had to be mapped dynamically ({sorted(dynamic)[:5]})")
        check(used <= set(mapped) and len(used) >= 20, f"template: {len(used)} of its {len(mapped)} fields used")
    broken = json.loads(json.dumps(template))
    broken["template"]["mappings"]["properties"]["event_time"] = {"type": "long"}
    with fakelib.FakeSearch(os_auth="none") as fake:
        put_template(fake, "cloudtrail", broken)
        p, st, dead = replay(f"opensearch:http://127.0.0.1:{fake.port}", edge_corpus, tmp)
        check(p.returncode == 0 and len(dead) == len(records) and st.get("dead_lettered") == len(records) and
              all("failed to parse field [event_time] of type [long]" in row["reason"] for row in dead),
              f"template: documents that contradict it are dead-lettered with the reason ({len(dead)})",
              (dead[:1], p.stderr[-300:]))


def test_undated_records(tmp):
    """Records without a valid eventTime go to the index whose date parts are zeros."""
    folder = os.path.join(tmp, "undated")
    os.makedirs(folder, exist_ok=True)
    recs = [{"eventID": "dated-1", "eventTime": "2024-05-02T03:04:05Z", "eventName": "A"},
            {"eventID": "no-time-1", "eventName": "B"},
            {"eventID": "bad-time-1", "eventTime": "2024-02-30T00:00:00Z", "eventName": "C"},
            {"eventID": "bad-time-2", "eventTime": 1714600000, "eventName": "D"}]
    with open(os.path.join(folder, "111122223333_CloudTrail_us-east-1_20240502T0305Z_abcdefghijklmnop.json"),
              "w") as handle:
        json.dump({"Records": recs}, handle)
    with fakelib.FakeSearch(os_auth="none") as fake, fakelib.RecordingProxy(fake.port) as proxy:
        p, st, dead = replay(f"opensearch:http://127.0.0.1:{proxy.port}/ct-%Y.%m.%d-%H", folder, tmp)
        seen = dict((d, i) for i, d in stored_items(proxy))
        check(p.returncode == 0 and not dead, "undated: exit 0, nothing dead-lettered", p.stderr[-300:])
        check(seen == {"dated-1": "ct-2024.05.02-03", "no-time-1": "ct-0000.00.00-00",
                       "bad-time-1": "ct-0000.00.00-00", "bad-time-2": "ct-0000.00.00-00"},
              f"undated: zero-dated index for records without a valid eventTime ({seen})")


def test_convert_files_are_bulk_bodies(corpus, records, tmp):
    out = os.path.join(tmp, "converted")
    p = subprocess.run([BIN, "convert", corpus, "-o", out, "--format", "bulk", "--no-progress"], capture_output=True,
                       text=True)
    files = sorted(glob.glob(os.path.join(out, "batch-*.ndjson")))
    with fakelib.FakeSearch(os_auth="none") as fake:
        statuses = [fakelib.raw_request(fake.url + "/_bulk", "POST", open(f, "rb").read(),
                                        {"Content-Type": "application/x-ndjson"})[0] for f in files]
        ids, acc = accepted(fake)
    check(p.returncode == 0 and files and statuses == [200] * len(files) and sorted(ids) == sorted(records)
          and acc["adds"] == len(records), f"convert --format bulk: {len(files)} files, each a valid _bulk body")


def main():
    ctgen = os.path.join(BUILD or "", "bench", "ctgen")
    if not BIN or not os.access(BIN, os.X_OK) or not os.access(ctgen, os.X_OK):
        print(f"{BIN} or {ctgen} not built (a build error, not a missing tool)")
        return 1
    with tempfile.TemporaryDirectory(prefix="ctindex-os-") as tmp:
        corpus, edge = os.path.join(tmp, "corpus"), os.path.join(tmp, "edge")
        subprocess.run([ctgen, "--out", corpus, "--files", "12", "--min-records", "100", "--max-records", "400",
                        "--days", "3", "--digest", "--seed", "7"], check=True, capture_output=True)
        subprocess.run([ctgen, "--out", edge, "--files", "3", "--max-records", "50", "--edge-cases", "--seed", "5"],
                       check=True, capture_output=True)
        records = load_corpus(corpus)
        check(len(records) > 1000, f"corpus has {len(records)} records")
        runs = os.path.join(tmp, "runs")
        os.mkdir(runs)
        for test in (test_sigv4_es_default_pattern, test_pattern_from_url_no_auth, test_item_and_request_faults,
                     test_type_conflict_basic_env, test_split_on_413, test_aoss_and_basic_url,
                     test_wrong_credentials, test_convert_files_are_bulk_bodies,
                     test_answers_that_are_not_bulk_results, test_dead_letter_write_fails):
            print(f"--- {test.__name__}", flush=True)
            test(corpus, records, runs)
        print("--- test_index_template", flush=True)
        test_index_template(edge, runs)
        print("--- test_undated_records", flush=True)
        test_undated_records(runs)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
