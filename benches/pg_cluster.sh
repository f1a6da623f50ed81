#!/usr/bin/env bash
# Several hosts on one PostgreSQL (issue 14): two `send` processes share one send while two
# `serve` replicas answer a stream of one-click unsubscribes; one sender is killed with
# `kill -9` mid-run and `send --due` finishes the send. Repeated RUNS times, each on a fresh
# database of one throwaway cluster, with Postfix's smtp-sink as the relay.
#
# Each run checks and prints (and the script exits 1 if any run fails them):
#   - recipients missing: rows neither `suppressed`, nor received by the sink, nor `uncertain` (must be 0)
#   - duplicates: copies beyond the first at the sink (must be <= the run's `uncertain` rows)
#   - unsubscribes: suppressions recorded == one-click POSTs answered 2xx, and no 5xx
#   - how the unsubscribed readers' rows ended: skipped as `suppressed`, or sent, and of those how
#     many were sent in a later second than their unsubscribe was recorded (the journal's times
#     are to the second; only a row already in flight at the POST may be sent after it)
# Then LOAD one-click POSTs (default 10,000) across the two replicas, on the last run's database,
# for the latency figure issue 14 asks for (p50, p99, max; no 5xx).
#
#   benches/pg_cluster.sh                                           # N=20000 RUNS=10
#   N=5000 RUNS=2 BIN=/path/to/release/letterpress benches/pg_cluster.sh
#
# N: recipients per send. RUNS: repetitions. UNSUBS: one-click POSTs during each send (1000).
# LOAD: POSTs of the latency phase (10000; readers repeat, in turn, when fewer are left). CLIENTS:
# concurrent keep-alive connections of the POST streams, split over the two replicas (8).
# CONC: SMTP connections per sender (4). BIN=path uses that binary, unbuilt; else a release build.
# The PostgreSQL cluster is started like benches/send.sh's STATE_URL=auto (initdb and pg_ctl as
# `nobody` when run as root, on loopback, removed at exit).
#
# Needs postfix (smtp-sink), postgresql (initdb, pg_ctl, psql) and python3 (the HTTP client:
# tokens are signed with the replicas' key exactly as src/token.rs does, so the URLs are the
# ones in the messages' List-Unsubscribe headers).
set -euo pipefail

N=${N:-20000}
RUNS=${RUNS:-10}
UNSUBS=${UNSUBS:-1000}
LOAD=${LOAD:-10000}
CLIENTS=${CLIENTS:-8}
CONC=${CONC:-4}
PORT=${PORT:-25350}
ISSUE=weekly/2016-12-09-plans
LIST=readers
KEY=0707070707070707070707070707070707070707070707070707070707070707
root=$(cd "$(dirname "$0")/.." && pwd)

for tool in smtp-sink psql python3 setpriv; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install postfix postgresql python3" >&2; exit 2; }
done
if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  bin="$root/target/release/letterpress"
fi

[ "$N" -gt "$UNSUBS" ] || { echo "N must be more than UNSUBS" >&2; exit 2; }
work=$(mktemp -d)
chmod 755 "$work"
mkdir -m 777 "$work/sink"
pgdir=$(mktemp -d)
pgbin=""
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$pgbin" ]; then as_pg "$pgbin/pg_ctl" -D "$pgdir/data" stop -m immediate >/dev/null 2>&1 || true; fi
  rm -rf "$pgdir" "$work"
}
trap cleanup EXIT
as_pg() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; else "$@"; fi
}

pgbin=$(pg_config --bindir 2>/dev/null || true)
[ -x "$pgbin/initdb" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "no initdb: apt-get install postgresql" >&2; exit 2; }
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$pgdir"
pgport=$((PORT + 1))
as_pg "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 >/dev/null
as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pgport -k $pgdir -c max_connections=200 ${PG_OPTS:-}" start >/dev/null
sql() { psql -h 127.0.0.1 -p "$pgport" -U postgres -qAtX -v ON_ERROR_STOP=1 -c "$2" "$1"; }

# The serve fixture (one-click unsubscribe configured) with N generated readers.
project="$work/project"
cp -r "$root/tests/fixtures/serve" "$project"
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "bench%07d@example.org,Reader %d,,Somewhere\n", i, i }' \
  >> "$project/subscribers/readers.csv"
sed -i "s/^  concurrency: .*/  concurrency: $CONC/" "$project/letterpress.yaml"
audience=$(($(wc -l < "$project/subscribers/readers.csv") - 1))

# The one-click client: POSTs to the signed URLs of the given readers, spread over the replicas.
cat > "$work/client.py" <<'PY'
import base64, hashlib, hmac, http.client, sys, threading, time
# POSTs `count` unsubscribes for readers first .. first+span-1, in turn (again from the first
# when count > span: a repeated one-click answers 200 and records nothing new).
key, list_slug, replicas, clients, first, span, count, out = sys.argv[1:9]
key, clients, first, span, count = bytes.fromhex(key), int(clients), int(first), int(span), int(count)
replicas = replicas.split(",")

def token(address):
    ident = hmac.new(key, b"id\0" + address.encode(), hashlib.sha256).digest()[:16]
    signed = b"\x01" + ident + list_slug.encode()
    tag = hmac.new(key, signed, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(signed + tag).rstrip(b"=").decode()

addresses = [f"bench{first + i % span:07d}@example.org" for i in range(count)]
results = [None] * count

def worker(n):
    host, port = replicas[n % len(replicas)].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    for i in range(n, count, clients):
        path = "/unsubscribe?t=" + token(addresses[i])
        body = "List-Unsubscribe=One-Click"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        started = time.perf_counter()
        try:
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
        except (OSError, http.client.HTTPException) as e:
            status = 599
            conn.close()
            print(f"POST to {host}:{port}: {e!r}", file=sys.stderr)
        results[i] = (status, time.perf_counter() - started)

started = time.perf_counter()
threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
wall = time.perf_counter() - started
with open(out, "w") as f:
    for address, (status, _) in zip(addresses, results):
        if 200 <= status < 300:
            f.write(address + "\n")
latencies = sorted(l for _, l in results)
at = lambda p: latencies[min(len(latencies) - 1, max(0, -(-len(latencies) * p // 1000) - 1))] * 1000
ok = sum(1 for s, _ in results if 200 <= s < 300)
five = sum(1 for s, _ in results if s >= 500)
print(f"{count} POSTs over {len(replicas)} replicas, {clients} clients, {count / wall:.0f}/s: "
      f"{ok} 2xx, {five} 5xx, {count - ok - five} other; p50 {at(500):.2f} ms, p99 {at(990):.2f} ms, max {latencies[-1] * 1000:.2f} ms")
PY

# Every process shares the keys, the relay and (per run) the database, as hosts of one newsroom
# would; `"$bin" … &` directly (not through a function), so `$!` is the process to kill.
export LETTERPRESS_KEYS=$KEY LETTERPRESS_SMTP_URL="smtp://127.0.0.1:$PORT"

# `serve` replica on $1; waits until it answers.
start_serve() {
  "$bin" -C "$project" serve --bind "127.0.0.1:$1" >"$work/serve-$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.05
  done
  echo "serve on port $1 did not start:" >&2; cat "$work/serve-$1.log" >&2; exit 1
}

echo "== pg_cluster: $N recipients (+3 fixture readers), 2 senders x $CONC connections, 2 serve replicas, $UNSUBS one-click POSTs during each send, $RUNS runs"
failed=0
for run in $(seq "$RUNS"); do
  db="run$run"
  sql postgres "CREATE DATABASE $db"
  export LETTERPRESS_STATE_URL="postgres://postgres@127.0.0.1:$pgport/$db"
  rm -rf "$project/.letterpress" "$work/sink/dump"
  smtp-sink -u nobody -D "$work/sink/dump" "127.0.0.1:$PORT" 1000 &
  sink=$!
  pids+=("$sink")
  start_serve $((PORT + 10))
  start_serve $((PORT + 11))
  replicas="127.0.0.1:$((PORT + 10)),127.0.0.1:$((PORT + 11))"
  started=$(date +%s.%N)
  "$bin" -C "$project" send "$ISSUE" --yes >/dev/null 2>"$work/a.log" &
  a=$!
  "$bin" -C "$project" send "$ISSUE" --yes >/dev/null 2>"$work/b.log" &
  b=$!
  pids+=("$a" "$b")
  # The unsubscribes start once the journal holds the audience (a token the journal does not
  # know answers 404) and stream while the senders work.
  until [ "$(sql "$db" "SELECT COUNT(*) FROM deliveries WHERE status = 'sent'" 2>/dev/null || echo 0)" -gt 0 ]; do sleep 0.02; done
  first=$(((RANDOM * 32768 + RANDOM) % (N - UNSUBS + 1)))
  # When the last POST is answered, rows still pending show the send ran throughout the stream.
  { python3 "$work/client.py" "$KEY" "$LIST" "$replicas" "$CLIENTS" "$first" "$UNSUBS" "$UNSUBS" "$work/unsubscribed" >"$work/posts"
    sql "$db" "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'" >"$work/pending"; } &
  posts=$!
  # Kill one sender, chosen at random, once a random share (20-60%) of the send is done.
  victim=$a; [ $((RANDOM % 2)) = 0 ] && victim=$b
  at=$((N * (20 + RANDOM % 41) / 100))
  until [ "$(sql "$db" "SELECT COUNT(*) FROM deliveries WHERE status <> 'pending'")" -ge "$at" ] || ! kill -0 "$victim" 2>/dev/null; do
    sleep 0.02
  done
  kill -9 "$victim" 2>/dev/null && killed="killed one sender at $at rows done" || killed="the sender to kill had finished"
  wait "$a" || true
  wait "$b" || true
  wait "$posts"
  rerun=0
  "$bin" -C "$project" send --due >/dev/null 2>"$work/rerun.log" || rerun=$?
  elapsed=$(echo "$(date +%s.%N) - $started" | bc)
  kill "$sink" 2>/dev/null; wait "$sink" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()

  # The sink's dump: one X-Rcpt-Args line per recipient of each accepted message.
  sed -n 's/^X-Rcpt-Args: <\([^>]*\)>.*/\1/p' "$work/sink/dump" | sort > "$work/received"
  sql "$db" "SELECT email, status FROM deliveries WHERE issue = '$ISSUE' ORDER BY email" > "$work/journal"
  rows=$(wc -l < "$work/journal")
  uncertain=$(grep -c '|uncertain$' "$work/journal" || true)
  duplicates=$(uniq -d -c "$work/received" | awk '{ s += $1 - 1 } END { print s + 0 }')
  missing=$(awk -F'|' 'FILENAME == ARGV[1] { got[$1] = 1; next } $2 != "suppressed" && $2 != "uncertain" && !($1 in got)' \
    "$work/received" "$work/journal" | wc -l)
  answered=$(wc -l < "$work/unsubscribed")
  recorded=$(sql "$db" "SELECT COUNT(*) FROM suppressions WHERE source = 'one-click'")
  skipped=$(awk -F'|' 'FILENAME == ARGV[1] { u[$1] = 1; next } ($1 in u) && $2 == "suppressed"' "$work/unsubscribed" "$work/journal" | wc -l)
  # Sent although unsubscribed: only rows already in flight when the POST was recorded may be
  # (the in-flight mark re-checks suppressions). Times are to the second: this counts those
  # sent in a later second than the suppression; a same-second one shows only as sent.
  late=$(sql "$db" "SELECT COUNT(*) FROM deliveries d JOIN suppressions s ON s.address = d.address_key
    WHERE d.issue = '$ISSUE' AND s.source = 'one-click' AND d.status = 'sent'
    AND CAST(d.updated_at AS timestamptz) > CAST(s.created_at AS timestamptz)")
  five=$(sed -n 's/.* \([0-9]*\) 5xx.*/\1/p' "$work/posts")
  verdict=ok
  if [ "$missing" != 0 ] || [ "$duplicates" -gt "$uncertain" ] || [ "$recorded" != "$answered" ] \
    || [ "$five" != 0 ] || [ "$rows" != "$audience" ] || ! [[ "$rerun" =~ ^[03]$ ]]; then
    verdict=FAILED; failed=1
  fi
  printf 'run %d: %s; %d rows, %d received, missing %d, duplicates %d, uncertain %d; unsubscribes: %d answered 2xx, %d recorded, %s 5xx, %d skipped as suppressed, %d sent (%d in a later second than their unsubscribe); send --due exit %d; %.1f s: %s\n' \
    "$run" "$killed" "$rows" "$(wc -l < "$work/received")" "$missing" "$duplicates" "$uncertain" \
    "$answered" "$recorded" "$five" "$skipped" "$((answered - skipped))" "$late" "$rerun" "$elapsed" "$verdict"
  echo "  one-click during the send ($(cat "$work/pending") rows still pending when the last was answered): $(cat "$work/posts")"
  if [ "$verdict" != ok ]; then tail -n 3 "$work/a.log" "$work/b.log" "$work/rerun.log" "$work"/serve-*.log >&2; fi
  [ "$run" = "$RUNS" ] || sql postgres "DROP DATABASE $db"
done

# The latency figure: LOAD one-click POSTs across two replicas on the last run's database, for
# readers who have not unsubscribed yet (the larger run of them, in turn).
start_serve $((PORT + 10))
start_serve $((PORT + 11))
replicas="127.0.0.1:$((PORT + 10)),127.0.0.1:$((PORT + 11))"
from=$((first + UNSUBS)); span=$((N - from))
[ "$first" -gt "$span" ] && { from=0; span=$first; }
before=$(sql "$db" "SELECT COUNT(*) FROM suppressions WHERE source = 'one-click'")
python3 "$work/client.py" "$KEY" "$LIST" "$replicas" "$CLIENTS" "$from" "$span" "$LOAD" "$work/unsubscribed" > "$work/posts"
after=$(sql "$db" "SELECT COUNT(*) FROM suppressions WHERE source = 'one-click'")
distinct=$(sort -u "$work/unsubscribed" | wc -l)
echo "== one-click latency: $(cat "$work/posts"); $((after - before)) new suppressions for $distinct distinct readers"
five=$(sed -n 's/.* \([0-9]*\) 5xx.*/\1/p' "$work/posts")
if [ "$five" != 0 ] || [ $((after - before)) != "$distinct" ]; then failed=1; fi
[ "$failed" = 0 ] && echo "== every run: 0 missing, duplicates <= uncertain, every 2xx unsubscribe recorded, no 5xx" \
  || { echo "== FAILED (see above)"; exit 1; }
