#!/usr/bin/env bash
# Send throughput of an issue with regional editions against the same issue without blocks, in
# the same run, to Postfix's smtp-sink on loopback.
#
# Target (issue 15): an issue with EDITIONS regional blocks (`::: only region="…"`), sent to N
# subscribers spread over EDITIONS regions, keeps at least 0.8x the messages/second of the same
# issue without blocks.
#
#   benches/send_editions.sh                      # N=100000, EDITIONS=6, CONC=8, ROUNDS=1
#   ROUNDS=3 benches/send_editions.sh             # alternate the two sends three times
#   BIN=target/release/letterpress benches/send_editions.sh   # without building first
#
# Needs postfix (smtp-sink) and GNU time: apt-get install postfix time.
set -euo pipefail

N=${N:-100000}
EDITIONS=${EDITIONS:-6}
CONC=${CONC:-8}
ROUNDS=${ROUNDS:-1}
PORT=${PORT:-25251}
ISSUE=commissioner/2016-12-09-stp-plans-published
root=$(cd "$(dirname "$0")/.." && pwd)

for tool in smtp-sink /usr/bin/time bc; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install postfix time bc" >&2; exit 2; }
done

# BIN: an already built release binary (skips the build).
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
fi
bin=${BIN:-"$root/target/release/letterpress"}

work=$(mktemp -d)
sink=""
cleanup() {
  [ -n "$sink" ] && kill "$sink" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

smtp-sink -u nobody "127.0.0.1:$PORT" 1000 &
sink=$!
sleep 0.5

# project <dir> <blocks>: the example project, N subscribers over EDITIONS regions, and the
# issue with <blocks> regional blocks appended (0: as written).
project() {
  local dir=$1 blocks=$2
  mkdir -p "$dir/subscribers"
  cp -r "$root/letterpress.yaml" "$root/content" "$root/templates" "$root/static" "$dir/"
  cp "$root/subscribers/integrated-care.csv" "$dir/subscribers/"
  awk -v n="$N" -v r="$EDITIONS" 'BEGIN { print "email,name,region"; for (i = 0; i < n; i++) printf "reader%07d@example.org,Reader %d,Region %d\n", i, i, i % r }' \
    > "$dir/subscribers/commissioner-weekly.csv"
  for ((b = 0; b < blocks; b++)); do
    printf '\n::: only region="Region %d"\n## In region %d\n\nWhat the plan means for region %d: [read more](https://example.org/region/%d).\n:::\n' \
      "$b" "$b" "$b" "$b" >> "$dir/content/$ISSUE.md"
  done
  cat >> "$dir/letterpress.yaml" <<YAML
sending:
  transport: smtp
  smtp:
    url: "smtp://127.0.0.1:$PORT"
  concurrency: $CONC
YAML
}

# send <dir> <label>: prints the rate and records it in $rate.
send() {
  local dir=$1 label=$2 start end
  rm -rf "$dir/.letterpress"
  start=$(date +%s.%N)
  /usr/bin/time -f "$label: %e s wall, %U s user, %S s system, peak RSS %M KB" "$bin" -C "$dir" send "$ISSUE" --yes 2>&1 | grep -v '^\s*$' | tail -2
  end=$(date +%s.%N)
  rate=$(echo "$N / ($end - $start)" | bc -l)
  printf "%s: %.0f msg/s over the whole command\n" "$label" "$rate"
}

project "$work/plain" 0
project "$work/editions" "$EDITIONS"
"$bin" -C "$work/editions" check >/dev/null 2>&1 || { "$bin" -C "$work/editions" check; exit 1; }
echo "== $N messages, $CONC connections, $EDITIONS regions; $ROUNDS round(s)"
plain_total=0
editions_total=0
for ((round = 1; round <= ROUNDS; round++)); do
  send "$work/plain" "without blocks"
  plain_total=$(echo "$plain_total + $rate" | bc -l)
  send "$work/editions" "$EDITIONS editions"
  editions_total=$(echo "$editions_total + $rate" | bc -l)
done
printf "ratio editions / without blocks: %.2f (target >= 0.80)\n" "$(echo "$editions_total / $plain_total" | bc -l)"
