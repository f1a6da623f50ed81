#!/usr/bin/env bash
# Failed-address accuracy of `bounces scan` over other projects' bounce corpora.
#
# Target: over the test data of Mailman's bounce detector (flufl.bounce 6.0.0), the exact set of
# failed addresses of >= 95 % of its DETECTORS entries, and no delayed-delivery warning (an entry
# marked temporary) ever read as `hard`. Optionally the same scan over the corpus of Perl's
# Mail::DeliveryStatus::BounceParser (t/corpus) as a check against overfitting: exact address
# sets where its tests name them, and whether each message is a bounce.
#
#   benches/bounces_corpus.sh                               # downloads the sdist with pip
#   BIN=target/debug/letterpress benches/bounces_corpus.sh  # a binary already built
#   FLUFL=/path/to/flufl.bounce-6.0.0 benches/bounces_corpus.sh /path/to/BounceParser/t/corpus
#
# What it does: `pip download --no-deps --no-binary :all: flufl.bounce==6.0.0` into a temporary
# directory and unpacks it (or takes FLUFL, an unpacked sdist), builds letterpress (debug, or
# takes BIN), runs `bounces scan --format json` over its tests/data, and scores the rows with
# benches/support/flufl_eval.py against the expectations in its tests/test_detectors.py; with a
# directory argument, also scans it and scores it with benches/support/bounceparser_eval.py.
# Prints the figures and each miss.
#
# Measured 2026-12-07 (branch fix-bounce-addr): flufl.bounce 97/116 (83.6 %) before, 112/116
# (96.6 %) after, 0 temporary read as hard both times; BounceParser (1.543, t/corpus) exact
# address sets 37/41 before, 40/41 after, is-a-bounce agreement 119/126 both times.
#
# Needs python3 and, without FLUFL, pip.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
support="$root/benches/support"
command -v python3 >/dev/null || { echo "missing python3: apt-get install python3" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

flufl=${FLUFL:-}
if [ -z "$flufl" ]; then
  pip=$(command -v pip3 || command -v pip || true)
  [ -n "$pip" ] || { echo "missing pip (or set FLUFL to an unpacked flufl.bounce sdist)" >&2; exit 2; }
  echo "== pip download flufl.bounce==6.0.0 (sdist)"
  "$pip" download --quiet --no-deps --no-binary :all: --dest "$work" 'flufl.bounce==6.0.0'
  tar -xzf "$work"/flufl*bounce-6.0.0.tar.gz -C "$work"
  flufl=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'flufl*bounce-6.0.0' | head -1)
fi
[ -d "$flufl/tests/data" ] || { echo "no tests/data in $flufl" >&2; exit 2; }

bin=${BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet --manifest-path "$root/Cargo.toml"
  bin="${CARGO_TARGET_DIR:-$root/target}/debug/letterpress"
fi

echo "== bounces scan $flufl/tests/data"
"$bin" bounces scan --format json "$flufl/tests/data" >"$work/flufl.json"
python3 "$support/flufl_eval.py" "$flufl" "$work/flufl.json"

if [ $# -gt 0 ]; then
  echo "== bounces scan $1"
  "$bin" bounces scan --format json "$1" >"$work/bounceparser.json"
  python3 "$support/bounceparser_eval.py" "$work/bounceparser.json"
fi
