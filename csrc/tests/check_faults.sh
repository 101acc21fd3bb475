#!/usr/bin/env bash
# Runs test_faults once per OS call its workload makes, that call failing (then a burst of
# four failed maps from there), and reports how many failure points were tried.
set -u
prog=${1:?usage: check_faults.sh path/to/test_faults}
export HAKMEM_PURGE_THREAD=0          # its calls would come at times no run can repeat
read -r calls kept < <("$prog" count) && [ -n "$calls" ] || { echo "check-faults: the workload fails without faults" >&2; exit 1; }
failed=0 runs=0 surfaced=0
for span in 1 4; do
  for ((n = 1; n <= calls; n++)); do
    runs=$((runs + 1))
    if out=$(HAKMEM_FAULT_AT=$n HAKMEM_FAULT_SPAN=$span "$prog" "$kept" 2>&1); then
      [ "${out:-0}" != 0 ] && surfaced=$((surfaced + 1))
    else
      echo "check-faults: HAKMEM_FAULT_AT=$n HAKMEM_FAULT_SPAN=$span: ${out:-crashed}" >&2
      failed=$((failed + 1))
    fi
  done
done
echo "check-faults: $calls OS calls in the workload, $runs failure points tried (single failures and bursts of 4), $surfaced reached malloc's caller as NULL with ENOMEM, $failed failed"
[ "$failed" -eq 0 ]
