#!/bin/sh
# Builds csrc/bench/testing/scarce.c once (into csrc/build/scarce/, beside hakmem's builds;
# written under a temporary name and renamed, so an interrupted build leaves nothing), then
# runs it with the given arguments: `rounds LIMIT_KIB`, `idle MS...` or `trim`.
set -e
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../../csrc/bench/testing/scarce.c"
header="$here/../../csrc/bench/testing/malloc_round.h"
out="$here/../../csrc/build/scarce"
bin="$out/scarce"
if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ] || [ "$header" -nt "$bin" ]; then
  mkdir -p "$out"
  tmp="$bin.tmp.$$"
  env -u LD_PRELOAD cc -std=c11 -O2 -Wall -Wextra -D_GNU_SOURCE -pthread -o "$tmp" "$src"
  mv -f "$tmp" "$bin"
fi
exec "$bin" "$@"
