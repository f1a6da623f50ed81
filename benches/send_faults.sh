#!/usr/bin/env bash
# Sending to relays that say "later", on loopback (issue 13, section 1):
#
#  1. a relay answering 4xx to every RCPT (Postfix's smtp-sink -r RCPT): how long the run of
#     N_DEAD recipients takes before the dead-relay rule stops it (it used to run for minutes);
#  2. a relay answering 454 "Throttling failure" to a random PCT % of messages, against the same
#     server healthy, in the same run: throughput ratio (target >= 0.50 at 5 %).
#
#   benches/send_faults.sh                       # N_DEAD=250, N=3000, PCT=5, CONC=8
#
# Needs postfix (smtp-sink) and python3 (the throttling relay is a small asyncio server below,
# smtp-sink has no random-reply mode).
set -euo pipefail

N_DEAD=${N_DEAD:-250}
N=${N:-3000}
PCT=${PCT:-5}
CONC=${CONC:-8}
PORT=${PORT:-25260}
ISSUE=commissioner/2016-12-09-stp-plans-published
root=$(cd "$(dirname "$0")/.." && pwd)

command -v smtp-sink >/dev/null || { echo "missing smtp-sink: apt-get install postfix" >&2; exit 2; }
# BIN=target/debug/letterpress skips the release build (the all-4xx run's duration is the
# pace's, not the CPU's).
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  bin="$root/target/release/letterpress"
else
  bin=$(cd "$root" && realpath "$BIN")
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/relay.py" <<'PY'
# A minimal SMTP relay: accepts everything, except a random PCT % of messages answered
# "454 4.7.0 Throttling failure" at the end of DATA (as SES does above its sending rate).
import asyncio, random, sys
port, pct = int(sys.argv[1]), float(sys.argv[2])
async def session(reader, writer):
    writer.write(b"220 relay.py ESMTP\r\n")
    in_data = False
    while True:
        line = await reader.readline()
        if not line:
            break
        if in_data:
            if line == b".\r\n":
                in_data = False
                if random.random() * 100 < pct:
                    writer.write(b"454 4.7.0 Throttling failure: Maximum sending rate exceeded\r\n")
                else:
                    writer.write(b"250 2.0.0 Ok: queued\r\n")
            continue
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            writer.write(b"250-relay.py\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
        elif verb == b"DATA":
            in_data = True
            writer.write(b"354 go ahead\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            break
        else:
            writer.write(b"250 2.0.0 Ok\r\n")
        await writer.drain()
    writer.close()
async def main():
    server = await asyncio.start_server(session, "127.0.0.1", port, backlog=128)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY

project() { # project DIR N PORT
  local dir=$1 n=$2 port=$3
  mkdir -p "$dir/subscribers"
  cp -r "$root/letterpress.yaml" "$root/content" "$root/templates" "$root/static" "$dir/"
  cp "$root/subscribers/integrated-care.csv" "$dir/subscribers/"
  awk -v n="$n" 'BEGIN { print "email,name,region"; for (i = 0; i < n; i++) printf "reader%07d@example.org,Reader %d,London\n", i, i }' \
    > "$dir/subscribers/commissioner-weekly.csv"
  cat >> "$dir/letterpress.yaml" <<YAML
sending:
  transport: smtp
  smtp:
    url: "smtp://127.0.0.1:$port"
  concurrency: $CONC
YAML
}

rate_of() { # the msg/s of the summary line
  sed -n 's/.* (\([0-9]*\) msg\/s)$/\1/p' | tail -1
}

echo "== 1. every RCPT refused with 4xx (smtp-sink -r RCPT), $N_DEAD recipients"
smtp-sink -u nobody -r RCPT "127.0.0.1:$PORT" 100 & pids+=($!)
sleep 0.5
project "$work/dead" "$N_DEAD" "$PORT"
start=$(date +%s.%N)
set +e
"$bin" -C "$work/dead" send "$ISSUE" --yes > "$work/dead.out" 2>&1
code=$?
set -e
end=$(date +%s.%N)
grep -E "deferred|not accepting" "$work/dead.out" | tail -2 | cut -c1-240
printf "all-4xx run: exit %d after %.1f s\n" "$code" "$(echo "$end - $start" | bc -l)"

echo "== 2. the same relay healthy, then answering 454 to $PCT % of messages at random, $N recipients each"
python3 "$work/relay.py" $((PORT + 1)) 0 & pids+=($!)
python3 "$work/relay.py" $((PORT + 2)) "$PCT" & pids+=($!)
sleep 0.5
project "$work/healthy" "$N" $((PORT + 1))
project "$work/throttled" "$N" $((PORT + 2))
# retries within the run so a throttled message gets its second chance in the same run
for dir in healthy throttled; do
  printf '  retries: 5\n  retry-delay: 0.5\n' >> "$work/$dir/letterpress.yaml"
done
"$bin" -C "$work/healthy" send "$ISSUE" --yes > "$work/healthy.out" 2>&1 || true
"$bin" -C "$work/throttled" send "$ISSUE" --yes > "$work/throttled.out" 2>&1 || true
healthy=$(rate_of < "$work/healthy.out")
throttled=$(rate_of < "$work/throttled.out")
tail -1 "$work/healthy.out" | cut -c1-200
tail -1 "$work/throttled.out" | cut -c1-200
echo "healthy: $healthy msg/s; $PCT % slow-downs: $throttled msg/s"
printf "ratio: %.2f (target >= 0.50)\n" "$(echo "$throttled / $healthy" | bc -l)"
