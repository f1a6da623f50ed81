#!/usr/bin/env bash
# DKIM-signed send throughput against Postfix's smtp-sink on loopback, beside the machine's own
# RSA-2048 signing rate, an unsigned send and smtp-source, all in the same run.
#
# Targets (issue 13 §4): an rsa-sha256 (2048-bit) send >= 0.8x `openssl speed -multi $(nproc)
# rsa2048` sign/s (and >= 0.8x smtp-source where that is lower); an ed25519-sha256 send >= 0.8x
# the unsigned send; with N=1000000 the signed send's peak RSS <= 64 MB.
#
#   benches/send_dkim.sh                    # N=100000, CONC=8
#   N=1000000 CONC=8 benches/send_dkim.sh   # the peak-RSS run
#   BIN=path benches/send_dkim.sh           # that binary, unbuilt
#   ONLY=rsa benches/send_dkim.sh           # only the rsa-sha256 send (no unsigned, ed25519, smtp-source)
#
# Needs postfix (smtp-sink, smtp-source), openssl and GNU time: apt-get install postfix time openssl.
set -euo pipefail

N=${N:-100000}
CONC=${CONC:-8}
PORT=${PORT:-25251}
ISSUE=commissioner/2016-12-09-stp-plans-published
root=$(cd "$(dirname "$0")/.." && pwd)

for tool in smtp-sink smtp-source openssl /usr/bin/time bc; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install postfix time openssl bc" >&2; exit 2; }
done

if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  bin="$root/target/release/letterpress"
fi
ONLY=${ONLY:-}

work=$(mktemp -d)
sink=""
cleanup() {
  [ -n "$sink" ] && kill "$sink" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cores=$(nproc)
echo "== openssl speed -multi $cores rsa2048"
ossl=$(openssl speed -multi "$cores" -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $(NF-1) }' | tail -1)
printf "openssl: %.0f RSA-2048 signatures/s on %d cores\n" "$ossl" "$cores"

smtp-sink -u nobody "127.0.0.1:$PORT" 1000 &
sink=$!
sleep 0.5

# A fresh project (its own journal) for each run; $1 names it, $2 is an optional dkim: block.
project() {
  local dir="$work/$1"
  mkdir -p "$dir/subscribers" "$dir/secrets"
  cp -r "$root/letterpress.yaml" "$root/content" "$root/templates" "$root/static" "$dir/"
  cp "$root/subscribers/integrated-care.csv" "$dir/subscribers/"
  cp "$work/list.csv" "$dir/subscribers/commissioner-weekly.csv"
  cat >> "$dir/letterpress.yaml" <<YAML
sending:
  transport: smtp
  smtp:
    url: "smtp://127.0.0.1:$PORT"
  concurrency: $CONC
$2
YAML
  echo "$dir"
}

awk -v n="$N" 'BEGIN { print "email,name,region"; for (i = 0; i < n; i++) printf "reader%07d@example.org,Reader %d,London\n", i, i }' \
  > "$work/list.csv"
openssl genrsa -out "$work/rsa.pem" 2048 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$work/ed25519.pem" 2>/dev/null
chmod 600 "$work/rsa.pem" "$work/ed25519.pem"

# Send with the project $1 and print its msg/s (the whole command: audience into the journal
# included); the time line goes to stderr.
run() {
  local dir=$1 label=$2 start end
  start=$(date +%s.%N)
  /usr/bin/time -f "$label: %e s wall, %U s user, %S s system, peak RSS %M KB" "$bin" -C "$dir" send "$ISSUE" --yes 2>&1 \
    | grep -v '^\s*$' | tail -2 >&2
  end=$(date +%s.%N)
  echo "$N / ($end - $start)" | bc -l
}

dkim() {
  printf 'dkim:\n  domain: news.example.org\n  selector: lp\n  key-file: secrets/%s.pem\n  algorithm: %s\n' "$1" "$2"
}

echo "== letterpress: $N messages, $CONC connections"
if [ "$ONLY" = rsa ]; then
  rsa_dir=$(project rsa "$(dkim rsa rsa-sha256)")
  cp "$work/rsa.pem" "$rsa_dir/secrets/rsa.pem"
  rsa=$(run "$rsa_dir" rsa-sha256)
  printf "rsa-sha256 2048: %.0f msg/s\n" "$rsa"
  printf "rsa / openssl speed:  %.2f (target >= 0.80)\n" "$(echo "$rsa / $ossl" | bc -l)"
  exit 0
fi
plain=$(project plain "")
unsigned=$(run "$plain" unsigned)
printf "unsigned: %.0f msg/s\n" "$unsigned"

rsa_dir=$(project rsa "$(dkim rsa rsa-sha256)")
cp "$work/rsa.pem" "$rsa_dir/secrets/rsa.pem"
rsa=$(run "$rsa_dir" rsa-sha256)
printf "rsa-sha256 2048: %.0f msg/s\n" "$rsa"

ed_dir=$(project ed25519 "$(dkim ed25519 ed25519-sha256)")
cp "$work/ed25519.pem" "$ed_dir/secrets/ed25519.pem"
ed=$(run "$ed_dir" ed25519-sha256)
printf "ed25519-sha256: %.0f msg/s\n" "$ed"

size=$("$bin" -C "$plain" render "$ISSUE" --format html | wc -c)
bytes=$(( size + size / 2 ))
echo "== smtp-source: $N messages of $bytes bytes, $CONC sessions"
start=$(date +%s.%N)
smtp-source -d -s "$CONC" -m "$N" -l "$bytes" "127.0.0.1:$PORT"
end=$(date +%s.%N)
src=$(echo "$N / ($end - $start)" | bc -l)
printf "smtp-source: %.0f msg/s\n" "$src"

echo "== ratios"
printf "rsa / openssl speed:  %.2f (target >= 0.80)\n" "$(echo "$rsa / $ossl" | bc -l)"
printf "rsa / smtp-source:    %.2f (target >= 0.80 where smtp-source < openssl)\n" "$(echo "$rsa / $src" | bc -l)"
printf "ed25519 / unsigned:   %.2f (target >= 0.80)\n" "$(echo "$ed / $unsigned" | bc -l)"
printf "unsigned / smtp-source: %.2f (benches/send.sh target >= 0.90)\n" "$(echo "$unsigned / $src" | bc -l)"
