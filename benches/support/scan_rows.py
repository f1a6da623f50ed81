"""What the corpus scorers read from `letterpress bounces scan --format json`: its rows grouped
by file, and the addresses a file's rows name as failed. One definition, so both scorers count
the same thing."""
import collections
import json

# The verdicts that name a failed address: auto-replies and success notices name none.
FAILED = ('hard', 'soft', 'complaint', 'unknown')


def rows_by_file(scan, name):
    """The rows of the JSON-lines scan at `scan`, grouped by `name(row['file'])`."""
    rows = collections.defaultdict(list)
    with open(scan, encoding='utf-8') as lines:
        for line in lines:
            row = json.loads(line)
            rows[name(row['file'])].append(row)
    return rows


def failed_addresses(found):
    """The addresses `found` (one file's rows) name as failed, lower-cased."""
    return {r['recipient'].lower() for r in found if r.get('recipient') and r['verdict'] in FAILED}
