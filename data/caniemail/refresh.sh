#!/usr/bin/env bash
# Refresh caniemail.json from the `caniemail` npm package (MIT), keeping only what the
# `lint/email-support` check reads. Usage: data/caniemail/refresh.sh [version]
set -euo pipefail
cd "$(dirname "$0")"
version="${1:-2.0.2}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "caniemail@$version" >/dev/null && tar xzf "caniemail-$version.tgz")
cp "$work/package/LICENSE" LICENSE
node slim.mjs "$work/package/data/caniemail.json" "$version" > caniemail.json.new
mv caniemail.json.new caniemail.json
echo "caniemail $version: $(grep -c '"slug"' caniemail.json) features"
