#!/usr/bin/env bash
# The preview's reload time: from saving an issue to the browser showing the change.
#
# Generates a project of N issues (default 1,000) in one publication, starts the release
# `letterpress preview` on it, opens one issue's page in headless Chromium and, RUNS times
# (default 5, after one warm-up), writes a new paragraph into that issue's Markdown file and
# times until the email iframe shows it. Prints each time and the median.
#
#   benches/preview_reload.sh
#   N=200 RUNS=9 benches/preview_reload.sh
#   BIN=target/release/letterpress benches/preview_reload.sh   # a binary already built
#
# Measured on 2 shared CPUs (load average about 9), N=1000, RUNS=5, back to back: 646 ms median
# before re-rendering only what changed (200 ms debounce, full reload, page then frame), 44 ms
# after (10 ms settle, the edited issue re-read, the email replaced in its frame).
#
# Needs what the browser tests need: Debian's chromium, node, and `npm ci` in tests/preview-e2e.
set -euo pipefail

N=${N:-1000}
RUNS=${RUNS:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
e2e="$root/tests/preview-e2e"

[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "missing chromium: apt-get install chromium" >&2; exit 2; }
[ -d "$e2e/node_modules/playwright-core" ] || (cd "$e2e" && npm ci --no-audit --no-fund)

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
fi
bin=${BIN:-"$root/target/release/letterpress"}

work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/content/weekly" "$work/static/images" "$work/subscribers"
cp "$root/static/images/commissioner-survey-2016.png" "$work/static/images/chart.png"
cat > "$work/letterpress.yaml" <<'YAML'
site:
  title: "Reload bench"
  base-url: "https://bench.example.org"
publications:
  - slug: weekly
    name: "The Weekly"
    from: "The Weekly <weekly@bench.example.org>"
    lists: [readers]
lists:
  - slug: readers
    name: "Readers"
YAML
printf 'email,name\nada@example.com,Ada Lovelace\nbo@example.com,Bo\n' > "$work/subscribers/readers.csv"
awk -v n="$N" -v dir="$work/content/weekly" 'BEGIN {
  for (i = 0; i < n; i++) {
    day = sprintf("%04d-%02d-%02d", 2000 + int(i / 336), 1 + int(i / 28) % 12, 1 + i % 28)
    file = sprintf("%s/%s-issue-%04d.md", dir, day, i)
    printf "---\ntitle: \"Issue %d\"\nsummary: \"What issue %d is about.\"\nstatus: ready\n---\n\n", i, i > file
    for (p = 0; p < 6; p++) printf "Paragraph %d of issue %d, with [a link](https://example.org/%d) and *some* **emphasis**.\n\n", p, i, p > file
    printf "## A section\n\n| Region | Count |\n|---|---:|\n| North | %d |\n| South | %d |\n\n![A chart](/images/chart.png)\n", i, n - i > file
    close(file)
  }
}'
issue=$(ls "$work/content/weekly" | sed -n "$((N / 2 + 1))p")

"$bin" -C "$work" preview --port 0 2> "$work/preview.log" &
server=$!
for _ in $(seq 1 300); do
  url=$(grep -o 'http://[^ ]*' "$work/preview.log" | head -1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/preview.log" >&2; exit 1; }

echo "preview_reload: $N issues, editing weekly/${issue%.md}, $(nproc) CPUs"
node "$e2e/e2e.mjs" reload "${url}issue/weekly/${issue%.md}/" "$work/content/weekly/$issue" "$RUNS"
