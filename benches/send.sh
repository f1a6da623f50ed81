#!/usr/bin/env bash
# Send throughput against Postfix's smtp-sink on loopback, beside smtp-source in the same run.
#
# Target (issue 4, raised to 0.9x by issue 11): letterpress reaches at least 0.9x smtp-source's
# messages/second, sending an example issue to N generated subscribers over CONC connections;
# and with N=1000000 its peak RSS stays at or under 64 MB. Each run also prints the CPU time the
# whole machine spent on it (sink and database included), which says whether the cores or a
# wait set the pace.
#
#   benches/send.sh                    # N=100000, CONC=8
#   N=1000000 CONC=8 benches/send.sh   # the peak-RSS run
#   STATE_URL=auto benches/send.sh     # also with the state store on PostgreSQL (issue 14)
#
# With STATE_URL, letterpress sends the same issue a second time with its state store on
# PostgreSQL (LETTERPRESS_STATE_URL) to the same sink, and the two rates are compared (target:
# PostgreSQL >= 0.8x SQLite). `auto` starts a throwaway cluster on loopback (initdb and pg_ctl
# from /usr/lib/postgresql/*/bin, as `nobody` when run as root); any other value is the URL of
# an EMPTY database (a database holding this send would resume it and send nothing).
# SKIP_SOURCE=1 leaves out the smtp-source comparison; BIN=path uses that binary, unbuilt.
# With `auto`, PG_OPTS adds server settings, PG_SQL and PG_REPORT run SQL before and after the
# PostgreSQL send, and PERF_PG=file records the whole machine during it (perf), e.g. the
# journal's statements and how many of its updates were heap-only:
#   STATE_URL=auto SKIP_SOURCE=1 PG_OPTS="-c shared_preload_libraries=pg_stat_statements" \
#     PG_SQL="CREATE EXTENSION pg_stat_statements" \
#     PG_REPORT="SELECT calls, total_exec_time, rows, left(query, 60) FROM pg_stat_statements
#                ORDER BY total_exec_time DESC LIMIT 5" benches/send.sh
#
# Measured 2026-12-07 (2 shared cores, sink, database and sender on the same two), N=100000, two
# runs each on a quiet host: SQLite 8,789–8,795 msg/s in the send phase, the machine busy
# 20.7–21.0 s (207–210 us a message), 4.2 s idle; PostgreSQL 6,171–6,587 msg/s, busy 28.2–29.6 s
# (282–296 us a message), 6.6–7.2 s idle. A message costs the machine about 40 % more CPU on
# PostgreSQL (its server's work on the journal rows against SQLite's in-process work): at full
# use of both cores that is at most ~6,900 msg/s, 0.79x of SQLite's rate before PostgreSQL's
# longer start-up (2.3 s against 1.0 s for the 100,000 journal rows).
# Then migration 14 (the journal's statuses CHECK without a temporary b-tree per row written),
# three runs, load 0.6–1.8: letterpress / smtp-source 0.99, 1.01, 0.93; PostgreSQL / SQLite 0.58,
# 0.68, 0.67. N=1000000: peak RSS 58.1 MiB, 7,357 msg/s in the send phase, but 26.7 s of start-up
# (ten times the rows, 25 times the time). perf of that start-up: 90 % in SQLite, half of it
# moving pages (pread 24 %, pwrite 26 %, cache spills 18 %, checkpoints 10 %): the journal's
# random-key indexes (token, Message-ID, address) outgrow the 16 MiB page cache, and each
# 10,000-row chunk reads and writes back most of their pages.
# Then migration 15 (PostgreSQL's journal without the rowid's unique index), a slower phase of
# the host: letterpress / smtp-source 1.11, PostgreSQL / SQLite 0.71 (SQLite 6,802 msg/s in the
# send phase, PostgreSQL 5,141). See docs/state.md for the server's CPU before and after.
# Then claimed pages (migration 16: a claim writes one row per page, not one per recipient) and
# the audience's INSERT without ON CONFLICT: PostgreSQL / SQLite 0.85, 0.69, 0.84 (SQLite
# 7,241-7,637 msg/s in the send phase, PostgreSQL 5,485-6,696); letterpress / smtp-source 0.84.
# Three more runs a little later, the machine busier: 0.74, 0.80, 0.75.
# Then the body sent while the in-flight mark commits (only the final dot waits for it) and the
# batches returning only their withheld rows, five rounds alternating with the build before, on
# a quieter host (docs/state.md): PostgreSQL / SQLite median 0.745 before, 0.754 after;
# letterpress / smtp-source 0.88 and 0.99 (two runs of this script). This script as it is
# (PostgreSQL's files on the disk), three runs in a row: 0.74, 0.67, 0.72. N=1000000: peak RSS
# 59,676 KB (58.3 MiB), 7,978 msg/s in the send phase.
# Then migration 17 (PostgreSQL's text columns COLLATE "C"), load 1.5-2.4: this script as it
# is, three runs in a row, PostgreSQL / SQLite 0.75, 0.77, 0.90 (the last with SQLite's send
# slow); letterpress / smtp-source 0.88, 0.83 (send phase 5,738 and 7,354 msg/s against
# smtp-source's 5,862 and 7,835).
#
# Needs postfix (smtp-sink, smtp-source) and GNU time: apt-get install postfix time.
set -euo pipefail

N=${N:-100000}
CONC=${CONC:-8}
PORT=${PORT:-25250}
ISSUE=commissioner/2016-12-09-stp-plans-published
root=$(cd "$(dirname "$0")/.." && pwd)

for tool in smtp-sink smtp-source /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install postfix time" >&2; exit 2; }
done

if [ -n "${BIN:-}" ]; then
  bin=$BIN   # a letterpress binary built already (BIN=path benches/send.sh)
else
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  bin="$root/target/release/letterpress"
fi

work=$(mktemp -d)
sink=""
pgdir=""
pgbin=""
cleanup() {
  [ -n "$sink" ] && kill "$sink" 2>/dev/null || true
  if [ -n "$pgdir" ]; then
    as_pg "$pgbin/pg_ctl" -D "$pgdir/data" stop -m immediate >/dev/null 2>&1 || true
    rm -rf "$pgdir"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
as_pg() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; else "$@"; fi
}

STATE_URL=${STATE_URL:-}
if [ "$STATE_URL" = auto ]; then
  pgbin=$(pg_config --bindir 2>/dev/null || true)
  [ -x "$pgbin/initdb" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$pgbin/initdb" ] || { echo "no initdb: apt-get install postgresql" >&2; exit 2; }
  pgdir=$(mktemp -d)
  [ "$(id -u)" = 0 ] && chown nobody:nogroup "$pgdir"
  pgport=$((PORT + 1))
  as_pg "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $pgport -k $pgdir ${PG_OPTS:-}" start >/dev/null
  as_pg "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -qc "CREATE DATABASE bench" postgres
  STATE_URL="postgres://postgres@127.0.0.1:$pgport/bench"
fi

# The whole machine's busy CPU time (sink and database included), in hundredths of a second.
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# What a run cost the machine: busy seconds, and microseconds of CPU per message.
report_cpu() { # label busy-before busy-after
  printf '%s: the machine busy %.1f s of CPU, %.0f us a message (sink included)\n' "$1" \
    "$(echo "($3 - $2) / 100" | bc -l)" "$(echo "($3 - $2) * 10000 / $N" | bc -l)"
}

smtp-sink -u nobody "127.0.0.1:$PORT" 1000 &
sink=$!
sleep 0.5

cp -r "$root/letterpress.yaml" "$root/content" "$root/templates" "$root/static" "$work/"
mkdir -p "$work/subscribers"
cp "$root/subscribers/integrated-care.csv" "$work/subscribers/"
awk -v n="$N" 'BEGIN { print "email,name,region"; for (i = 0; i < n; i++) printf "reader%07d@example.org,Reader %d,London\n", i, i }' \
  > "$work/subscribers/commissioner-weekly.csv"
cat >> "$work/letterpress.yaml" <<YAML
sending:
  transport: smtp
  smtp:
    url: "smtp://127.0.0.1:$PORT"
  concurrency: $CONC
YAML

size=$("$bin" -C "$work" render "$ISSUE" --format html | wc -c)
echo "== letterpress: $N messages, $CONC connections (HTML part ~$((size / 1024)) KB)"
start=$(date +%s.%N)
busy0=$(busy)
/usr/bin/time -f "letterpress: %e s wall, %U s user, %S s system, peak RSS %M KB" "$bin" -C "$work" send "$ISSUE" --yes 2>&1 | grep -v '^\s*$' | tail -3
end=$(date +%s.%N)
report_cpu letterpress "$busy0" "$(busy)"
lp_rate=$(echo "$N / ($end - $start)" | bc -l)
printf "letterpress: %.0f msg/s over the whole command (audience into the journal included)\n" "$lp_rate"

if [ -n "$STATE_URL" ]; then
  echo "== letterpress, state store on PostgreSQL: $N messages, $CONC connections"
  # PG_SQL runs in the database once letterpress has made its tables, before the send (e.g.
  # `CREATE EXTENSION pg_stat_statements`, with PG_OPTS loading it); PG_REPORT after it.
  if [ -n "${PG_SQL:-}" ]; then
    LETTERPRESS_STATE_URL="$STATE_URL" "$bin" -C "$work" status >/dev/null 2>&1 || true
    as_pg "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -qc "$PG_SQL" bench
  fi
  start=$(date +%s.%N)
  busy0=$(busy)
  # PERF_PG=file records the whole machine during this send (`perf report -i file --sort comm`).
  LETTERPRESS_STATE_URL="$STATE_URL" ${PERF_PG:+perf record -a -q -o "$PERF_PG" --} /usr/bin/time -f "letterpress (PostgreSQL): %e s wall, %U s user, %S s system, peak RSS %M KB" \
    "$bin" -C "$work" send "$ISSUE" --yes 2>&1 | grep -v '^\s*$' | tail -3
  end=$(date +%s.%N)
  report_cpu "letterpress (PostgreSQL)" "$busy0" "$(busy)"
  pg_rate=$(echo "$N / ($end - $start)" | bc -l)
  printf "letterpress (PostgreSQL): %.0f msg/s over the whole command\n" "$pg_rate"
  [ -z "${PG_REPORT:-}" ] || as_pg "$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U postgres -c "$PG_REPORT" bench
  printf "ratio PostgreSQL / SQLite: %.2f (target >= 0.80)\n" "$(echo "$pg_rate / $lp_rate" | bc -l)"
fi
[ -n "${SKIP_SOURCE:-}" ] && exit 0

bytes=$(( size + size / 2 ))
echo "== smtp-source: $N messages of $bytes bytes, $CONC sessions"
start=$(date +%s.%N)
smtp-source -d -s "$CONC" -m "$N" -l "$bytes" "127.0.0.1:$PORT"
end=$(date +%s.%N)
src_rate=$(echo "$N / ($end - $start)" | bc -l)
printf "smtp-source: %.0f msg/s\n" "$src_rate"
printf "ratio letterpress / smtp-source: %.2f (target >= 0.90)\n" "$(echo "$lp_rate / $src_rate" | bc -l)"
