#!/usr/bin/env bash
# Runs one libFuzzer target until its process has used CPU_SECONDS of CPU time (user + system,
# read from /proc), not wall time, so a run that shares the machine with builds, or is paused
# with SIGSTOP while benchmarks run, is still counted honestly. Appends one line per run to
# runs.tsv (fuzz/README.md's table is made from it).
#
#   ./long-run.sh TARGET CPU_SECONDS [extra libFuzzer flags...]
#
# Environment: NICE (default 19), DEADLINE (a `date -d` time; stop there even if the budget is
# not spent), RUNS_TSV (default runs.tsv).
set -euo pipefail
cd "$(dirname "$0")"
target=$1 budget=$2
shift 2
RUSTC_BOOTSTRAP=1 cargo fuzz build -O "$target" >/dev/null 2>&1 ||
  RUSTC_BOOTSTRAP=1 cargo fuzz build -O "$target"
bin=target/x86_64-unknown-linux-gnu/release/$target
mkdir -p "corpus/$target" "artifacts/$target" logs
log=logs/$target-$(date -u +%Y%m%dT%H%M%S).log
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
deadline=${DEADLINE:+$(date -d "$DEADLINE" +%s)}
hz=$(getconf CLK_TCK)

nice -n "${NICE:-19}" "$bin" "corpus/$target" -artifact_prefix="artifacts/$target/" \
  -max_len=2200000 -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 "$@" >"$log" 2>&1 &
pid=$!
cpu=0
while kill -0 "$pid" 2>/dev/null; do
  if stat=$(cat "/proc/$pid/stat" 2>/dev/null); then
    # Fields 14 and 15 (utime, stime), counted after the ")" that ends the command name.
    ticks=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' <<<"$stat")
    cpu=$((ticks / hz))
  fi
  if ((cpu >= budget)) || { [[ -n $deadline ]] && (($(date +%s) >= deadline)); }; then
    kill -INT "$pid" 2>/dev/null || true
    break
  fi
  sleep 5
done
rc=0
wait "$pid" || rc=$?

field() { { grep -oE "$1: +[0-9]+" || true; } | awk '{ v = $2 } END { print v }'; }
execs=$(field stat::number_of_executed_units <"$log")
rss=$(field stat::peak_rss_mb <"$log")
last=$({ grep -E '^#[0-9]+' "$log" || true; } | tail -n 1)
cov=$(field cov <<<"$last")
ft=$(field ft <<<"$last")
corp=$(field corp <<<"$last")
# A crash, leak, timeout or out-of-memory writes crash-/leak-/timeout-/oom- artifacts; a
# slow-unit- artifact (a unit over 10 s, -report_slow_units) is only a report — and what a pause
# (SIGSTOP) in the middle of a unit looks like.
if grep -qE '^==[0-9]+== ERROR|^SUMMARY: |deadly signal|Test unit written to .*/(crash|leak|timeout|oom)-' "$log"; then
  result="FINDING (see $log)"
elif grep -q 'Test unit written to .*/slow-unit-' "$log"; then
  result="no finding; slow unit reported (see $log)"
else
  result="no finding"
fi
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$target" "$cpu" \
  "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}" "$commit" "$*" "$result" \
  >>"${RUNS_TSV:-runs.tsv}"
echo "$target: $cpu s CPU, ${execs:-?} executions, cov ${cov:-?} ft ${ft:-?}, exit $rc, $result"
