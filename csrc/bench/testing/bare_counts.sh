#!/usr/bin/env bash
# Instructions per operation of malloc and free alone (bare_loops: no tags, checks or checksum),
# counted exactly by callgrind in the measured loop, under hakmem and each peer that is installed.
#   bench/testing/bare_counts.sh BUILD_DIR     (BUILD_DIR holds libhakmem.so and bench/bare_loops)
set -euo pipefail
build=${1:?usage: bare_counts.sh BUILD_DIR}
program=$build/bench/bare_loops
command -v valgrind >/dev/null || { echo "bare_counts: valgrind is not installed (apt-get install valgrind)" >&2; exit 3; }
[ -x "$program" ] || { echo "bare_counts: $program is missing (make bare-counts builds it)" >&2; exit 3; }

libs=/usr/lib/x86_64-linux-gnu
allocators=("hakmem=$build/libhakmem.so" "mimalloc=$libs/libmimalloc.so.2" "jemalloc=$libs/libjemalloc.so.2"
            "tcmalloc=$libs/libtcmalloc_minimal.so.4" "glibc=")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# One count: instructions in bench_loop* divided by the operations the program reports.
per_op() {
  local preload=$1; shift
  LD_PRELOAD=$preload valgrind --tool=callgrind --toggle-collect='bench_loop*' \
    --callgrind-out-file="$out/cg.out" "$program" "$@" >"$out/stdout" 2>"$out/stderr" ||
    { echo "bare_counts: $program $* failed under ${preload:-glibc}:" >&2; tail -3 "$out/stderr" >&2; exit 5; }
  local ops instructions
  ops=$(sed -n 's/.*"ops": \([0-9]*\).*/\1/p' "$out/stdout")
  instructions=$(awk '/^(summary|totals):/ {print $2; exit}' "$out/cg.out")
  awk -v i="$instructions" -v o="$ops" 'BEGIN {printf "%.1f", i / o}'
}

printf '%-9s %22s %32s\n' allocator 'hot 64 B, batch 100' 'mixed 16-1039 B, ws 8192, 2 M'
for entry in "${allocators[@]}"; do
  name=${entry%%=*} lib=${entry#*=}
  if [ -n "$lib" ] && [ ! -e "$lib" ]; then continue; fi
  printf '%-9s %22s %32s\n' "$name" "$(per_op "$lib" hot 64 100 10000)" "$(per_op "$lib" mixed 2000000 8192 16 1039 12345)"
done
