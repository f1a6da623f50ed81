#!/usr/bin/perl
# The reference verdicts for benches/bounces_reference.sh: Sisimai (Debian's libsisimai-perl)
# over each message file named on the command line, one JSON object per recipient per message on
# stdout: {"file","recipient","reason","softbounce","status","reply","action","feedbacktype"}.
# Success DSNs and auto-replies are asked for too (`delivered`, `vacation`), so the evaluator
# can check that none of them is read as a suppression. A file Sisimai finds nothing in gives
# one object with a null recipient and reason.
use strict;
use warnings;
use Sisimai;
use JSON::PP;

my $json = JSON::PP->new->canonical(1);
binmode STDOUT, ':raw';
for my $file (@ARGV) {
    my $data = eval { Sisimai->make($file, 'delivered' => 1, 'vacation' => 1) } || [];
    if (!@$data) {
        print $json->encode({ 'file' => $file, 'recipient' => undef, 'reason' => undef }), "\n";
        next;
    }
    for my $d (@$data) {
        print $json->encode({
            'file'         => $file,
            'recipient'    => $d->recipient ? lc($d->recipient->address) : undef,
            'reason'       => $d->reason,
            'softbounce'   => 0 + ($d->softbounce // -1),
            'status'       => $d->deliverystatus || undef,
            'reply'        => $d->replycode || undef,
            'action'       => $d->action || undef,
            'feedbacktype' => $d->feedbacktype || undef,
        }), "\n";
    }
}
