#!/usr/bin/env bash
# `send` start-up: from starting `letterpress send --dry-run` of one issue to a small list until
# every message is composed (load, check, the message template, three messages), and the same
# for an outbox send (until the three messages are written). Median of RUNS runs (default 20)
# of each binary: `BIN` (default target/release/letterpress) and `BEFORE` when set, back to back.
#
#   BEFORE=/tmp/letterpress-before benches/send_start.sh
set -euo pipefail

RUNS=${RUNS:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-"$root/target/release/letterpress"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp -r "$root/tests/fixtures/send" "$work/project"
sed -i 's/transport: smtp/transport: outbox/' "$work/project/letterpress.yaml"
# The example issue's body (tables, footnotes, a long text) in place of the fixture's short one.
sample="$root/content/commissioner/2016-12-09-stp-plans-published.md"
issue="$work/project/content/weekly/2016-12-09-plans.md"
{ awk 'n < 2 { print } /^---$/ { n++ }' "$issue"; awk 'n >= 2 { print } /^---$/ { n++ }' "$sample" \
    | sed -e 's#@/commissioner/[^)]*#https://news.example.org/#g' -e 's#(/images/[^)]*)#(https://news.example.org/chart.png)#g'; } > "$work/issue.md"
mv "$work/issue.md" "$issue"

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
time_ms() { # command...
  local start end
  start=$(date +%s%N)
  "$@" > /dev/null 2>&1 || { "$@"; exit 1; }
  end=$(date +%s%N)
  echo $(((end - start) / 1000))
}
measure() { # label binary
  local label=$1 binary=$2 dry=() out=()
  for _ in $(seq 1 "$RUNS"); do
    dry+=("$(time_ms "$binary" -C "$work/project" send weekly/2016-12-09-plans --dry-run)")
    rm -rf "$work/project/outbox" "$work/project/.letterpress"
    out+=("$(time_ms "$binary" -C "$work/project" send weekly/2016-12-09-plans --yes)")
  done
  printf '%-7s send --dry-run: median %6.1f ms   outbox send (3 messages): median %6.1f ms\n' "$label" \
    "$(printf '%s\n' "${dry[@]}" | median | awk '{ print $1 / 1000 }')" \
    "$(printf '%s\n' "${out[@]}" | median | awk '{ print $1 / 1000 }')"
}

echo "send start-up: $RUNS runs each, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${BEFORE:-}" ] && measure before "$BEFORE"
measure after "$bin"
[ -n "${BEFORE:-}" ] && measure before "$BEFORE"
measure after "$bin"
