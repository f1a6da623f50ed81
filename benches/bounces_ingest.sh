#!/usr/bin/env bash
# `bounces ingest` throughput and memory over a Maildir of DSNs answering a real send.
#
# Target (issue 12): 100,000 DSNs from a Maildir at >= 5,000 messages/s on one core, peak RSS
# <= 64 MB (flat: one message in memory at a time, one transaction per message).
#
#   benches/bounces_ingest.sh            # N=100000
#   N=20000 benches/bounces_ingest.sh
#
# What it does: sends the example issue to N generated readers through the outbox transport
# (a real journal: one row per reader, each with its return path `bounces+<token>@…`), then
# writes one RFC 3464 DSN per reader into `Maildir/new/`, addressed to that reader's return
# path (the token computed from the journal's rows and the signing key, as letterpress does),
# and runs `bounces ingest Maildir` pinned to one core under GNU time. A second run over the
# same Maildir shows the cost of a rerun (everything already recorded).
#
# Needs python3 and GNU time: apt-get install python3 time.
set -euo pipefail

N=${N:-100000}
ISSUE=commissioner/2016-12-09-stp-plans-published
KEY=$(printf '5a%.0s' $(seq 32))
root=$(cd "$(dirname "$0")/.." && pwd)

for tool in python3 /usr/bin/time taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install python3 time util-linux" >&2; exit 2; }
done

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/release/letterpress"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp -r "$root/letterpress.yaml" "$root/content" "$root/templates" "$root/static" "$work/"
mkdir -p "$work/subscribers"
cp "$root/subscribers/integrated-care.csv" "$work/subscribers/"
awk -v n="$N" 'BEGIN { print "email,name,region"; for (i = 0; i < n; i++) printf "reader%07d@example.org,Reader %d,London\n", i, i }' \
  > "$work/subscribers/commissioner-weekly.csv"
cat >> "$work/letterpress.yaml" <<YAML
sending:
  transport: outbox
bounces:
  address: bounces@news.example.org
YAML
export LETTERPRESS_UNSUBSCRIBE_KEYS=$KEY

echo "== sending $ISSUE to $N readers through the outbox (the journal the DSNs answer)"
"$bin" -C "$work" send "$ISSUE" --yes 2>&1 | tail -1
rm -rf "$work/outbox"

echo "== writing $N DSNs into $work/Maildir/new"
python3 - "$work" "$ISSUE" "$KEY" <<'PY'
import base64, hashlib, hmac, os, sqlite3, struct, sys
work, issue, key = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
new = os.path.join(work, "Maildir", "new")
for sub in ("new", "cur", "tmp"):
    os.makedirs(os.path.join(work, "Maildir", sub), exist_ok=True)
tag = hashlib.sha256(issue.encode()).digest()[:5]
def token(seq):
    signed = bytes([1]) + tag + struct.pack(">I", seq)
    mac = hmac.new(key, b"return-path\0" + signed, hashlib.sha256).digest()[:10]
    return base64.b32encode(signed + mac).decode().lower()
db = sqlite3.connect(os.path.join(work, ".letterpress", "state.db"))
rows = db.execute("SELECT seq, email, message_id FROM deliveries WHERE issue = ? AND status = 'sent' ORDER BY seq", (issue,))
for seq, email, message_id in rows:
    rp = f"bounces+{token(seq)}@news.example.org"
    hard = seq % 10 != 0
    status, action = ("5.1.1", "failed") if hard else ("4.2.2", "delayed")
    diag = "550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table" % email if hard \
        else "452 4.2.2 <%s>: Mailbox full" % email
    text = (
        f"Return-Path: <>\r\nDelivered-To: {rp}\r\nReceived: from mx.example.org by news.example.org; Sat, 21 Nov 2026 10:00:00 +0000\r\n"
        f"Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nFrom: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        f"To: {rp}\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn{seq}@mx.example.org>\r\n"
        f"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/report; report-type=delivery-status; boundary=\"bnd{seq}\"\r\n\r\n"
        f"This is a MIME-encapsulated message.\r\n\r\n--bnd{seq}\r\nContent-Description: Notification\r\n"
        f"Content-Type: text/plain; charset=us-ascii\r\n\r\nThis is the mail system at host mx.example.org.\r\n\r\n"
        f"I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n\r\n"
        f"<{email}>: host mx.example.org said: {diag}\r\n\r\n"
        f"--bnd{seq}\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.org\r\nX-Postfix-Queue-ID: 4F{seq:08X}\r\nArrival-Date: Sat, 21 Nov 2026 09:59:58 +0000\r\n\r\n"
        f"Final-Recipient: rfc822; {email}\r\nOriginal-Recipient: rfc822;{email}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Remote-MTA: dns; mx.example.org\r\nDiagnostic-Code: smtp; {diag}\r\n\r\n"
        f"--bnd{seq}\r\nContent-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: The Commissioner <commissioner@news.example.org>\r\nTo: {email}\r\nSubject: STP plans published\r\n"
        f"Message-ID: {message_id}\r\nList-Id: \"The Commissioner\" <commissioner.news.example.org>\r\n\r\n--bnd{seq}--\r\n"
    )
    with open(os.path.join(new, f"1763719200.{seq}.mx.example.org"), "w") as f:
        f.write(text)
PY
echo "Maildir: $(ls "$work/Maildir/new" | wc -l) messages, $(du -sh "$work/Maildir" | cut -f1)"
sync

for run in first rerun; do
  echo "== bounces ingest ($run), one core"
  start=$(date +%s.%N)
  taskset -c 0 /usr/bin/time -f "$run: %e s wall, %U s user, %S s system, peak RSS %M KB" \
    "$bin" -C "$work" bounces ingest "$work/Maildir" 2>&1 | grep -v ': skipped: ' | tail -2
  end=$(date +%s.%N)
  printf "%s: %.0f messages/s (target >= 5000)\n" "$run" "$(echo "$N / ($end - $start)" | bc -l)"
done
"$bin" -C "$work" status "$ISSUE" | head -3
