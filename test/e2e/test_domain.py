"""`ctindex domain create|describe` against the strict fake's CloudSearch configuration API (SigV4
checked): create defines every schema field with the types and options `ctindex schema` prints and
runs IndexDocuments; a second create changes nothing (no field redefined); a field changed behind
its back is reported by describe and is the only one create redefines; --fields chooses the
profile whose fields are defined and checked (original: the original domain's 15 fields; a domain
made for a smaller profile gets only the missing ones); bad names and a missing domain fail
clearly."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
sys.dont_write_bytecode = True

import fakelib  # noqa: E402

BIN = os.environ["CTINDEX_BIN"]
AKID, SECRET, REGION = "AKIDDOMAINTEST000000", "domain/test+secret", "eu-west-1"
check = fakelib.Checks()


def domain(env, *args):
    p = subprocess.run([BIN, "domain", *args], env=env, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def main():
    fakelib.require_or_skip(modules=("boto3",))
    import boto3
    tmp = tempfile.mkdtemp(prefix="ctindex-domain-")
    try:
        schema = json.loads(subprocess.run([BIN, "schema"], check=True, capture_output=True, text=True).stdout)
        want = {f["IndexFieldName"]: f for f in schema}
        with fakelib.FakeSearch(access_key=AKID, secret_key=SECRET, region=REGION) as fake:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_ENDPOINT_URL_CLOUDSEARCH=fake.url,
                       AWS_EC2_METADATA_DISABLED="true", HOME=tmp)
            cfg = boto3.client("cloudsearch", endpoint_url=fake.url, region_name=REGION, aws_access_key_id=AKID,
                               aws_secret_access_key=SECRET)

            def fields():
                return {f["Options"]["IndexFieldName"]: f for f in
                        cfg.describe_index_fields(DomainName="trail-new")["IndexFields"]}

            # 1. create: every field, as `ctindex schema` prints it, then IndexDocuments
            rc, out, err = domain(env, "create", "--domain", "trail-new", "--region", REGION)
            check(rc == 0, f"create exits 0 ({rc})", err[-1500:])
            got = fields()
            check(set(got) == set(want), "create defines every schema field",
                  f"missing {set(want) - set(got)}, extra {set(got) - set(want)}")
            same = all(got[n]["Options"]["IndexFieldType"] == w["IndexFieldType"] and
                       all(got[n]["Options"].get(k) == v for k, v in w.items() if k.endswith("Options"))
                       for n, w in want.items() if n in got)
            check(same, "types and options are those of `ctindex schema`")
            check(all(f["Status"]["State"] == "Active" for f in got.values()), "IndexDocuments ran (fields Active)")
            check(f"index fields:  {len(want)} of {len(want)}" in out and "domain:        trail-new (region eu-west-1)"
                  in out, "create prints the domain and its fields", out)

            # 2. create again: nothing is redefined (UpdateDate unchanged)
            time.sleep(1.1)  # the fake's dates have one-second resolution
            rc, out, err = domain(env, "create", "--domain", "trail-new", "--region", REGION)
            again = fields()
            check(rc == 0 and "nothing changed" in err, f"a second create succeeds and says nothing changed ({rc})",
                  err[-800:])
            check(all(again[n]["Status"]["UpdateDate"] == got[n]["Status"]["UpdateDate"] for n in got),
                  "a second create redefines no field")

            # 3. a field changed behind ctindex's back: describe reports it, create redefines only it
            opts = dict(want["event_name"]["LiteralOptions"], FacetEnabled=False)
            cfg.define_index_field(DomainName="trail-new", IndexField={"IndexFieldName": "event_name",
                                                                        "IndexFieldType": "literal",
                                                                        "LiteralOptions": opts})
            rc, out, err = domain(env, "describe", "--domain", "trail-new", "--region", REGION)
            check(rc == 1 and "missing or different: event_name\n" in out and "needs IndexDocuments: yes" in out,
                  f"describe reports the changed field and exits 1 ({rc})", out + err[-500:])
            check(f"doc endpoint:  {fake.url}" in out, "describe shows the document endpoint", out)
            time.sleep(1.1)
            before = fields()
            rc, out, err = domain(env, "create", "--domain", "trail-new", "--region", REGION)
            after = fields()
            changed = sorted(n for n in after if after[n]["Status"]["UpdateDate"] != before[n]["Status"]["UpdateDate"])
            check(rc == 0 and changed == ["event_name"], f"create redefines only event_name ({changed})", err[-800:])
            check(after["event_name"]["Options"].get("LiteralOptions") == want["event_name"]["LiteralOptions"] and
                  all(f["Status"]["State"] == "Active" for f in after.values()), "event_name is repaired and indexed")
            rc, out, err = domain(env, "describe", "--domain", "trail-new", "--region", REGION)
            check(rc == 0 and "state:         active" in out, f"describe: active, every field ({rc})", out)

            # 4. field profiles: original defines the original domain's fields; full adds only the rest
            def profile_schema(profile):
                out = subprocess.run([BIN, "schema", "--fields", profile], check=True, capture_output=True,
                                     text=True).stdout
                return {f["IndexFieldName"]: f for f in json.loads(out)}
            original, full = profile_schema("original"), profile_schema("full")
            check(len(original) == 15 and set(original) < set(want) < set(full),
                  "schema --fields: original (15) < standard < full", f"{len(original)} {len(want)} {len(full)}")

            def fields_of(name):
                return {f["Options"]["IndexFieldName"]: f for f in
                        cfg.describe_index_fields(DomainName=name)["IndexFields"]}
            rc, out, err = domain(env, "create", "--domain", "trail-orig", "--region", REGION, "--fields", "original")
            check(rc == 0 and set(fields_of("trail-orig")) == set(original) and "index fields:  15 of 15 fields of the "
                  "original profile" in out, f"create --fields original defines the 15 original fields ({rc})",
                  out + err[-800:])
            rc, out, err = domain(env, "describe", "--domain", "trail-orig", "--region", REGION)
            check(rc == 1 and f"index fields:  15 of {len(want)} fields of the standard profile" in out,
                  f"describe (standard) reports what the original domain lacks ({rc})", out)
            time.sleep(1.1)
            before = fields_of("trail-orig")
            rc, out, err = domain(env, "create", "--domain", "trail-orig", "--region", REGION, "--fields", "full")
            after = fields_of("trail-orig")
            changed = {n for n in after if n not in before or after[n]["Status"]["UpdateDate"] !=
                       before[n]["Status"]["UpdateDate"]}
            check(rc == 0 and set(after) == set(full) and changed == set(full) - set(original),
                  f"create --fields full adds only the fields the domain lacks ({rc})",
                  f"changed {sorted(changed)[:5]}... {err[-500:]}")
            rc, out, err = domain(env, "describe", "--domain", "trail-orig", "--region", REGION, "--fields", "standard")
            check(rc == 0, f"a full domain has every field of the standard profile ({rc})", out)
            rc, out, err = domain(env, "create", "--domain", "trail-orig", "--region", REGION, "--fields", "all")
            check(rc == 2 and "--fields must be original, standard or full" in err, f"a bad profile is refused ({rc})")

            # 5. errors
            rc, out, err = domain(env, "describe", "--domain", "absent-domain", "--region", REGION)
            check(rc == 1 and "does not exist" in err, f"a missing domain is reported ({rc})", err[-500:])
            rc, out, err = domain(env, "create", "--domain", "Bad_Name", "--region", REGION)
            check(rc == 2 and "not a CloudSearch domain name" in err, f"a bad domain name is refused ({rc})", err[-500:])
            rc, out, err = domain(env, "create")
            check(rc == 2 and "--domain NAME is required" in err, f"--domain is required ({rc})")
            rc, out, err = domain(env, "frobnicate", "--domain", "x")
            check(rc == 2 and "usage: ctindex domain" in err, f"an unknown action shows the usage ({rc})")
            bad = dict(env, AWS_SECRET_ACCESS_KEY="wrong")
            rc, out, err = domain(bad, "create", "--domain", "trail-new", "--region", REGION)
            check(rc == 1 and "403" in err, f"a wrong secret fails with the service's answer ({rc})", err[-500:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
