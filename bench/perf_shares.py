#!/usr/bin/env python3
"""Shares of an index replay's CPU by part, from perf samples with call graphs.

    perf record -F 2000 --call-graph dwarf,16384 -o P.data build/ctindex replay DIR --sink index:F
    perf script -i P.data -F comm,tid,ip,sym > P.txt
    bench/perf_shares.py P.txt

Each sample goes to the innermost frame of its stack that names a part below (so json_parse
inside the builder counts as json_parse); the kernel's share of each part is printed beside it.
A libsqlite3 with symbols is needed to see inside SQLite (bench/README.md, "Session 8")."""
import sys, collections
# checked from the leaf upward: the first (innermost) match wins
CATS = [
    ("fts5 merge (commit)", ["fts5IndexAutomerge", "fts5IndexMerge"]),
    ("fts5 flush hash (commit)", ["fts5FlushOneHash", "sqlite3Fts5IndexSync"]),
    ("fts5 tokenize+hash (insert)", ["sqlite3Fts5StorageIndexInsert", "fts5UpdateMethod"]),
    ("wal checkpoint", ["sqlite3WalCheckpoint"]),
    ("wal frames write", ["pagerWalFrames"]),
    ("zstd pack", ["ix__doc_pack"]),
    ("find id", ["ix__find_id"]),
    ("pending flush (held rows)", ["ix__pending_flush"]),
    ("ids merge", ["ix__ids_merge_when_full"]),
    ("ix_apply other", ["ix_apply"]),
    ("ix_begin", ["ix_begin"]),
    ("ix_commit other", ["ix_commit"]),
    ("sdf parse", ["sdf_parse_fields"]),
    ("write_batch other", ["write_batch"]),
    ("docb_build", ["docb_build_fields", "docb_build"]),
    ("json_parse", ["json_parse"]),
    ("inflate", ["gunzip_step", "isal_inflate"]),
    ("rsplit other", ["rsplit_commit", "rsplit_feed"]),
    ("main loop other", ["uv_run"]),
    ("startup/exit", ["_dl_start", "_start", "exit", "__libc_start_main_impl"]),
]


def part(frames):
    """The part of the innermost frame (frames[0] is the leaf) that names one."""
    for f in frames:
        for name, keys in CATS:
            if any(k == f or f.startswith(k + " ") for k in keys):
                return name
    return "other"


def samples(path):
    """Each sample's frames, leaf first; kernel frames marked [k]."""
    frames = []
    for line in open(path, errors="replace"):
        if not line.strip() or not line.startswith((" ", "\t")):
            if frames:
                yield frames
            frames = []
            continue
        addr, _, sym = line.strip().partition(" ")
        sym = sym.strip().replace(" (inlined)", "") or "?"
        frames.append(("[k]" + sym) if addr.startswith("ffffffff") else sym)
    if frames:
        yield frames


def main():
    counts, kernel, total = collections.Counter(), collections.Counter(), 0
    for frames in samples(sys.argv[1]):
        name = part(frames)
        counts[name] += 1
        kernel[name] += frames[0].startswith("[k]")
        total += 1
    for name, n in counts.most_common():
        print(f"{100.0 * n / total:6.2f}%  {name:32s} (kernel {100.0 * kernel[name] / total:5.2f}%)")
    print(total, "samples")


if __name__ == "__main__":
    main()
