"""End to end: ctgen corpus -> OpenSearch sink -> the strict fake's `_bulk` (test/fakes/fake_search.py).

Until `ctindex replay DIR --sink opensearch:URL` is wired, the indexing runs through
$CTINDEX_BUILD/test/drive_opensearch, which builds the sink with sink_opensearch_from_spec exactly
as the command line will. A small recording proxy sits between the sink and the fake (it forwards
every byte and the Host header unchanged, so SigV4 still verifies) and notes which index the
fake put each accepted document in, and how many requests were in flight at once.

Checks: every eventID accepted once, in the index named after its event date (default pattern
and a pattern from the URL path); 429 item faults, a 503 answer and a dropped connection are
retried and lose nothing; a type-conflict document is dead-lettered with the reason and the rest
is accepted; 413 splits the request; SigV4 `es`, `aoss` and Basic auth (environment and URL user
info) work; a wrong secret or password fails the batches with a clear message."""
import glob
import gzip
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TEST_DIR = os.environ.get("CTINDEX_TEST_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(TEST_DIR, "fakes"))
import fakelib  # noqa: E402

BUILD = os.environ.get("CTINDEX_BUILD")
failures = []
AKID, SECRET = "AKIDOPENSEARCHTEST01", "open-search-secret"


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond or not detail else f"\n     {detail}"), flush=True)
    if not cond:
        failures.append(what)


class Recorder:
    """Forwarding proxy that records the items the fake accepted: (index, id) per bulk answer."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.lock = threading.Lock()
        self.accepted = []       # (index, id)
        self.active = self.max_active = self.requests = self.max_body = 0
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with recorder.lock:
                    recorder.active += 1
                    recorder.requests += 1
                    recorder.max_body = max(recorder.max_body, len(body))
                    recorder.max_active = max(recorder.max_active, recorder.active)
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", recorder.target_port, timeout=60)
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in self.headers.items():
                        conn.putheader(name, value)   # Host included: the signature covers it
                    conn.endheaders()
                    conn.send(body)
                    resp = conn.getresponse()
                    data = resp.read()
                    conn.close()
                except (OSError, http.client.HTTPException):
                    self.close_connection = True      # the fake dropped it: drop ours too
                    return
                finally:
                    with recorder.lock:
                        recorder.active -= 1
                if resp.status == 200 and self.path.endswith("_bulk"):
                    for item in json.loads(data)["items"]:
                        (result,) = item.values()
                        if result["status"] < 300:
                            with recorder.lock:
                                recorder.accepted.append((result["_index"], result["_id"]))
                self.send_response(resp.status)
                for name in ("Content-Type", "Retry-After", "WWW-Authenticate", "x-amzn-ErrorType"):
                    if resp.getheader(name):
                        self.send_header(name, resp.getheader(name))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def load_corpus(root):
    """eventID -> record of every log file (digests excluded)."""
    records = {}
    for path in sorted(glob.glob(os.path.join(root, "**", "*.json*"), recursive=True)):
        if "CloudTrail-Digest" in path:
            continue
        raw = open(path, "rb").read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        for rec in json.loads(raw).get("Records", []):
            records[rec["eventID"]] = rec
    return records


def run_driver(spec, corpus, tmp, env_extra=None, auth=None, batch_bytes=60000):
    dead = os.path.join(tmp, "dead-%d.jsonl" % len(os.listdir(tmp)))
    args = [os.path.join(BUILD, "test", "drive_opensearch"), "--sink", spec, "--dead-letter", dead,
            "--batch-bytes", str(batch_bytes), corpus]
    if auth:
        args[1:1] = ["--os-auth", auth]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OPENSEARCH_"))}
    env.update({"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    env.update(env_extra or {})
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    stats = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            stats = json.loads(line)
    dead_rows = [json.loads(line) for line in open(dead)] if os.path.exists(dead) else []
    return p, stats, dead_rows


def sigv4_env(secret=SECRET):
    return {"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": secret}


def date_index(prefix, rec, fmt="%Y.%m.%d"):
    t = rec["eventTime"]
    return prefix + fmt.replace("%Y", t[0:4]).replace("%m", t[5:7]).replace("%d", t[8:10])


def accepted_ids(fake):
    os_acc = fake.accepted()["opensearch"]
    return os_acc["ids"], os_acc


def test_sigv4_es_default_pattern(corpus, records, tmp):
    with fakelib.FakeSearch(access_key=AKID, secret_key=SECRET) as fake:
        rec = Recorder(fake.port)
        try:
            p, st, dead = run_driver(f"opensearch:http://127.0.0.1:{rec.port},auth=sigv4", corpus, tmp,
                                     sigv4_env())
        finally:
            rec.close()
        ids, acc = accepted_ids(fake)
        check(p.returncode == 0, "sigv4 es: exit 0", p.stderr[-400:])
        check(sorted(ids) == sorted(records), f"sigv4 es: every eventID accepted ({len(ids)}/{len(records)})")
        check(acc["adds"] == len(records), f"sigv4 es: each accepted exactly once (adds {acc['adds']})")
        check(st.get("stored") == len(records) and st.get("dead_lettered") == 0, f"sigv4 es: sink counters {st}")
        check(st.get("batches", 0) > 2, f"sigv4 es: several batches ({st.get('batches')})")
        wrong = [(i, d) for i, d in rec.accepted if i != date_index("cloudtrail-", records[d])]
        check(len(rec.accepted) == len(records) and not wrong,
              f"sigv4 es: index cloudtrail-YYYY.MM.DD per event date ({len(rec.accepted)} seen, wrong: {wrong[:3]})")
        check(len({i for i, _ in rec.accepted}) >= 2, "sigv4 es: corpus spans several daily indices")
        check(1 <= rec.max_active <= 2, f"sigv4 es: at most 2 requests in flight (saw {rec.max_active})")
        check(fake.stats()["auth_failures"] == 0, "sigv4 es: no signature rejected")


def test_pattern_from_url_no_auth(corpus, records, tmp):
    with fakelib.FakeSearch(os_auth="none") as fake:
        rec = Recorder(fake.port)
        try:
            p, st, _ = run_driver(f"opensearch:http://127.0.0.1:{rec.port}/trail-%Y%m,max-request=65536", corpus, tmp,
                                  batch_bytes=300000)
        finally:
            rec.close()
        check(p.returncode == 0, "url pattern: exit 0", p.stderr[-300:])
        check(st.get("pattern") == "trail-%Y%m", f"url pattern: sink returns the pattern ({st.get('pattern')})")
        wrong = [(i, d) for i, d in rec.accepted if i != date_index("trail-", records[d], "%Y%m")]
        check(len(rec.accepted) == len(records) and not wrong, f"url pattern: index trail-YYYYMM ({wrong[:3]})")
        check(0 < rec.max_body <= 65536 and st.get("requests", 0) > st.get("batches", 0),
              f"max-request: {st.get('batches')} batches sent as {st.get('requests')} requests of at most "
              f"{rec.max_body} bytes")


def test_item_and_request_faults(corpus, records, tmp):
    with fakelib.FakeSearch(access_key=AKID, secret_key=SECRET) as fake:
        fake.fault(bulk_item_status=429, count=30)
        fake.fault(bulk_item_status=503, count=5)
        fake.fault(status=503, count=2)
        fake.fault(reset=1)
        p, st, dead = run_driver(f"opensearch:http://127.0.0.1:{fake.port},auth=sigv4", corpus, tmp, sigv4_env())
        ids, acc = accepted_ids(fake)
        fired = fake.stats()["faults_fired"]
        check(p.returncode == 0, "faults: exit 0", p.stderr[-400:])
        check(fired.get("bulk_item") == 35 and fired.get("status") == 2 and fired.get("reset") == 1,
              f"faults: all injected faults fired ({fired})")
        check(sorted(ids) == sorted(records), f"faults: nothing lost ({len(ids)}/{len(records)})")
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
        p, st, dead = run_driver(f"opensearch:http://127.0.0.1:{fake.port}", corpus, tmp,
                                 {"OPENSEARCH_USERNAME": "admin", "OPENSEARCH_PASSWORD": "s3cr3t"})
        ids, _ = accepted_ids(fake)
        dead_ids = {json.loads(row["data"].split("\n")[0])["index"]["_id"] for row in dead}
        check(p.returncode == 0, "conflict: exit 0, batches complete", p.stderr[-400:])
        check(len(doomed) >= 1 and dead_ids == doomed,
              f"conflict: exactly the conflicting documents dead-lettered ({len(dead_ids)} vs {len(doomed)})")
        check(all(row["kind"] == "document" and "mapper_parsing_exception" in row["reason"] and
                  "error_code" in row["reason"] and row["source"].endswith(".json.gz") for row in dead),
              f"conflict: dead letters carry the reason and source ({dead[:1]})")
        check(sorted(set(ids) - {"seed"}) == sorted(set(records) - doomed), "conflict: every other document accepted")
        check("s3cr3t" not in p.stderr + p.stdout, "conflict: basic password not logged")
        check(st.get("dead_lettered") == len(doomed) and st.get("stored") == len(records) - len(doomed),
              f"conflict: counters ({st})")


def test_split_on_413(corpus, records, tmp):
    with fakelib.FakeSearch(os_auth="none", max_bulk_bytes=30000) as fake:
        p, st, dead = run_driver(f"opensearch:http://127.0.0.1:{fake.port}", corpus, tmp, batch_bytes=100000)
        ids, _ = accepted_ids(fake)
        check(p.returncode == 0 and st.get("splits", 0) >= 1, f"413: split in halves ({st.get('splits')} splits)",
              p.stderr[-300:])
        check(sorted(ids) == sorted(records) and not dead, "413: every document accepted after splitting")


def test_aoss_and_basic_url(corpus, records, tmp):
    with fakelib.FakeSearch(access_key=AKID, secret_key=SECRET, os_service="aoss") as fake:
        p, st, _ = run_driver(f"opensearch:http://127.0.0.1:{fake.port},auth=sigv4,service=aoss", corpus, tmp,
                              sigv4_env())
        ids, _ = accepted_ids(fake)
        check(p.returncode == 0 and sorted(ids) == sorted(records), "aoss: all accepted", p.stderr[-300:])
        # The same request signed as "es" but without X-Amz-Content-Sha256 is refused by aoss.
        p, st, _ = run_driver(f"opensearch:http://127.0.0.1:{fake.port},auth=sigv4", corpus, tmp, sigv4_env())
        check(p.returncode == 1 and st.get("stored") == 0, "aoss: a request without the content hash is refused")
    with fakelib.FakeSearch(basic="ops:pa,ss@1") as fake:
        p, st, _ = run_driver(f"opensearch:http://ops:pa%2Css%401@127.0.0.1:{fake.port}", corpus, tmp)
        ids, _ = accepted_ids(fake)
        check(p.returncode == 0 and sorted(ids) == sorted(records), "basic (URL user info): all accepted",
              p.stderr[-300:])


def test_wrong_credentials(corpus, records, tmp):
    with fakelib.FakeSearch(access_key=AKID, secret_key=SECRET) as fake:
        p, st, _ = run_driver(f"opensearch:http://127.0.0.1:{fake.port}", corpus, tmp, sigv4_env("not-the-secret"),
                              auth="sigv4")
        ids, _ = accepted_ids(fake)
        check(p.returncode == 1, f"wrong secret: exit 1 (got {p.returncode})")
        check(st.get("batches_failed", 0) >= 1 and st.get("batches_failed") == st.get("batches"),
              f"wrong secret: every batch failed ({st})")
        check("refused our credentials" in p.stderr and "HTTP 403" in p.stderr and "signature" in p.stderr.lower(),
              "wrong secret: clear message", p.stderr[-500:])
        check(st.get("request_retries") == 0 and not ids, "wrong secret: not retried, nothing accepted")
    with fakelib.FakeSearch(basic="admin:right") as fake:
        p, st, _ = run_driver(f"opensearch:http://127.0.0.1:{fake.port}", corpus, tmp,
                              {"OPENSEARCH_USERNAME": "admin", "OPENSEARCH_PASSWORD": "Zq9-not-it"})
        check(p.returncode == 1 and "HTTP 401" in p.stderr and "security_exception" in p.stderr,
              "wrong password: fails with 401", p.stderr[-300:])
        check("Zq9-not-it" not in p.stderr + p.stdout, "wrong password: password not logged")


def main():
    driver = os.path.join(BUILD or "", "test", "drive_opensearch")
    ctgen = os.path.join(BUILD or "", "bench", "ctgen")
    if not BUILD or not os.path.exists(driver) or not os.path.exists(ctgen):
        print("skip: needs CTINDEX_BUILD with test/drive_opensearch and bench/ctgen")
        return 77
    with tempfile.TemporaryDirectory(prefix="ctindex-os-") as tmp:
        corpus = os.path.join(tmp, "corpus")
        subprocess.run([ctgen, "--out", corpus, "--files", "8", "--max-records", "300", "--days", "3",
                        "--digest", "--seed", "7"], check=True, capture_output=True)
        records = load_corpus(corpus)
        check(len(records) > 100, f"corpus has {len(records)} records")
        runs = os.path.join(tmp, "runs")
        os.mkdir(runs)
        for test in (test_sigv4_es_default_pattern, test_pattern_from_url_no_auth, test_item_and_request_faults,
                     test_type_conflict_basic_env, test_split_on_413, test_aoss_and_basic_url,
                     test_wrong_credentials):
            print(f"--- {test.__name__}", flush=True)
            test(corpus, records, runs)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
