#!/usr/bin/env bash
# Side by side: pgdiverge against PostgreSQL 15's own tools on the same real pgbench WAL.
#
#   benches/vs-postgres.sh [setup|run]     (default: setup when needed, then run)
#
# setup  makes (once; reused when present) a forked pair of PostgreSQL 15 clusters in the cache dir
#        $PGDIVERGE_WAL_CACHE (default /work/pgbench-wal, outside the repository — never commit it):
#          A  initdb -k, pgbench -i, clean stop;               (A and B share everything up to here)
#          B  a cold copy of A, promoted to timeline 2, clean stop;
#          A  restarted, pgbench until >= $WAL_MB MB of WAL after the fork, clean stop.
#        A's pg_wal then holds >= 400 MB of real pgbench WAL (16 MB segments) after the fork, which
#        is exactly what `pg_rewind --dry-run` must read to rewind A onto B.
# run    times, alternating runs ($RUNS of each):
#          pg_waldump -q -p A/pg_wal -s FORK -e END       vs  pgdiverge scan -p A/pg_wal -s FORK -e END
#                                                          vs  the same with --mmap
#                                                          vs  the same with --mmap --threads $(nproc)
#                                                          vs  pgdiverge-floor (benches/src/bin/floor.rs): the same
#                                                              bytes mapped and one CRC over them, 1 and $(nproc) threads
#          pg_rewind --dry-run -D A --source-pgdata B     vs  pgdiverge compare A B
#        after checking that both sides see the same record count (pg_waldump --stats) and the same
#        answer (pg_rewind would rewind; compare's verdict is rewind). Prints medians, ratios and the
#        peak RSS of each tool (/usr/bin/time -v).
#
# Servers run as the postgres user on a unix socket in the cache dir and are stopped on exit.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
CACHE=${PGDIVERGE_WAL_CACHE:-/work/pgbench-wal}
WAL_MB=${WAL_MB:-450}
RUNS=${RUNS:-7}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PGDIVERGE=${PGDIVERGE:-}
A="$CACHE/A"
B="$CACHE/B"
SOCK="$CACHE/sock"
PORT=54915

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

started=()
cleanup() {
  for d in "${started[@]:-}"; do
    [ -n "$d" ] && [ -f "$d/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$d" -m fast -w stop >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

pg_start() { # dir
  as_pg "$PGBIN/pg_ctl" -D "$1" -w -l "$CACHE/$(basename "$1").log" \
    -o "-c unix_socket_directories=$SOCK -c listen_addresses= -p $PORT" start >/dev/null
  started+=("$1")
}
pg_stop() { as_pg "$PGBIN/pg_ctl" -D "$1" -m fast -w stop >/dev/null; }
psql_q() { as_pg "$PGBIN/psql" -X -q -A -t -h "$SOCK" -p "$PORT" -U postgres -d postgres -c "$1"; }
lsn_to_int() { # X/Y -> decimal
  local hi=${1%/*} lo=${1#*/}
  echo $(((16#$hi << 32) + 16#$lo))
}

setup() {
  if [ -f "$CACHE/ready" ]; then
    echo "setup: reusing $CACHE"
    return
  fi
  echo "setup: making a forked PostgreSQL 15 pair with >= $WAL_MB MB of pgbench WAL in $CACHE"
  rm -rf "$A" "$B" "$SOCK"
  mkdir -p "$CACHE" "$SOCK"
  chown postgres: "$CACHE" "$SOCK" 2>/dev/null || true
  as_pg "$PGBIN/initdb" -U postgres -A trust -E UTF8 --locale=C -k -D "$A" >/dev/null
  cat >>"$A/postgresql.conf" <<EOF
# pgdiverge benches: keep every WAL segment, no timed checkpoints during the run.
max_wal_size = 16GB
min_wal_size = 1GB
wal_keep_size = 16GB
checkpoint_timeout = 1d
shared_buffers = 128MB
synchronous_commit = off
fsync = off
max_connections = 20
EOF
  pg_start "$A"
  as_pg "$PGBIN/pgbench" -h "$SOCK" -p "$PORT" -U postgres -i -q -s 10 postgres >/dev/null 2>&1
  pg_stop "$A"
  # B: a cold copy of the cleanly stopped A, promoted: timeline 2 forks at A's shutdown checkpoint.
  as_pg cp -a "$A" "$B"
  as_pg touch "$B/standby.signal"
  pg_start "$B"
  as_pg "$PGBIN/pg_ctl" -D "$B" -w promote >/dev/null
  psql_q "CHECKPOINT"
  as_pg "$PGBIN/pgbench" -h "$SOCK" -p "$PORT" -U postgres -n -c 2 -j 2 -t 2000 postgres >/dev/null
  pg_stop "$B"
  # A goes on writing on timeline 1: the WAL pg_rewind has to read.
  pg_start "$A"
  local fork_lsn now
  fork_lsn=$(psql_q "SELECT pg_current_wal_insert_lsn()")
  while :; do
    now=$(psql_q "SELECT (pg_current_wal_insert_lsn() - '$fork_lsn'::pg_lsn)::bigint / 1048576")
    [ "$now" -ge "$WAL_MB" ] && break
    as_pg "$PGBIN/pgbench" -h "$SOCK" -p "$PORT" -U postgres -n -c 2 -j 2 -T 20 postgres >/dev/null
  done
  pg_stop "$A"
  touch "$CACHE/ready"
  echo "setup: done; A wrote $now MB after the fork"
}

median() { sort -n | awk '{v[NR]=$1} END {if (NR%2) printf "%.3f\n", v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }

# timed NAME CMD...: runs CMD under /usr/bin/time (for the peak RSS) and appends "seconds maxrss_kB"
# to $OUT/NAME; the seconds come from bash's microsecond clock around it (/usr/bin/time's own
# figure has a 10 ms resolution, too coarse for runs of 0.05 s).
timed() {
  local name=$1 t0 t1
  shift
  t0=$EPOCHREALTIME
  /usr/bin/time -f "%M" -o "$OUT/$name.last" "$@" >/dev/null 2>"$OUT/$name.err" || {
    local rc=$?
    # pgdiverge compare exits 11 for "rewind": that is its answer, not a failure.
    if ! { [ "$name" = compare ] && [ $rc = 11 ]; }; then
      echo "$name failed ($rc):" >&2
      cat "$OUT/$name.err" >&2
      exit 1
    fi
  }
  t1=$EPOCHREALTIME
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }') $(tail -n 1 "$OUT/$name.last")" >>"$OUT/$name"
}

run() {
  [ -f "$CACHE/ready" ] || { echo "no WAL in $CACHE: run $0 setup first" >&2; exit 1; }
  [ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
  if [ -z "$PGDIVERGE" ]; then
    (cd "$ROOT" && cargo build --release -q -p pgdiverge)
    PGDIVERGE="${CARGO_TARGET_DIR:-$ROOT/target}/release/pgdiverge"
  fi
  local floor=${FLOOR:-}
  if [ -z "$floor" ]; then
    (cd "$ROOT" && cargo build --release -q -p pgdiverge-benches --bin pgdiverge-floor)
    floor="${CARGO_TARGET_DIR:-$ROOT/target}/release/pgdiverge-floor"
  fi
  OUT=$(mktemp -d)
  local threads start end
  threads=$(nproc)
  # The fork: where timeline 2 branched off timeline 1 (B's history file).
  start=$(awk 'NF >= 2 && $1 == 1 {print $2; exit}' "$B/pg_wal/00000002.history")
  # The end of A's WAL, as pgdiverge finds it.
  end=$("$PGDIVERGE" scan -p "$A/pg_wal" -s "$start" | awk -F': ' '$1 == "next record" {print $2}')
  local wal_bytes
  wal_bytes=$(( $(lsn_to_int "$end") - $(lsn_to_int "$start") ))

  # Same range, same records: pg_waldump --stats total vs pgdiverge scan.
  local n_pg n_us n_par
  n_pg=$("$PGBIN/pg_waldump" --stats -p "$A/pg_wal" -s "$start" -e "$end" | awk '$1 == "Total" {print $2}')
  n_us=$("$PGDIVERGE" scan -p "$A/pg_wal" -s "$start" -e "$end" | awk -F': ' '$1 == "records" {print $2}')
  n_par=$("$PGDIVERGE" scan -p "$A/pg_wal" -s "$start" -e "$end" --threads "$threads" --mmap | awk -F': ' '$1 == "records" {print $2}')
  if [ "$n_pg" != "$n_us" ] || [ "$n_pg" != "$n_par" ]; then
    echo "record counts differ: pg_waldump $n_pg, pgdiverge $n_us, pgdiverge --threads $threads $n_par" >&2
    exit 1
  fi
  # Same answer: pg_rewind would rewind from the same checkpoint that compare names.
  local rw cmp
  rw=$(as_pg "$PGBIN/pg_rewind" --dry-run -D "$A" --source-pgdata "$B" 2>&1 | sed -n 's/.*rewinding from last common checkpoint at \([0-9A-F/]*\).*/\1/p')
  cmp=$("$PGDIVERGE" compare "$A" "$B" | sed -n 's/^Last common checkpoint: \([0-9A-F/]*\).*/\1/p' || true)
  local verdict
  verdict=$("$PGDIVERGE" compare "$A" "$B" | head -n 1 || true)
  if [ -z "$rw" ] || [ "$rw" != "$cmp" ] || [ "${verdict%%:*}" != REWIND ]; then
    echo "answers differ: pg_rewind rewinds from '$rw'; pgdiverge: '$verdict', checkpoint '$cmp'" >&2
    exit 1
  fi

  # The segment files that hold the range (timeline 1, 16 MB segments: 256 per 4 GB).
  local files=() segno
  for ((segno = $(lsn_to_int "$start") >> 24; segno <= ($(lsn_to_int "$end") - 1) >> 24; segno++)); do
    files+=("$A/pg_wal/$(printf '00000001%08X%08X' $((segno >> 8)) $((segno & 255)))")
  done

  echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "WAL: $A/pg_wal from $start to $end: $wal_bytes bytes, $n_pg records (pg_waldump and pgdiverge agree)"
  echo "answer: pg_rewind --dry-run and pgdiverge compare both rewind from $rw"
  echo "runs: $RUNS of each, alternating; medians"
  # Warm the page cache, then alternate.
  cat "$A"/pg_wal/0* >/dev/null
  for _ in $(seq "$RUNS"); do
    timed waldump "$PGBIN/pg_waldump" -q -p "$A/pg_wal" -s "$start" -e "$end"
    timed scan1 "$PGDIVERGE" scan -p "$A/pg_wal" -s "$start" -e "$end" --threads 1
    timed scan1m "$PGDIVERGE" scan -p "$A/pg_wal" -s "$start" -e "$end" --threads 1 --mmap
    timed scanNm "$PGDIVERGE" scan -p "$A/pg_wal" -s "$start" -e "$end" --threads "$threads" --mmap
    timed floor1 "$floor" "$A/pg_wal" "$start" "$end" 1
    timed floor1p "$floor" "$A/pg_wal" "$start" "$end" 1 populate
    timed floorN "$floor" "$A/pg_wal" "$start" "$end" "$threads"
    timed floorNp "$floor" "$A/pg_wal" "$start" "$end" "$threads" populate
    timed floor1s "$floor" "$A/pg_wal" "$start" "$end" 1 populate sum
    timed floorNs "$floor" "$A/pg_wal" "$start" "$end" "$threads" populate sum
    timed cat cat "${files[@]}"
    if [ "$(id -u)" = 0 ]; then
      timed rewind runuser -u postgres -- "$PGBIN/pg_rewind" --dry-run -D "$A" --source-pgdata "$B"
    else
      timed rewind "$PGBIN/pg_rewind" --dry-run -D "$A" --source-pgdata "$B"
    fi
    timed compare "$PGDIVERGE" compare "$A" "$B"
  done
  local name t r
  declare -A T R
  for name in waldump scan1 scan1m scanNm floor1 floor1p floorN floorNp floor1s floorNs cat rewind compare; do
    T[$name]=$(awk '{print $1}' "$OUT/$name" | median)
    R[$name]=$(awk '{print $2}' "$OUT/$name" | sort -n | tail -n 1)
  done
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
  mbs() { awk -v t="$1" -v n="$wal_bytes" 'BEGIN { if (t > 0) printf "%.0f", n / t / 1e6; else print "inf" }'; }
  printf '%-44s %9s %9s %12s %8s\n' "command" "median s" "MB/s" "peak RSS MB" "speedup"
  for name in waldump scan1 scan1m scanNm floor1 floor1p floorN floorNp floor1s floorNs cat; do
    t=${T[$name]}
    r=$(awk -v k="${R[$name]}" 'BEGIN { printf "%.1f", k / 1024 }')
    case $name in
      waldump) label="pg_waldump -q" ;;
      scan1) label="pgdiverge scan (read())" ;;
      scan1m) label="pgdiverge scan --mmap" ;;
      scanNm) label="pgdiverge scan --mmap --threads $threads" ;;
      floor1) label="floor: map + CRC every byte, 1 thread" ;;
      floor1p) label="floor: the same, MAP_POPULATE" ;;
      floorN) label="floor: map + CRC every byte, $threads threads" ;;
      floorNp) label="floor: the same, MAP_POPULATE" ;;
      floor1s) label="map + sum every byte, no CRC, 1 thread" ;;
      floorNs) label="map + sum every byte, no CRC, $threads threads" ;;
      cat) label="read() every byte (cat), no CRC" ;;
    esac
    printf '%-44s %9s %9s %12s %8s\n' "$label" "$t" "$(mbs "$t")" "$r" "$(ratio "${T[waldump]}" "$t")x"
  done
  for name in rewind compare; do
    t=${T[$name]}
    r=$(awk -v k="${R[$name]}" 'BEGIN { printf "%.1f", k / 1024 }')
    case $name in
      rewind) label="pg_rewind --dry-run" ;;
      compare) label="pgdiverge compare" ;;
    esac
    printf '%-44s %9s %9s %12s %8s\n' "$label" "$t" "$(mbs "$t")" "$r" "$(ratio "${T[rewind]}" "$t")x"
  done
  echo "targets: scan (one thread) >= 4x pg_waldump, --threads $threads >= 7x, peak RSS <= 64 MB, compare >= 3x pg_rewind"
  echo "floor: no reader that checks every record's CRC can beat the floor rows (same bytes mapped, one CRC over them, no parsing)"
  echo "busiest other processes now (they share the cores):"
  ps -eo pcpu=,comm= --sort=-pcpu | head -n 3
  rm -rf "$OUT"
}

case "${1:-all}" in
  setup) setup ;;
  run) run ;;
  all) setup && run ;;
  *) echo "usage: $0 [setup|run|all]" >&2; exit 2 ;;
esac
