#!/usr/bin/env python3
"""A setup failure (here: an invalid --sink, or a dead-letter file that cannot be written) stops
every indexing command with a clear message and exit 2, and leaves no empty dead-letter file
behind. A run that dead-letters nothing leaves none either. `run` takes the same sink and
document options as the replays, refused with the same messages. No peers needed: every
failure happens before the first network call."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import fakelib  # noqa: E402

BIN = os.environ["CTINDEX_BIN"]
check = fakelib.Checks()


def run(cwd, args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDFAKE", AWS_SECRET_ACCESS_KEY="fake", AWS_REGION="us-east-1",
               AWS_ENDPOINT_URL="http://127.0.0.1:9")
    return subprocess.run([BIN] + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def main():
    tmp = tempfile.mkdtemp(prefix="ctindex-setup-")
    try:
        logs = os.path.join(tmp, "logs")
        os.makedirs(logs)
        with open(os.path.join(logs, "a.json"), "w") as f:
            f.write('{"Records":[{"eventID":"e1","eventName":"GetObject","eventTime":"2024-05-01T00:00:00Z"}]}')
        cases = [
            ("run", ["run", "--queue", "http://127.0.0.1:9/000000000000/q", "--sink", "bogus:x"]),
            ("replay of a folder", ["replay", logs, "--sink", "bogus:x"]),
            ("replay of a bucket", ["replay", "s3://bucket", "--since", "2024-05-01", "--sink", "bogus:x"]),
        ]
        for name, args in cases:
            cwd = os.path.join(tmp, name.replace(" ", "-"))
            os.makedirs(cwd)
            p = run(cwd, args)
            check(p.returncode == 2, f"{name}: an invalid --sink exits 2", f"rc {p.returncode}: {p.stderr[-500:]}")
            check("unknown sink 'bogus:x'" in p.stderr, f"{name}: the message names the sink", p.stderr[-500:])
            check(os.listdir(cwd) == [], f"{name}: nothing left in the working folder", repr(os.listdir(cwd)))

        # run and the replays share their sink and document options, checked the same way
        q = ["run", "--queue", "http://127.0.0.1:9/000000000000/q", "--sink", "dir:" + os.path.join(tmp, "o")]
        for args, message in [(q + ["--max-record", "10"], "--max-record (bytes) must be a number from 1024"),
                              (q + ["--os-auth", "magic"], "--os-auth must be none, basic, sigv4 or auto"),
                              (["replay", logs, "--sink", "dir:x", "--os-auth", "magic"], "--os-auth must be"),
                              (q + ["--batch-bytes", "9"], "--batch-bytes must be a number"),
                              (q + ["--max-upload-rate", "0"], "--max-upload-rate must be BYTES or BYTES/SECONDS"),
                              (q + ["--max-upload-rate", "5000000/0"], "--max-upload-rate must be"),
                              (q + ["--max-upload-rate", "-5"], "--max-upload-rate must be"),
                              (q + ["--max-upload-rate", "5MB"], "--max-upload-rate must be"),
                              (["replay", logs, "--sink", "dir:x", "--max-upload-rate", "1/x"],
                               "--max-upload-rate must be"),
                              (q + ["--sink-probe-max", "0"], "--sink-probe-max")]:
            p = run(tmp, args)
            check(p.returncode == 2 and message in p.stderr, f"{args[0]} {' '.join(args[-2:])}: exit 2, '{message}'",
                  f"rc {p.returncode}: {p.stderr[-300:]}")
        p = run(tmp, ["run", "--help"])
        check(p.returncode == 0 and all(o in p.stdout for o in ("--max-record", "--batch-bytes", "--dead-letter",
                                                                "--verbose", "--max-upload-rate",
                                                                "--sink-probe-max", "503 degraded", "/metrics")),
              "run --help names the shared options")

        cwd = os.path.join(tmp, "bad-dead-letter")
        os.makedirs(cwd)
        out = os.path.join(cwd, "out")
        p = run(cwd, ["replay", logs, "--sink", "dir:" + out, "--dead-letter", os.path.join(cwd, "nope", "dl.jsonl")])
        check(p.returncode == 2, "an unwritable --dead-letter exits 2", f"rc {p.returncode}: {p.stderr[-500:]}")
        check("cannot write the dead-letter file" in p.stderr, "the message says why", p.stderr[-500:])
        check(not os.path.exists(os.path.join(cwd, "nope")), "its folder is not created")
        check(not os.path.exists(out) or not os.listdir(out), "no batch was written")

        # No credentials anywhere: the first S3 call fails from the loop, after s3_list returned
        # (it used to call back from inside the call, which then wrote into freed memory).
        cwd = os.path.join(tmp, "no-credentials")
        os.makedirs(cwd)
        bare = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        bare.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                    AWS_REGION="us-east-1", AWS_ENDPOINT_URL="http://127.0.0.1:9", HOME=cwd)
        p = subprocess.run([BIN, "replay", "s3://bucket", "--since", "2024-05-01", "--sink", "dir:" + os.path.join(cwd, "o"),
                            "--no-progress"], cwd=cwd, env=bare, capture_output=True, text=True, timeout=60)
        check(p.returncode == 2 and "no AWS credentials" in p.stderr and "Sanitizer" not in p.stderr,
              "replay of a bucket without credentials: exit 2, says so, no memory error",
              f"rc {p.returncode}: {p.stderr[-1500:]}")

        cwd = os.path.join(tmp, "clean")
        os.makedirs(cwd)
        out = os.path.join(cwd, "out")
        p = run(cwd, ["replay", logs, "--sink", "dir:" + out, "--no-progress"])
        check(p.returncode == 0, "a good replay succeeds", f"rc {p.returncode}: {p.stderr[-500:]}")
        names = sorted(os.listdir(out)) if os.path.isdir(out) else []
        check(names == ["batch-000001.json"], "it wrote its batch and no dead-letter file", repr(names))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
