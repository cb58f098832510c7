"""`ctindex run` with a sink spec's attempts=N while the sink refuses every upload (HTTP 403),
against moto and the strict fake CloudSearch endpoint (issue 12).

With attempts=2 a refused batch fails after its second refusal instead of waiting for the sink,
so the service can be left with a sink it thinks refusing and no batch to probe it with. It must
not stay paused forever: receiving goes on (a message whose batch failed comes back after
--retry-visibility and brings a batch), the sink is probed with it, and once the sink accepts
every record is indexed. (Before the fix receiving stayed paused with nothing in flight: the
queue was never read again.)"""
import os
import subprocess
import sys
import time

import runlib
from runlib import BIN, BUILD, fakelib

check = fakelib.Checks()


def run(tmp):
    corpus = runlib.Corpus(BUILD, tmp, files=4, min_records=20, max_records=60, seed=31)
    ids = corpus.ids(corpus.logs)
    schema = runlib.schema_file(tmp)
    with fakelib.MotoServer(no_auth_actions=3) as moto:
        akid, secret = moto.create_admin_key()
        stack = runlib.Stack(moto, akid, secret, visibility=30)
        stack.upload(corpus)
        stack.cloudtrail_each(corpus.logs)
        with fakelib.FakeSearch(access_key=akid, secret_key=secret, region="us-east-1", schema=schema) as fake:
            fake.fault(status=403, count=10 ** 6, target="cloudsearch")
            hport = fakelib.free_port()
            log_path = os.path.join(tmp, "run.log")
            argv = [BIN, "run", "--queue", stack.queue, "--sink", f"cloudsearch:{fake.url},attempts=2",
                    "--region", "us-east-1", "--wait", "1", "--retry-visibility", "3", "--linger-ms", "200",
                    "--sink-probe-max", "2", "--health-port", str(hport),
                    "--dead-letter", os.path.join(tmp, "dead.jsonl")]
            proc = subprocess.Popen(argv, env=runlib.run_env(moto, akid, secret), stdout=subprocess.DEVNULL,
                                    stderr=open(log_path, "w"))
            try:
                refused = runlib.wait_for(lambda: "batch failed" in open(log_path, errors="replace").read() or
                                          "is not stored" in open(log_path, errors="replace").read(), 60)
                check(refused, "a refused batch failed after its attempts")
                time.sleep(8)  # a few retry visibilities while the sink still refuses
                fake.fault(clear=True)
                done = runlib.wait_for(lambda: set(fake.accepted()["cloudsearch"]["ids"]) >= ids and
                                       sum(stack.counts()) == 0, 120, step=1)
                got = set(fake.accepted()["cloudsearch"]["ids"])
                check(done, f"once the sink accepts, every record is indexed ({len(got & ids)} of {len(ids)}) and "
                            "the queue emptied")
                check(runlib.wait_for(lambda: runlib.health(hport)[0] == 200, 20), "health answers 200 again")
            finally:
                runlib.stop(proc)
            err = open(log_path, errors="replace").read()
            print(err[-2500:])
            check("no batch is left to probe the sink with" in err,
                  "the log says receiving resumed to bring a batch to probe the sink with")
            check(proc.returncode == 0, f"SIGTERM exits 0 ({proc.returncode})")
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(runlib.main(run, "ctindex-run-attempts-"))
