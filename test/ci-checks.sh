#!/usr/bin/env bash
# The code checks CI runs before the tests (.ci/run); each fails on any finding.
#
#   format    clang-format --dry-run -Werror over every C file in src/, test/ and bench/
#   warnings  the plain build (gcc) with the project's warnings, which CMakeLists.txt makes
#             errors; also checks that every compile command carries them
#   scan      clang's static analyzer (scan-build) over a fresh build of everything: 0 reports
#   fuzz      every libFuzzer harness (test/fuzz/fuzz_*.c) for FUZZ_SECONDS seconds each, under
#             clang with ASan/UBSan, from a copy of its corpus (the committed corpus never grows)
#
# Usage: test/ci-checks.sh [format|warnings|scan|fuzz]...    (none: all four, in this order)
# Environment: JOBS (build jobs, 2), FUZZ_SECONDS (20).
# Installs what it needs (test/install-deps.sh --checks). Builds in build-ci-*/ (git-ignored).
# Every step runs even when an earlier one failed; the exit status is 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
WARNINGS=(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror)

say() { printf '\n=== ci-checks: %s\n' "$*"; }

check_format() {
    local files
    mapfile -t files < <(find src test bench -type f \( -name '*.c' -o -name '*.h' \) | sort)
    clang-format --version
    echo "${#files[@]} files"
    clang-format --dry-run -Werror "${files[@]}"
}

check_warnings() {
    local dir=build-ci-warnings
    cmake -S . -B "$dir" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null || return 1
    # The flags must be the project's own, for every file, not only this script's wish.
    local total flag missing=0
    total=$(grep -c '"command":' "$dir/compile_commands.json")
    for flag in "${WARNINGS[@]}"; do
        local n
        n=$(grep '"command":' "$dir/compile_commands.json" | grep -c -- " $flag " || true)
        if [ "$n" -ne "$total" ]; then
            echo "$flag is missing from $((total - n)) of $total compile commands (CMakeLists.txt sets the warnings)"
            missing=1
        fi
    done
    [ "$missing" -eq 0 ] || return 1
    echo "$total compile commands carry ${WARNINGS[*]}"
    cmake --build "$dir" -j"$JOBS"
}

check_scan() {
    local dir=build-ci-scan
    # A fresh folder: scan-build only analyzes what it sees compiled.
    rm -rf "$dir"
    scan-build --use-cc=clang -o "$dir/reports" cmake -S . -B "$dir" >/dev/null || return 1
    if ! scan-build --use-cc=clang --status-bugs -o "$dir/reports" cmake --build "$dir" -j"$JOBS"; then
        echo "scan-build: the reports are above (file:line: warning); for the paths: scan-view $dir/reports/*"
        echo "or: clang --analyze -Xclang -analyzer-output=text with the file's flags from a compile_commands.json"
        return 1
    fi
}

check_fuzz() {
    local dir=build-ci-fuzz
    local harnesses=() targets=() src name
    for src in test/fuzz/fuzz_*.c; do
        name=$(basename "$src" .c)
        harnesses+=("$name")
        targets+=(--target "$name")
    done
    CC=clang cmake -S . -B "$dir" -DCTINDEX_FUZZ=ON -DCTINDEX_SANITIZE=ON >/dev/null || return 1
    cmake --build "$dir" -j"$JOBS" "${targets[@]}" || return 1
    local work failed=0
    work=$(mktemp -d /tmp/ctindex-ci-fuzz.XXXXXX)
    for name in "${harnesses[@]}"; do
        local corpus="test/fuzz/corpus/${name#fuzz_}" rc=0
        if [ ! -d "$corpus" ]; then
            echo "$name: no corpus folder $corpus (every harness needs one)"
            failed=1
            continue
        fi
        mkdir -p "$work/$name/artifacts"
        cp -R "$corpus" "$work/$name/corpus"
        # -timeout: one input slower than 60 s is a finding too (cost must stay linear in size).
        "$dir/test/$name" -max_total_time="$FUZZ_SECONDS" -timeout=60 -print_final_stats=1 \
            -artifact_prefix="$work/$name/artifacts/" "$work/$name/corpus" >"$work/$name/log" 2>&1 || rc=$?
        local runs
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name/log")
        if [ "$rc" -eq 0 ]; then
            printf '%-22s ok: %s inputs in %s s, from %s corpus files\n' "$name" "${runs:-?}" "$FUZZ_SECONDS" \
                "$(find "$corpus" -type f | wc -l)"
            continue
        fi
        failed=1
        echo "$name: FAILED (exit $rc); the end of its log:"
        tail -n 60 "$work/$name/log"
        mkdir -p "$dir/artifacts"
        local a
        for a in "$work/$name/artifacts"/*; do
            [ -f "$a" ] || continue
            cp "$a" "$dir/artifacts/"
            echo "input $dir/artifacts/$(basename "$a") (replay: $dir/test/$name FILE), base64:"
            head -c 65536 "$a" | base64
        done
    done
    rm -rf "$work"
    return "$failed"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(format warnings scan fuzz)
for step in "${steps[@]}"; do
    case "$step" in
    format | warnings | scan | fuzz) ;;
    *)
        echo "usage: $0 [format|warnings|scan|fuzz]..." >&2
        exit 2
        ;;
    esac
done

say "installing what the checks need"
test/install-deps.sh --checks

failed=() summary=()
for step in "${steps[@]}"; do
    say "$step"
    start=$SECONDS
    if "check_$step"; then
        result=ok
    else
        result=FAILED
        failed+=("$step")
    fi
    summary+=("$(printf '%-9s %-6s %4d s' "$step" "$result" $((SECONDS - start)))")
done
say "summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "ci-checks: FAILED: ${failed[*]}"
    exit 1
fi
echo "ci-checks: all passed"
