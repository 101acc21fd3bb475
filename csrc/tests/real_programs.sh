#!/usr/bin/env bash
# Real programs under LD_PRELOAD=libhakmem.so must print exactly what they print without
# it, and hakmem's counters must show that it served their allocations.
# Usage: tests/real_programs.sh path/to/libhakmem.so
set -euo pipefail

lib=$(realpath "${1:?usage: real_programs.sh path/to/libhakmem.so}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# run NAME COMMAND...: once with glibc, once with hakmem; outputs and exit codes must match.
run() {
  local name=$1; shift
  local plain="$work/$name.plain" preloaded="$work/$name.hakmem" rc_plain=0 rc_hak=0
  "$@" >"$plain" 2>&1 || rc_plain=$?
  env LD_PRELOAD="$lib" HAKMEM_STATS="$work/$name.stats.%p.json" "$@" >"$preloaded" 2>&1 || rc_hak=$?
  if [[ $rc_plain != "$rc_hak" ]] || ! cmp -s "$plain" "$preloaded"; then
    echo "FAIL $name: output differs under hakmem (exit $rc_plain vs $rc_hak)"
    diff "$plain" "$preloaded" | head -20 || true
    failures=$((failures + 1))
    return
  fi
  # at least one process of the run allocated through hakmem's tiny or mid pool
  if ! grep -hqE '"(tinyRefills|midRefills)":[1-9]' "$work/$name".stats.*.json 2>/dev/null; then
    echo "FAIL $name: no hakmem counters show allocations (was libhakmem.so loaded?)"
    failures=$((failures + 1))
    return
  fi
  echo "ok   $name ($(wc -l <"$plain") lines of output, $(ls "$work/$name".stats.*.json | wc -l) processes)"
}

# python3: dictionaries, lists, strings, sorting
cat >"$work/workload.py" <<'PY'
import collections, json
d = {}
for i in range(300000):
    d["k%d" % i] = [i, str(i) * (i % 7), {"x": i % 13}]
lists = [list(range(i % 97)) for i in range(60000)]
counter = collections.Counter(w for v in d.values() for w in v[1][:3])
s = sorted(d.items(), key=lambda kv: (len(kv[1][1]), kv[0]))[:5]
blob = json.dumps({k: v for k, v in list(d.items())[:2000]})
del d
print(sum(map(len, lists)), counter.most_common(3), s[0][0], len(blob), len(json.loads(blob)))
PY
run python3 python3 "$work/workload.py"

# perl: hashes, arrays, regular expressions
cat >"$work/workload.pl" <<'PL'
my %h; my @a;
for my $i (1..200000) { $h{"k$i"} = join(",", ($i) x ($i % 5)); push @a, [$i, "v" x ($i % 11)]; }
my $n = grep { /^k1\d*5$/ } keys %h;
my @s = sort { $a->[0] % 1000 <=> $b->[0] % 1000 or $a->[0] <=> $b->[0] } @a;
print scalar(keys %h), " $n $s[0][0] $s[-1][0]\n";
PL
run perl perl "$work/workload.pl"

# git: a repository with a few commits, fixed identities and dates so hashes repeat
git_session() {
  local repo
  repo=$(mktemp -d "$work/repo.XXXX")
  cd "$repo"
  export GIT_AUTHOR_NAME=hak GIT_AUTHOR_EMAIL=hak@example.invalid GIT_COMMITTER_NAME=hak \
         GIT_COMMITTER_EMAIL=hak@example.invalid GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' \
         GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' GIT_CONFIG_NOSYSTEM=1 HOME="$repo"
  git init -q -b main .
  for i in 1 2 3 4 5; do
    seq 1 $((i * 2000)) | sed "s/^/line $i /" >"file$i.txt"
    git add -A && git commit -qm "commit $i"
  done
  git log --stat --format='%H %s'
  git gc -q
  git fsck --no-progress 2>&1
  git rev-list --all --objects | wc -l
}
export -f git_session
export work
run git bash -c git_session

# gcc: compile and run a C program; the object file must be byte-identical
cat >"$work/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
struct node { struct node* next; int v; };
int main(void) {
  struct node* head = NULL;
  for (int i = 0; i < 1000; i++) { struct node* n = malloc(sizeof *n); n->v = i; n->next = head; head = n; }
  long s = 0;
  while (head) { struct node* n = head; head = n->next; s += n->v; free(n); }
  printf("%ld\n", s);
  return 0;
}
C
compile() { gcc -O2 -c "$work/prog.c" -o "$1" && gcc "$1" -o "$1.bin" && "$1.bin" && sha256sum <"$1"; }
export -f compile
run gcc bash -c 'compile "$work/prog-$RANDOM.o"'

if [[ $failures -gt 0 ]]; then
  echo "real programs: $failures failed"
  exit 1
fi
echo "real programs: all matched"
