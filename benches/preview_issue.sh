#!/usr/bin/env bash
# The preview's issue page: request latency of `/issue/<publication>/<slug>/` (checked once per
# snapshot, then composed per request) and of the page "as" a subscriber, on the send fixture
# with the example issue's body. Starts `letterpress preview --port 0` for each binary, warms
# the page up once, then requests it RUNS times (default 50) with curl; prints the median.
#
#   BEFORE=/tmp/letterpress-before benches/preview_issue.sh
set -euo pipefail

RUNS=${RUNS:-50}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-"$root/target/release/letterpress"}
work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cp -r "$root/tests/fixtures/send" "$work/project"
sample="$root/content/commissioner/2016-12-09-stp-plans-published.md"
issue="$work/project/content/weekly/2016-12-09-plans.md"
{ awk 'n < 2 { print } /^---$/ { n++ }' "$issue"; awk 'n >= 2 { print } /^---$/ { n++ }' "$sample" \
    | sed -e 's#@/commissioner/[^)]*#https://news.example.org/#g' -e 's#(/images/[^)]*)#(https://news.example.org/chart.png)#g'; } > "$work/issue.md"
mv "$work/issue.md" "$issue"
as=$(sed -n 2p "$work/project/subscribers/readers.csv" | cut -d, -f1)

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
measure() { # label binary
  local label=$1 binary=$2 url=""
  "$binary" -C "$work/project" preview --port 0 2> "$work/preview.log" &
  server=$!
  for _ in $(seq 1 300); do
    url=$(grep -o 'http://[^ ]*' "$work/preview.log" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$work/preview.log" >&2; exit 1; }
  local page="${url%/}/issue/weekly/2016-12-09-plans/"
  for target in "$page" "$page?as=$as"; do
    curl -fsS -o /dev/null "$target"
    local times=()
    for _ in $(seq 1 "$RUNS"); do
      times+=("$(curl -fsS -o /dev/null -w '%{time_total}\n' "$target")")
    done
    printf '%-7s %-40s median %6.2f ms\n' "$label" "${target#"$url"}" \
      "$(printf '%s\n' "${times[@]}" | median | awk '{ print $1 * 1000 }')"
  done
  kill "$server"
  wait "$server" 2> /dev/null || true
  server=""
}

echo "preview issue page: $RUNS requests each, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "${BEFORE:-}" ] && measure before "$BEFORE"
measure after "$bin"
