#!/usr/bin/env bash
# Heap misuse by family (tests/misuse_families.c) under hakmem hardened and default, glibc and
# the installed peers: how many cases of each family each allocator stops, and how many runs
# crashed inside the allocator's own library. Run by `make misuse-families`.
#   tests/misuse_families.sh PROGRAM HARDENED_LIB DEFAULT_LIB
set -euo pipefail
program=${1:?usage: misuse_families.sh PROGRAM HARDENED_LIB DEFAULT_LIB}
hardened=${2:?hardened libhakmem.so}
default=${3:?default libhakmem.so}
libs=/usr/lib/x86_64-linux-gnu
scudo=$(ls /usr/lib/llvm-14/lib/clang/14*/lib/linux/libclang_rt.scudo_standalone-x86_64.so 2>/dev/null | tail -1 || true)
allocators=("hakmem-harden=$hardened" "hakmem-default=$default" "glibc=" "scudo=$scudo"
            "mimalloc=$libs/libmimalloc.so.2")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

header=0
for entry in "${allocators[@]}"; do
  name=${entry%%=*} lib=${entry#*=}
  if [ "$name" != glibc ] && { [ -z "$lib" ] || [ ! -e "$lib" ]; }; then echo "($name not installed)"; continue; fi
  # faults inside this library count as crashes, not detections (glibc: libc.so, string functions included)
  LD_PRELOAD=$lib "$program" "$(basename "${lib:-libc.so}")" >"$out/$name"
  if [ $header -eq 0 ]; then
    printf '%-15s' allocator
    sed -n 's/^family \(.*\): .*/\1/p' "$out/$name" | while read -r family; do printf ' %24s' "$family"; done
    printf ' %8s\n' crashed
    header=1
  fi
  printf '%-15s' "$name"
  sed -n 's/^family .*: \(.*\)$/\1/p' "$out/$name" | while read -r count; do printf ' %24s' "$count"; done
  printf ' %8s\n' "$(sed -n 's/^crashed //p' "$out/$name")"
done
