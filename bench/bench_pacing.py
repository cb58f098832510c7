#!/usr/bin/env python3
"""How ctindex paces a sink that is the bottleneck (issue 12). Prints the figures of four runs of
`ctindex replay DIR --sink ...` against test/fakes/fake_search.py:

  cloudsearch-rate     a fake CloudSearch that takes RATE bytes/s (a token bucket holding one
                       batch) and answers 429 beyond it; ctindex with --max-upload-rate RATE
  cloudsearch-adaptive the same fake, ctindex without a cap (adaptive concurrency alone)
  opensearch-load      a fake OpenSearch whose latency grows with the uploads in flight (LOAD_MS
                       while at most CAPACITY are, LOAD_MS x (1 + in_flight - CAPACITY) beyond) and
                       that answers 429 above THROTTLE_ABOVE in flight; ctindex --uploads 16,
                       requests of at most 512 KiB (max-request=524288)
  opensearch-fixed     the same with ,adaptive=0: always 16 in flight (what ctindex did before)

Figures: accepted bytes per second against the allowed rate (accepted / (burst + rate x the time
from the first request to the last)), requests throttled, most uploads in flight at once seen by
the fake, wall time; for the byte-rate runs also the sustained figures, from 5 s after the first
request on (adaptive pacing learns the rate from the first throttles). The last line is the same as JSON, for test/e2e/test_bench_pacing.py.

  bench/bench_pacing.py [--build build] [--files 40] [--records 400] [--rate 2000000]
                        [--batch-bytes 2097152] [--only NAME,...]

The fake is Python: it is a model of a slow service, not a fast one, so its own cost does not
matter at these rates (about one request per second)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "fakes"))
import fakelib  # noqa: E402

AKID, SECRET = "AKIDBENCHPACING00000", "bench-pacing-secret"
WARMUP_S = 5.0  # the sustained figures leave out the first seconds (a learned rate is not known yet)


def replay(binary, corpus, spec, args, timeout):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OPENSEARCH_"))}
    env.update({"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    argv = [binary, "replay", corpus, "--sink", spec, "--no-progress", "--quiet",
            "--dead-letter", os.path.join(os.path.dirname(corpus), "dead.jsonl")] + args
    t0 = time.monotonic()
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, time.monotonic() - t0, p.stderr


def one_run(o, name, corpus, schema, spec_of, args, fault, target):
    with fakelib.FakeSearch(access_key=AKID, secret_key=SECRET, region="us-east-1", schema=schema) as fake:
        fake.fault(target=target, **fault)
        rc, wall, err = replay(o.binary, corpus, spec_of(fake), args, o.timeout)
        st = fake.stats()
        acc = fake.accepted()[target]
    pacing = st["pacing"].get(target, {})
    span = max(pacing.get("last", 0) - pacing.get("first", 0), 1e-9)
    requests = st["requests"].get(target, 0)
    throttled = st["responses"].get("429", 0)  # the rate bucket's and the load's refusals alike
    r = {"name": name, "rc": rc, "wall_s": round(wall, 2), "requests": requests, "throttled": throttled,
         "throttled_share": round(throttled / requests, 4) if requests else None,
         "accepted_bytes": pacing.get("accepted_bytes", 0), "span_s": round(span, 2),
         "max_in_flight": st.get("max_in_flight"), "documents": len(acc["ids"]),
         "throttled_at": pacing.get("throttled_at", [])}
    if "rate" in fault:
        allowed = fault["burst"] + fault["rate"] * span
        r["accepted_rate"] = round(r["accepted_bytes"] / span)
        r["allowed_rate"] = fault["rate"]
        r["accepted_share"] = round(r["accepted_bytes"] / allowed, 4)
        # sustained: from WARMUP_S after the first request to the last
        acc = [b for t, b in pacing.get("accepted_at", []) if t >= WARMUP_S]
        thr = [t for t, _, _ in pacing.get("throttled_at", []) if t >= WARMUP_S]
        if span > 2 * WARMUP_S and acc:
            r["sustained_accepted_share"] = round(sum(acc) / (fault["burst"] + fault["rate"] * (span - WARMUP_S)), 4)
            r["sustained_throttled_share"] = round(len(thr) / (len(acc) + len(thr)), 4)
    if rc != 0:
        r["stderr"] = err[-2000:]
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("CTINDEX_BUILD", "build"))
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--records", type=int, default=400, help="records per file")
    ap.add_argument("--rate", type=int, default=2000000, help="the fake CloudSearch's bytes per second")
    ap.add_argument("--batch-bytes", type=int, default=2097152, help="ctindex --batch-bytes (2097152..5000000)")
    ap.add_argument("--load-ms", type=int, default=100)
    ap.add_argument("--capacity", type=int, default=2)
    ap.add_argument("--throttle-above", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated run names")
    ap.add_argument("--timeout", type=int, default=600)
    o = ap.parse_args()
    o.binary = os.path.join(o.build, "ctindex")
    only = set(filter(None, o.only.split(",")))
    tmp = tempfile.mkdtemp(prefix="ctindex-bench-pacing-")
    corpus = os.path.join(tmp, "corpus")
    subprocess.run([os.path.join(o.build, "bench", "ctgen"), "--out", corpus, "--files", str(o.files),
                    "--min-records", str(o.records), "--max-records", str(o.records), "--seed", "7"],
                   check=True, capture_output=True)
    schema = os.path.join(tmp, "schema.json")
    with open(schema, "w") as f:
        f.write(subprocess.run([o.binary, "schema"], check=True, capture_output=True, text=True).stdout)
    batch = ["--batch-bytes", str(o.batch_bytes)]
    rate_fault = {"rate": o.rate, "burst": o.batch_bytes}
    load_fault = {"load_ms": o.load_ms, "capacity": o.capacity, "throttle_above": o.throttle_above}
    runs = [
        ("cloudsearch-rate", lambda f: f"cloudsearch:{f.url},region=us-east-1",
         batch + ["--uploads", "4", "--max-upload-rate", str(o.rate)], rate_fault, "cloudsearch"),
        ("cloudsearch-adaptive", lambda f: f"cloudsearch:{f.url},region=us-east-1",
         batch + ["--uploads", "4"], rate_fault, "cloudsearch"),
        ("opensearch-load", lambda f: f"opensearch:{f.url},auth=sigv4,region=us-east-1,max-request=524288",
         batch + ["--uploads", "16"], load_fault, "opensearch"),
        ("opensearch-fixed", lambda f: f"opensearch:{f.url},auth=sigv4,region=us-east-1,max-request=524288,adaptive=0",
         batch + ["--uploads", "16"], load_fault, "opensearch"),
    ]
    results = []
    print(f"corpus: {o.files} files of {o.records} records; batches of at most {o.batch_bytes} bytes")
    print(f"cloudsearch fake: {o.rate} bytes/s, bucket of {o.batch_bytes} bytes, 429 beyond; "
          f"opensearch fake: {o.load_ms} ms up to {o.capacity} in flight, more beyond, 429 above "
          f"{o.throttle_above}")
    for name, spec_of, args, fault, target in runs:
        if only and name not in only:
            continue
        r = one_run(o, name, corpus, schema, spec_of, args, fault, target)
        results.append(r)
        line = (f"{name:22s} rc={r['rc']} wall {r['wall_s']:7.2f} s  requests {r['requests']:4d}  "
                f"throttled {r['throttled']:4d} ({100 * (r['throttled_share'] or 0):5.1f}%)  "
                f"max in flight {r['max_in_flight']}")
        if "accepted_share" in r:
            line += (f"  accepted {r['accepted_rate']} B/s of {r['allowed_rate']} allowed "
                     f"({100 * r['accepted_share']:.1f}% of what the bucket allowed)")
        if "sustained_accepted_share" in r:
            line += (f"\n{'':22s} sustained (after {WARMUP_S:.0f} s): accepted {100 * r['sustained_accepted_share']:.1f}%"
                     f" of the allowed bytes, {100 * r['sustained_throttled_share']:.1f}% of the requests throttled")
        print(line, flush=True)
        if r["rc"] != 0:
            print(r.get("stderr", ""), file=sys.stderr)
    print(json.dumps({"results": results}))
    subprocess.run(["rm", "-rf", tmp])
    return 0 if all(r["rc"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
