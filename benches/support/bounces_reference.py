#!/usr/bin/env python3
"""Compare `letterpress bounces scan --format json` with Sisimai's verdicts, per (file, recipient).

    bounces_reference.py REFERENCE.jsonl SCAN.jsonl [--list]

REFERENCE.jsonl is what support/sisimai_reference.pl prints; SCAN.jsonl what the scan prints.
Sisimai's verdict is read as letterpress's "suppress now" like this:

  hard       softbounce 0: userunknown, hostunknown, hasmoved, and notaccept with a 5xx
             (Sisimai::SMTP::Error::soft_or_hard); SUSPEND_HARD=1 also counts suspend
  complaint  reason feedback, except feedback-type auth-failure and not-spam (a DMARC or
             authentication report, or a "this is not spam" report, is no reader's complaint)
  never      reason delivered or vacation: a success DSN or an auto-reply
  keep       everything else (soft reasons, onhold, undefined)

Printed: the three figures the issue names (suppress-now agreement over recipients, suppressions
of success DSNs and auto-replies, recipients found), then with --list every disagreement.
"""
import collections
import json
import os
import sys

PLACEHOLDER = "libsisimai.org.invalid"
SUPPRESS = ("hard", "complaint")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


def name(path):
    # An mbox file's messages are reported as FILE#1, FILE#2, ...: one file, one reference.
    return os.path.basename(path).split("#")[0]


def reference_class(r):
    reason = r.get("reason")
    if reason in ("delivered", "vacation"):
        return "never"
    if reason == "feedback":
        return "keep" if r.get("feedbacktype") in ("auth-failure", "not-spam") else "complaint"
    if r.get("softbounce") == 0:
        return "hard"
    if reason == "suspend" and os.environ.get("SUSPEND_HARD") == "1":
        return "hard"
    return "keep"


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    ref, ours = load(argv[1]), load(argv[2])
    listing = "--list" in argv
    by_file = collections.defaultdict(list)
    for o in ours:
        by_file[name(o["file"])].append(o)

    total = agree = found = bounces = 0
    never_total = never_suppressed = 0
    disagree, missing, never_bad, empty_bad = [], [], [], []
    ref_files = set()
    for r in ref:
        f = name(r["file"])
        ref_files.add(f)
        rows = by_file.get(f, [])
        if r.get("reason") is None:
            # Sisimai found no bounce here; a suppression of ours is worth a look.
            bad = [o for o in rows if o["verdict"] in SUPPRESS]
            if bad:
                empty_bad.append((f, [(o.get("recipient"), o["verdict"], o["reason"]) for o in bad]))
            continue
        rcpt = (r.get("recipient") or "").lower()
        real = bool(rcpt) and not rcpt.endswith(PLACEHOLDER)
        mine = [o for o in rows if (o.get("recipient") or "").lower() == rcpt] if real else []
        cls = reference_class(r)
        if real and cls != "never":
            bounces += 1
            if mine:
                found += 1
            else:
                missing.append((f, rcpt, [o.get("recipient") for o in rows]))
        # The verdict: the row for this recipient, else (address not found) the file's rows
        # when they all agree on suppress-or-not.
        pick = mine or rows
        suppress = bool(pick) and all(o["verdict"] in SUPPRESS for o in pick)
        verdicts = sorted({(o["verdict"], o["reason"]) for o in pick})
        if cls == "never":
            never_total += 1
            if any(o["verdict"] in SUPPRESS for o in pick):
                never_suppressed += 1
                never_bad.append((f, rcpt, r["reason"], verdicts))
            continue
        total += 1
        want = cls in SUPPRESS
        if suppress == want:
            agree += 1
        else:
            disagree.append((f, rcpt, r["reason"], r.get("status"), r.get("reply"), cls, verdicts))

    pct = lambda n, d: f"{100.0 * n / d:.1f} %" if d else "n/a"
    print(f"messages: {len(ref_files)}; reference records: {len(ref)}")
    print(f"suppress-now agreement: {agree}/{total} = {pct(agree, total)}  (target >= 95 %)")
    print(f"success DSNs and auto-replies suppressed: {never_suppressed}/{never_total}  (target 0)")
    print(f"recipient found: {found}/{bounces} = {pct(found, bounces)}  (target >= 98 %)")
    if empty_bad:
        print(f"suppressed where Sisimai found no bounce: {len(empty_bad)} messages")
    if listing:
        for d in disagree:
            print("DISAGREE", *d)
        for n in never_bad:
            print("NEVER", *n)
        for e in empty_bad:
            print("NO-BOUNCE", *e)
        for m in missing:
            print("MISSING", *m)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
