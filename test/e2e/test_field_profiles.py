"""Field profiles end to end: `--fields original|standard|full` on the indexing commands, and
`ctindex schema [--opensearch] --fields` describing the same fields.

For each profile, a ctgen corpus (edge cases and Insights included) is indexed with replay; every
batch must pass the strict CloudSearch validator against `ctindex schema --fields P` (an undefined
field fails a whole batch); documents hold only the profile's fields, with the values the full
profile gives them; `original` is exactly the original application's domain (its 15 fields, with
error_code a literal) and never carries ctindex's own marker field, even on a trimmed document;
`standard` has no JSON-text copy of a sub-object; documents shrink from full to standard to
original. convert and the _bulk format follow the option too, and every indexing command lists it."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
import cloudsearch_docs  # noqa: E402

BIN = os.environ.get("CTINDEX_BIN")
BUILD = os.environ.get("CTINDEX_BUILD")
failures = []

# The original application's domain (cloudtrail-1), as ../shared/DESIGN.md describes it; error_code
# is a literal, not the int the original declared.
ORIGINAL = {"event_name": "literal", "aws_region": "literal", "source_ip_address": "literal",
            "user_identity_account_id": "literal", "user_identity_type": "literal",
            "user_identity_user_name": "literal", "event_source": "literal", "event_id": "literal",
            "request_id": "literal", "error_message": "text", "user_agent": "text", "user_identity_arn": "text",
            "event_time": "date", "raw": "text", "error_code": "literal"}
JSON_COPIES = {"request_parameters", "response_elements", "additional_event_data", "service_event_details",
               "edge_device_details"}


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(args, expect=0):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != expect:
        print(p.stdout, p.stderr[-2000:])
        check(False, f"{' '.join(args[:4])} exited {p.returncode}, expected {expect}")
    return p


def schema_of(tmp, profile):
    text = run([BIN, "schema", "--fields", profile]).stdout
    path = os.path.join(tmp, f"schema-{profile}.json")
    open(path, "w").write(text)
    return path, {f["IndexFieldName"]: f["IndexFieldType"] for f in json.loads(text)}


def documents(out):
    """id -> fields of every SDF document under out; and the total bytes of the batch files."""
    docs, size = {}, 0
    for path in sorted(glob.glob(os.path.join(out, "batch-*.json"))):
        body = open(path, "rb").read()
        size += len(body)
        for d in json.loads(body):
            docs[d["id"]] = d["fields"]
    return docs, size


def main():
    if not BIN or not BUILD:
        print("CTINDEX_BIN/CTINDEX_BUILD not set")
        return 2
    tmp = tempfile.mkdtemp(prefix="ctindex-profiles-")
    try:
        corpus = os.path.join(tmp, "corpus")
        run([os.path.join(BUILD, "bench", "ctgen"), "--out", corpus, "--files", "12", "--max-records", "300",
             "--seed", "21", "--edge-cases", "--insights", "3"])
        docs, sizes, names = {}, {}, {}
        for profile in ("original", "standard", "full"):
            schema_path, names[profile] = schema_of(tmp, profile)
            schema = cloudsearch_docs.load_schema_file(schema_path)
            out = os.path.join(tmp, "out-" + profile)
            run([BIN, "replay", corpus, "--sink", "dir:" + out, "--no-progress", "--fields", profile])
            rejected = []
            for path in sorted(glob.glob(os.path.join(out, "batch-*.json"))):
                try:
                    cloudsearch_docs.validate_batch(open(path, encoding="utf-8").read(), False, schema)
                except cloudsearch_docs.BatchError as e:
                    rejected.append(f"{path}: {e}")
            check(not rejected, f"{profile}: every batch passes the validator with `schema --fields {profile}`"
                  + (f" ({rejected[0]})" if rejected else ""))
            docs[profile], sizes[profile] = documents(out)
            used = set().union(*(set(f) for f in docs[profile].values()))
            check(used <= set(names[profile]), f"{profile}: documents hold only the profile's fields "
                  f"({sorted(used - set(names[profile]))})")

        check(names["original"] == ORIGINAL, "schema --fields original is the original domain, error_code a literal",
              ) if names["original"] == ORIGINAL else check(False, f"original schema: {names['original']}")
        check(set(names["original"]) < set(names["standard"]) < set(names["full"]),
              "each profile holds the one before it")
        check(not (JSON_COPIES & set(names["standard"])) and JSON_COPIES <= set(names["full"]),
              "only full carries the JSON-text copies")
        check(docs["original"].keys() == docs["standard"].keys() == docs["full"].keys() and len(docs["full"]) > 300,
              f"the same documents in every profile ({len(docs['full'])})")
        # (a trimmed document has more room for raw when it has fewer fields)
        differ = [(p, i, k) for p in ("original", "standard") for i in docs[p] for k, v in docs[p][i].items()
                  if docs["full"][i].get(k) != v and not (k == "raw" and "ctindex_trimmed" in docs["full"][i])]
        check(not differ, f"field values are those of the full profile {differ[:3]}")
        trimmed = [i for i, f in docs["full"].items() if "ctindex_trimmed" in f]
        check(trimmed and all("ctindex_trimmed" not in docs["original"][i] for i in trimmed) and
              all("ctindex_trimmed" in docs["standard"][i] for i in trimmed),
              f"a trimmed document is marked in standard and full, not in original ({len(trimmed)} trimmed)")
        check(sizes["original"] < sizes["standard"] < sizes["full"],
              f"documents shrink: full {sizes['full']} > standard {sizes['standard']} > original {sizes['original']}")

        # convert and the bulk format follow the option
        files = sorted(f for f in glob.glob(os.path.join(corpus, "**", "*.json*"), recursive=True))
        out = os.path.join(tmp, "convert-original")
        run([BIN, "convert", *files, "-o", out, "--no-progress", "--fields", "original"])
        check(documents(out)[0] == docs["original"], "convert --fields original gives replay's documents")
        out = os.path.join(tmp, "bulk-original")
        run([BIN, "replay", corpus, "--sink", "dir:" + out, "--format", "bulk", "--no-progress", "--fields",
             "original"])
        keys = set()
        for path in glob.glob(os.path.join(out, "batch-*.ndjson")):
            lines = open(path, encoding="utf-8").read().splitlines()
            for source in lines[1::2]:
                keys |= set(json.loads(source))
        template = json.loads(run([BIN, "schema", "--opensearch", "--fields", "original"]).stdout)
        props = set(template["template"]["mappings"]["properties"])
        check(props == set(ORIGINAL) and keys <= props, "_bulk documents and the index template follow --fields")

        # the option on every command that builds documents, and a bad value
        for cmd in (["convert"], ["replay"], ["run"]):
            check("--fields PROFILE" in run([BIN, *cmd, "--help"]).stdout, f"{cmd[0]} --help lists --fields")
        p = run([BIN, "replay", corpus, "--sink", "dir:" + os.path.join(tmp, "x"), "--fields", "some"], expect=2)
        check("--fields must be original, standard or full" in p.stderr, "a bad profile is refused")
        p = run([BIN, "schema", "--fields", "some"], expect=2)
        check("--fields must be" in p.stderr, "schema refuses a bad profile")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'passed' if not failures else 'FAILED'}: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
