#!/usr/bin/env python3
"""Verify DKIM signatures with dkimpy, an implementation independent of letterpress's.

Usage: verify.py RECORD MESSAGE...

RECORD is a file holding the key's DNS TXT record (`v=DKIM1; k=rsa; p=...`); it is served for
every `<selector>._domainkey.<domain>` query instead of asking DNS. Prints one line per message,
`pass` or `fail`, and exits 0 (the caller judges the lines).

Needs dkimpy (`pip install dkimpy`; PyNaCl for ed25519-sha256).
"""
import sys

import dkim


def main():
    record = open(sys.argv[1], "rb").read().strip()

    def dns(name, timeout=5):
        return record

    for path in sys.argv[2:]:
        message = open(path, "rb").read()
        print("pass" if dkim.verify(message, dnsfunc=dns) else "fail")


if __name__ == "__main__":
    main()
