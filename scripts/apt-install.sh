#!/usr/bin/env bash
# scripts/apt-install.sh COMMAND PACKAGE WHY [HINT]: make sure COMMAND exists, installing Debian's
# PACKAGE with apt-get when running as root (the one way `make install`, `make images` and
# `make test-containers` get system tools). Without root or apt-get it prints how to install it.
# Exit 0 unless STRICT=1 and the command is still missing (for targets that cannot go on without it).
set -uo pipefail
cmd=$1 pkg=$2 why=$3 hint=${4:-}
command -v "$cmd" >/dev/null 2>&1 && exit 0
fail() { echo "$1"; [ "${STRICT:-0}" = 1 ] && exit 1; exit 0; }
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing $pkg ($why) with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "$pkg" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "$pkg" >/dev/null; } \
    || fail "WARNING: apt-get could not install $pkg; $why needs it (apt-get install -y $pkg)"
  command -v "$cmd" >/dev/null 2>&1 || fail "WARNING: $pkg is installed but $cmd is not on PATH"
else
  fail "NOTE: $why needs $pkg, installed here only as root with apt-get: use your package manager (e.g. 'sudo apt-get install -y $pkg')${hint:+, $hint}"
fi
