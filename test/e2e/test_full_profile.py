"""The `full` field profile builds today's documents byte for byte.

`--fields full` promises the documents ctindex built before field profiles existed, so that an
index (or a saved query, or a consumer parsing documents) made with them sees no change. This test
builds two inputs and compares the SHA-256 of every batch file and of every document (to name the
ones that differ) with test/e2e/golden/full_profile.txt:

  * ctgen: a fixed ctgen corpus (edge cases, Insights, a trimmed 1.2 MB record, invalid
    characters), in three variants (SDF with raw, SDF without raw, _bulk with raw); documents are
    named for the first variant;
  * realworld: records in the shapes CloudTrail writes them (test/e2e/golden/realworld.json:
    console sign-in with and without MFA, service-assumed roles, S3 data events with resources
    and TLS details, an UnauthorizedOperation, root access keys, a bucket policy, a service event,
    an Insights event, SAML with non-ASCII names and escapes, an Outposts event with an addendum
    and an offset eventTime) and the document builder's fuzz seeds that are JSON objects
    (test/fuzz/corpus/docbuild: invalid UTF-8, lone surrogates, 4096-character literals, deep
    nesting, nulls), in the same three variants, every document named.

The golden file was written by main's binary before the profiles (commit 3edda18, which has no
--fields option and builds full documents; f0a1298 gives the same lines) with:

    python3 test/e2e/test_full_profile.py --write /path/to/old/ctindex

Replay now reads a folder in the time order of CloudTrail's file names: the ctgen batch-file
lines and the order of the ctgen doc lines were rewritten for it (the golden file's header says
how they were checked); every document line is the one that binary wrote.

It depends on ctgen's output for the corpus below: a change to ctgen's generator changes the
corpus, and the golden file must then be rewritten with a binary whose full documents are known
to be right (the binary of the commit before the ctgen change)."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden", "full_profile.txt")
REALWORLD = os.path.join(HERE, "golden", "realworld.json")
FUZZ_SEEDS = os.path.join(HERE, "..", "fuzz", "corpus", "docbuild")
CTGEN_ARGS = ["--files", "12", "--min-records", "10", "--max-records", "200", "--seed", "13", "--edge-cases",
              "--insights", "2", "--digest"]
# variant name -> extra options of `ctindex replay`
VARIANTS = {"sdf-raw": ["--format", "sdf"], "sdf-noraw": ["--format", "sdf", "--no-raw"],
            "bulk-raw": ["--format", "bulk"]}


def sha(b):
    return hashlib.sha256(b).hexdigest()


def split_docs(path):
    """(id, exact bytes) of every document of a batch file, in order."""
    data = open(path, "rb").read()
    docs = []
    if path.endswith(".ndjson"):
        lines = data.split(b"\n")
        assert lines[-1] == b"" and len(lines) % 2 == 1, path
        for i in range(0, len(lines) - 1, 2):
            action, source = lines[i], lines[i + 1]
            docs.append((json.loads(action)["index"]["_id"], action + b"\n" + source + b"\n"))
        return docs
    text = data.decode("utf-8")
    dec = json.JSONDecoder()
    assert text[0] == "[" and text[-1] == "]", path
    i = 1
    while i < len(text) - 1:
        doc, end = dec.raw_decode(text, i)
        docs.append((doc["id"], text[i:end].encode("utf-8")))
        i = end + 1 if text[end] == "," else end
    return docs


def realworld_corpus(tmp):
    """A folder with realworld.json and the builder's fuzz seeds that are JSON objects, as one
    Records file (their bytes unchanged: invalid UTF-8 stays invalid)."""
    d = os.path.join(tmp, "realworld")
    os.makedirs(d)
    shutil.copy(REALWORLD, d)
    seeds = []
    for name in sorted(os.listdir(FUZZ_SEEDS)):
        raw = open(os.path.join(FUZZ_SEEDS, name), "rb").read()
        try:
            if isinstance(json.loads(raw.decode("utf-8", "surrogateescape")), dict):
                seeds.append(raw.strip())
        except (ValueError, RecursionError):
            pass  # not JSON (a truncated record) or nested past Python's limit: not a record for this test
    with open(os.path.join(d, "fuzz-seeds.json"), "wb") as f:
        f.write(b'{"Records":[' + b",\n".join(seeds) + b"]}")
    return d


def build(binary, corpus, tmp, name, variant, with_profile, per_doc):
    out = os.path.join(tmp, "out-" + name + "-" + variant)
    args = [binary, "replay", corpus, "--sink", "dir:" + out, "--no-progress"] + VARIANTS[variant]
    if with_profile:
        args += ["--fields", "full"]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stdout, p.stderr)
        raise SystemExit(f"{' '.join(args)} exited {p.returncode}")
    files = sorted(f for f in os.listdir(out) if f.startswith("batch-"))
    lines = []
    for fname in files:
        path = os.path.join(out, fname)
        tag = variant if name == "ctgen" else name + "-" + variant
        lines.append(f"{tag} file {fname} {sha(open(path, 'rb').read())}")
        if per_doc:
            lines.extend(f"{tag} doc {doc_id} {sha(body)[:16]}" for doc_id, body in split_docs(path))
    return lines


def main():
    build_dir = os.environ.get("CTINDEX_BUILD")
    write = len(sys.argv) == 3 and sys.argv[1] == "--write"
    binary = sys.argv[2] if write else os.environ.get("CTINDEX_BIN")
    if not binary or not build_dir:
        print("usage: CTINDEX_BUILD=DIR test_full_profile.py [--write OLD_CTINDEX]")
        return 2
    tmp = tempfile.mkdtemp(prefix="full-profile-")
    try:
        corpus = os.path.join(tmp, "corpus")
        subprocess.run([os.path.join(build_dir, "bench", "ctgen"), "--out", corpus] + CTGEN_ARGS, check=True,
                       capture_output=True)
        corpora = {"ctgen": corpus, "realworld": realworld_corpus(tmp)}
        got = []
        for name, path in corpora.items():
            for variant in VARIANTS:
                got += build(binary, path, tmp, name, variant, not write, name != "ctgen" or variant == "sdf-raw")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if write:
        with open(GOLDEN, "w") as f:
            f.write("# Documents of the full profile as main's binary built them before field profiles\n"
                    "# (test/e2e/test_full_profile.py says how). ctgen " + " ".join(CTGEN_ARGS) + "\n")
            f.write("\n".join(got) + "\n")
        print(f"wrote {len(got)} lines to {GOLDEN}")
        return 0
    want = [l for l in open(GOLDEN).read().splitlines() if l and not l.startswith("#")]
    ndocs = sum(1 for l in want if " doc " in l)
    if got == want:
        print(f"ok: {ndocs} documents (ctgen and realworld, {len(VARIANTS)} variants) are byte-identical to the golden output")
        return 0
    wanted = set(want)
    differ = [l for l in got if l not in wanted]
    print(f"FAIL: {len(differ)} of {len(got)} lines differ from the golden output (or their order does)")
    for l in differ[:10]:
        print("  differs:", l)
    if len(got) != len(want):
        print(f"  {len(got)} lines built, {len(want)} expected")
    return 1


if __name__ == "__main__":
    sys.exit(main())
