"""Score `letterpress bounces scan --format json` against Mail::DeliveryStatus::BounceParser's corpus.

Usage: python3 bounceparser_eval.py SCAN.json

SCAN.json is the scan of the distribution's t/corpus. The expectations below are transcribed
from its t/*.t files: the exact addresses where a test names them (`addresses => [...]`,
`reports => 0` for none), and which messages are not bounces (auto-replies, challenge-responses,
two transient warnings). A message is a bounce when a row is hard, soft or complaint.
BounceParser counts a transient warning as no bounce; we read one as soft (`delayed`), so
warning-8 stays a miss by design.
"""
import re
import sys

from scan_rows import failed_addresses, rows_by_file

UNKNOWN_USER = """att-via-sendmail.unknown comcast-via-sendmail.unknown cox-via-sendmail.unknown
generic-postfix-via-sendmail.unknown gmail-via-sendmail.unknown msn-via-sendmail.unknown
yahoo-via-sendmail.unknown hotmail-via-sendmail.unknown domino.unknown aol.unknown qmail.unknown
exchange.unknown novell-with-rhs yahoo-user-unknown me-user-unknown cam-unknown rcpt-dne
mailbox-unknown deactivated-mailbox user-unknown-dne badrcptto nomailbox doesnotexist doesnotexist2
user-unknown-not-active user-unknown-not user-unknown-polish user-unknown-bad long-smtp""".split()
ADDRESSES = {name: ['recipient@example.net'] for name in UNKNOWN_USER}
ADDRESSES.update({
    'postfix': ['bounce@dest.example.com'],
    'postfix-orig': ['original@dest.example.com'],
    'aol.attachment': ['exampleuser@aol.com'],
    'aol-senderblock': ['mykewlaolacct@aol.com'],
    'iis-multiple-bounce': ['bounced1@example.net', 'bounced2@example.net', 'bounced3@example.net',
                            'bounced4@example.net'],
    'misidentified-recipient': ['john.b@b.c'],
    'postfix-malformed': ['exampleuser@yyahoo.com'],
    'sendmail-host-unknown': ['recipient@#example.net'],
    'postfix-host-unknown': ['bounce@dest.example.com'],
    'no-such-domain': ['recipient@example.net'],
    'spam-bogus-email-in-report': [],
    'spam-lots-of-bogus-addresses': [],
    'spam-with-image': [],
})
NOT_BOUNCES = {'aol-vacation', 'polish-autoreply', 'bluebottle', 'boxbe-cr', 'boxbe-cr2', 'whitelist',
               'autoreply', 'warning-6', 'warning-8'}


def main(scan):
    rows = rows_by_file(scan, lambda file: re.sub(r'\.msg(#.*)?$', '', file.rsplit('/', 1)[-1]))
    bounce_ok, address_ok, misses = 0, 0, []
    for name in sorted(rows):
        found = rows[name]
        bounce = any(r['verdict'] in ('hard', 'soft', 'complaint') for r in found)
        if bounce == (name not in NOT_BOUNCES):
            bounce_ok += 1
        else:
            misses.append(f'  {name}: is a bounce? want {name not in NOT_BOUNCES}, got {bounce}')
        if name in ADDRESSES:
            got = failed_addresses(found)
            if got == set(ADDRESSES[name]):
                address_ok += 1
            else:
                misses.append(f'  {name}: want {ADDRESSES[name]}, got {sorted(got)}')
    scored = sum(1 for name in ADDRESSES if name in rows)
    print(f'BounceParser: exact address sets {address_ok}/{scored}; is-a-bounce agrees {bounce_ok}/{len(rows)}')
    absent = sorted(name for name in ADDRESSES if name not in rows)
    if absent:
        print(f'  (named by its tests but not in the corpus: {", ".join(absent)})')
    for miss in misses:
        print(miss)


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
