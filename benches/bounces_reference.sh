#!/usr/bin/env bash
# `bounces scan` against an independent classifier: Sisimai (Debian's libsisimai-perl) read over
# the same corpus of real bounces, recipient by recipient.
#
# Target: over a public corpus of real-world bounces from many MTAs and providers (Sisimai's
# set-of-emails), the suppress-now verdict (hard or complaint) agrees with Sisimai's on >= 95 %
# of recipients; no success DSN or auto-reply is ever a suppression; the recipient is found in
# >= 98 % of bounces.
#
#   benches/bounces_reference.sh DIR             # the three figures
#   benches/bounces_reference.sh DIR --list      # and every disagreement
#   BIN=target/debug/letterpress benches/bounces_reference.sh DIR   # skips the release build
#
# What it does: runs `letterpress bounces scan --format json DIR`, then Sisimai over every file
# of DIR (support/sisimai_reference.pl), and compares the two per (file, recipient)
# (support/bounces_reference.py, whose docstring says how Sisimai's reasons and `softbounce`
# are read as hard, complaint or neither). SUSPEND_HARD=1 also reads Sisimai's `suspend` as hard.
#
# Needs perl with Sisimai, and python3: apt-get install libsisimai-perl python3.
set -euo pipefail

dir=${1:?usage: benches/bounces_reference.sh DIR [--list]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)

command -v python3 >/dev/null || { echo "missing python3: apt-get install python3" >&2; exit 2; }
perl -MSisimai -e 1 2>/dev/null || { echo "missing Sisimai: apt-get install libsisimai-perl" >&2; exit 2; }
[ -d "$dir" ] || { echo "not a directory: $dir" >&2; exit 2; }

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  bin="${CARGO_TARGET_DIR:-$root/target}/release/letterpress"
else
  bin=$(cd "$root" && realpath "$BIN")
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The scan exits non-zero when a file cannot be read; the comparison still runs on the rest.
"$bin" bounces scan --format json "$dir" >"$work/scan.jsonl" 2>"$work/scan.log" || true
find "$dir" -maxdepth 1 -type f -print0 | sort -z | xargs -0 perl "$root/benches/support/sisimai_reference.pl" >"$work/reference.jsonl"
echo "sisimai $(perl -MSisimai -e 'print $Sisimai::VERSION'), corpus $dir"
python3 "$root/benches/support/bounces_reference.py" "$work/reference.jsonl" "$work/scan.jsonl" "$@"
