#!/usr/bin/env python3
"""The layer rules of src/, checked: which folders each folder may include, and no include cycles.

    check_layers.py [--self-test] [--no-allowances] SRC_DIR

Reads every .c and .h file under SRC_DIR, takes its `#include "..."` lines (written from src/,
as the project's rule says), and fails, naming file:line, for
  * an include of a folder the including folder may not use (the table RULES below, the same
    rules as the folders' README.md files);
  * an include that names no file under SRC_DIR (includes are written from src/);
  * a folder that has no rule yet (a new folder must say where it sits);
  * a system header of a library one folder owns (SQLite, zstd: src/index) included elsewhere;
  * an include cycle between modules, where a module is a file name without its extension
    (x.c and x.h are one module): x includes y and y includes x, directly or through others;
  * an allowance below that is no longer needed (so it cannot outlive the code it excused).
--self-test first checks the checker against small trees it writes to a temporary folder.
--no-allowances ignores ALLOWANCES (shows what they hide). Exit status 0 when clean, 1 otherwise.
"""

import os
import re
import sys
import tempfile

# Folder -> folders it may include besides itself. The layers, from the bottom:
# base < net < aws < pipeline < sources, sinks < cli. pipeline is pure (README: base only);
# sources and sinks never include each other. sinks/ holds the registry (sinks.c), which
# builds every family, and one folder per family (sinks/X), which implements pipeline/sink.h
# and never includes the registry or another family. "sinks/*" is the rule of every family.
# sinks/upload is not a family: the upload scheduler every network family uses.
# index (the embedded search index) sits on pipeline (the schema, the document builder) and
# net's form parser, below the sinks and cli that use it; serve (ctindex serve) puts it on net's
# HTTP server, beside sources and sinks, and only cli includes it.
LOWER_THAN_SOURCES = {"base", "net", "aws", "pipeline"}
RULES = {
    "base": set(),
    "net": {"base"},
    "aws": {"base", "net"},
    "pipeline": {"base"},
    "index": {"base", "net", "pipeline"},
    "sources": LOWER_THAN_SOURCES,
    "sinks": LOWER_THAN_SOURCES | {"sinks/*"},
    "sinks/upload": LOWER_THAN_SOURCES,
    "sinks/*": LOWER_THAN_SOURCES | {"sinks/upload", "index"},
    "serve": {"base", "net", "pipeline", "index"},
    "cli": LOWER_THAN_SOURCES | {"sources", "sinks", "sinks/*", "index", "serve"},
}

# System headers only one folder may include: the library behind them is that folder's alone.
OWNED_HEADERS = {"sqlite3.h": "index", "sqlite3ext.h": "index", "zstd.h": "index", "zdict.h": "index"}

# Known edges that break the rules, each with the reason and who removes it. Keep this short.
ALLOWANCES = set()

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
SYSTEM_INCLUDE = re.compile(r'^\s*#\s*include\s*<([^>]+)>')


def folder_of(rel):
    """'sinks/opensearch/x.c' -> 'sinks/opensearch'."""
    return os.path.dirname(rel)


def rule_name(folder):
    """The RULES key of a folder: 'sinks/opensearch' -> 'sinks/*'."""
    if folder in RULES:
        return folder
    parent = os.path.dirname(folder)
    if parent and parent + "/*" in RULES:
        return parent + "/*"
    return None


def may_include(src_folder, dst_folder):
    if src_folder == dst_folder:
        return True
    allowed = RULES[rule_name(src_folder)]
    return dst_folder in allowed or (rule_name(dst_folder) == "sinks/*" and "sinks/*" in allowed)


def read_tree(src, system=None):
    """rel path -> list of (line number, included rel path); system, when given, gets
    (rel path, line number, header) of every owned system header included."""
    files = {}
    for root, dirs, names in os.walk(src):
        dirs.sort()
        for name in sorted(names):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src).replace(os.sep, "/")
            incs = []
            with open(path, encoding="utf-8", errors="replace") as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m:
                        incs.append((n, m.group(1)))
                    m = SYSTEM_INCLUDE.match(line)
                    if m and system is not None and m.group(1) in OWNED_HEADERS:
                        system.append((rel, n, m.group(1)))
            files[rel] = incs
    return files


def module_of(rel):
    return os.path.splitext(rel)[0]


def find_cycles(files):
    """Include cycles between modules: a list of cycles, each a list of (file, line, included)
    steps that leads from a module back to itself."""
    edges = {}  # module -> {module: (file, line, include)}
    for rel, incs in files.items():
        a = module_of(rel)
        for line, inc in incs:
            b = module_of(inc)
            if inc in files and b != a:
                edges.setdefault(a, {}).setdefault(b, (rel, line, inc))
    # Tarjan's strongly connected components, iteratively: a component of two or more modules
    # holds a cycle; one path around it is reported.
    index, low, on_stack, stack, comps, counter = {}, {}, set(), [], [], [0]
    for start in sorted(set(edges) | {m for e in edges.values() for m in e}):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    comps.append(sorted(comp))
    cycles = []
    for comp in comps:
        members = set(comp)
        # breadth-first from the first module back to itself, inside the component
        first = comp[0]
        prev = {}
        queue = [first]
        found = None
        while queue and not found:
            v = queue.pop(0)
            for w in sorted(edges.get(v, {})):
                if w not in members:
                    continue
                if w == first:
                    found = v
                    break
                if w not in prev:
                    prev[w] = v
                    queue.append(w)
        path = [found]
        while path[-1] != first:
            path.append(prev[path[-1]])
        path.reverse()
        path.append(first)
        cycles.append([edges[a][b] for a, b in zip(path, path[1:])])
    return cycles


def check(src, use_allowances=True, allowances=None):
    """The findings for the tree under src, one line each, sorted (allowances: ALLOWANCES)."""
    allowances = ALLOWANCES if allowances is None else allowances
    system = []
    files = read_tree(src, system)
    problems = []
    used = set()
    for rel, line, header in system:
        if folder_of(rel) != OWNED_HEADERS[header]:
            problems.append(f"{rel}:{line}: includes <{header}>: only {OWNED_HEADERS[header]}/ may use it")
    for folder in sorted({folder_of(rel) for rel in files}):
        if rule_name(folder) is None:
            problems.append(f"{folder or '.'}/: no layer rule for this folder "
                            f"(add one to RULES in {os.path.basename(__file__)})")
    for rel, incs in sorted(files.items()):
        src_folder = folder_of(rel)
        if rule_name(src_folder) is None:
            continue
        for line, inc in incs:
            if inc not in files:
                problems.append(f"{rel}:{line}: includes \"{inc}\", which is not a file under src/ "
                                "(includes are written from src/)")
                continue
            dst_folder = folder_of(inc)
            if rule_name(dst_folder) is None or may_include(src_folder, dst_folder):
                continue
            if use_allowances and (rel, inc) in allowances:
                used.add((rel, inc))
                continue
            problems.append(f"{rel}:{line}: includes \"{inc}\": {src_folder or '.'}/ may not include "
                            f"{dst_folder or '.'}/ (it may include: "
                            f"{', '.join(sorted(RULES[rule_name(src_folder)])) or 'only itself'})")
    if use_allowances:
        for rel, inc in sorted(allowances - used):
            problems.append(f"{rel}: the allowance for including \"{inc}\" is no longer needed: "
                            f"delete it from ALLOWANCES in {os.path.basename(__file__)}")
    for cycle in find_cycles(files):
        steps = " -> ".join(f"{rel}:{line} includes \"{inc}\"" for rel, line, inc in cycle)
        problems.append(f"include cycle: {steps}")
    return problems


def self_test():
    """The checker finds what it must and nothing else, on small trees."""
    failures = []

    def expect(name, files, want, allowances=False, allowance_set=None):
        with tempfile.TemporaryDirectory(prefix="check_layers.") as d:
            for rel, text in files.items():
                os.makedirs(os.path.join(d, os.path.dirname(rel)), exist_ok=True)
                with open(os.path.join(d, rel), "w") as f:
                    f.write(text)
            got = check(d, use_allowances=allowances, allowances=allowance_set)
        if [p for p in got if not any(w in p for w in want)] or any(not any(w in p for p in got) for w in want):
            failures.append(f"self-test {name}: expected findings containing {want}, got {got}")

    ok = {
        "base/a.h": "#include <stddef.h>\n", "base/a.c": '#include "base/a.h"\n',
        "net/n.c": '#include "base/a.h"\n', "aws/s.c": '#include "net/n.h"\n', "net/n.h": "",
        "pipeline/p.h": '#include "base/a.h"\n', "sinks/sinks.c": '#include "sinks/d/d.h"\n',
        "sinks/d/d.h": '#include "pipeline/p.h"\n', "sources/q.c": '#include "aws/s.h"\n', "aws/s.h": "",
        "cli/main.c": '#include "sinks/d/d.h"\n#include "sources/q.h"\n', "sources/q.h": "",
    }
    expect("clean tree", ok, [])
    expect("upward include", {**ok, "base/b.c": '#include "net/n.h"\n'},
           ['base/b.c:1: includes "net/n.h": base/ may not include net/'])
    expect("source includes a sink", {**ok, "sources/r.c": '\n#include "sinks/sinks.h"\n', "sinks/sinks.h": ""},
           ['sources/r.c:2: includes "sinks/sinks.h"'])
    expect("sink family uses the upload scheduler",
           {**ok, "sinks/e/e.c": '#include "sinks/upload/u.h"\n', "sinks/upload/u.h": '#include "aws/s.h"\n'}, [])
    expect("sink family includes another", {**ok, "sinks/e/e.c": '#include "sinks/d/d.h"\n'},
           ['sinks/e/e.c:1: includes "sinks/d/d.h"'])
    expect("sink family includes the registry", {**ok, "sinks/e/e.c": '#include "sinks/sinks.h"\n',
                                                  "sinks/sinks.h": ""}, ['sinks/e/e.c:1'])
    expect("index in its place", {**ok, "index/i.h": '#include "pipeline/p.h"\n#include <sqlite3.h>\n',
                                  "sinks/e/e.c": '#include "index/i.h"\n', "serve/v.c": '#include "index/i.h"\n',
                                  "cli/s.c": '#include "serve/v.h"\n', "serve/v.h": ""}, [])
    expect("index includes a sink", {**ok, "index/i.c": '#include "sinks/d/d.h"\n'}, ["index/i.c:1"])
    expect("a sink includes serve", {**ok, "sinks/e/e.c": '#include "serve/v.h"\n', "serve/v.h": ""},
           ["sinks/e/e.c:1"])
    expect("sqlite outside index", {**ok, "sinks/e/e.c": '#include <stdio.h>\n#include <sqlite3.h>\n'},
           ["sinks/e/e.c:2: includes <sqlite3.h>: only index/"])
    expect("pipeline includes aws", {**ok, "pipeline/p.c": '#include "aws/s.h"\n'}, ["pipeline/p.c:1"])
    expect("not written from src/", {**ok, "net/m.c": '#include "n.h"\n'}, ['net/m.c:1: includes "n.h", which'])
    expect("folder without a rule", {**ok, "extra/x.c": ""}, ["extra/: no layer rule"])
    expect("cycle of two", {**ok, "aws/x.c": '#include "aws/y.h"\n', "aws/y.c": '#include "aws/x.h"\n',
                            "aws/x.h": "", "aws/y.h": ""},
           ['include cycle: aws/x.c:1 includes "aws/y.h" -> aws/y.c:1 includes "aws/x.h"'])
    expect("cycle of three through headers",
           {**ok, "net/x.h": '#include "net/y.h"\n', "net/y.h": '#include "net/z.h"\n',
            "net/z.h": '#include "net/x.h"\n'},
           ['include cycle: net/x.h:1 includes "net/y.h" -> net/y.h:1 includes "net/z.h" -> net/z.h:1'])
    expect("stale allowance", ok, ["the allowance for including"], allowances=True,
           allowance_set={("sources/q.c", "sinks/sinks.h")})
    for line in failures:
        print(line, file=sys.stderr)
    return not failures


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    flags = {a for a in argv[1:] if a.startswith("--")}
    if len(args) != 1 or flags - {"--self-test", "--no-allowances"}:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    if "--self-test" in flags and not self_test():
        return 1
    problems = check(args[0], use_allowances="--no-allowances" not in flags)
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} finding(s) in {args[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
