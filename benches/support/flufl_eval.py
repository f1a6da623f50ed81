"""Score `letterpress bounces scan --format json` against flufl.bounce's own expectations.

Usage: python3 flufl_eval.py SDIST_DIR SCAN.json

SDIST_DIR is an unpacked flufl.bounce sdist (its tests/test_detectors.py names, per detector
and file, the failed addresses and whether they are temporary). SCAN.json is the scan of its
tests/data. An entry counts when the set of addresses our rows name (verdict hard, soft,
complaint or unknown; auto-replies and success notices name no failure) equals the expected
set, case-insensitively. A temporary entry must never have a `hard` row.

Three entries expect nothing from one particular detector while another detector (or the
fallback to the original's `To`) rightly finds an address: simple_42 (a DSN naming an obfuscated
`david...@gmail.com`), simple_43 (no report; the original's `To` is the only guess) and
groupwise_02 listed under `groupwise` (the same file lists userx@example.com under `exchange`).
They are counted as written and marked `*` in the list of misses.
"""
import ast
import os
import re
import sys

from scan_rows import failed_addresses, rows_by_file

DETECTOR_ONLY = {('simplematch', 'simple_42.txt'), ('simplematch', 'simple_43.txt'), ('groupwise', 'groupwise_02.txt')}


def main(sdist, scan):
    source = open(os.path.join(sdist, 'tests', 'test_detectors.py'), encoding='utf-8').read()
    listing = re.search(r'^DETECTORS = (\[.*?^\])', source, re.S | re.M)
    if not listing:
        sys.exit(f'no DETECTORS list in {sdist}/tests/test_detectors.py')
    entries = ast.literal_eval(listing.group(1))
    rows = rows_by_file(scan, lambda file: os.path.basename(file).split('#')[0])
    exact, misses, temporary_hard = 0, [], []
    for detector, name, expected, temporary in entries:
        want = {e.decode().lower() for e in expected}
        found = rows.get(name, [])
        got = failed_addresses(found)
        if temporary and any(r['verdict'] == 'hard' for r in found):
            temporary_hard.append(name)
        if got == want:
            exact += 1
        else:
            mark = '*' if (detector, name) in DETECTOR_ONLY else ' '
            misses.append(f' {mark} {name} ({detector}): want {sorted(want)}, got {sorted(got)}')
    print(f'flufl.bounce: exact failed-address sets {exact}/{len(entries)} = {exact / len(entries):.1%} (target >= 95 %)')
    print(f'flufl.bounce: temporary failures read as hard: {len(temporary_hard)} (target 0) {temporary_hard or ""}')
    for miss in misses:
        print(miss)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
