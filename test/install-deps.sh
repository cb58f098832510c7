#!/bin/sh
# Installs what ctindex needs to build and test, from Debian packages. Idempotent.
# Usage: test/install-deps.sh [--checks]
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
PKGS="build-essential cmake pkg-config libuv1-dev libcurl4-openssl-dev libssl-dev libmbedtls-dev zlib1g-dev libjsmn-dev libisal-dev"
# --checks: also what test/ci-checks.sh uses (clang, its static analyzer, clang-format, libFuzzer).
[ "${1:-}" = "--checks" ] && PKGS="$PKGS clang clang-tools clang-format libclang-rt-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
