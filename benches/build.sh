#!/usr/bin/env bash
# `build` of a generated 1,000-issue project: wall time and peak memory (max RSS).
#
# Generates the same project as `benches/render.rs` (the example's configuration, templates
# and static files; N issues over its two publications, each the example issue's body) in a
# temporary directory, then runs `letterpress build` RUNS times (default 3) into an empty
# output directory and once more over the unchanged output, under `/usr/bin/time -v`, for each
# binary named: `BIN` (default target/release/letterpress), and `BEFORE` when set, so two
# builds compare in the same run on the same files.
#
#   benches/build.sh
#   BEFORE=/tmp/letterpress-before benches/build.sh
#   N=1000 RUNS=5 BIN=target/release/letterpress benches/build.sh
#
# Targets (issue 11): under 1 s wall (≤ 0.5 s), peak RSS ≤ 64 MiB.
#
# Measured 2026-12-06 on 2 shared CPUs at load average 15 (six builds running), RUNS=3:
# before (main at 669266a) 7.2–9.9 s wall, 135 MiB max RSS; after (pages rendered, written and
# dropped one at a time) 6.5–8.5 s wall, 88 MiB max RSS. Wall times at that load say little.
# Then (the checked issues slimmed as they are checked, the email renditions waiting in a
# temporary file), load average 8, RUNS=3, BEFORE=main at 8b95480: before 81.7–82.9 MiB cold,
# 84.9 MiB rebuild; after 50.4–50.7 MiB cold, 53.9 MiB rebuild. CPU time about the same (1.1 s
# user); wall 4–17 s for both, set by the machine's load.
# Then (issue pages rendered and written on all cores; cheaper placeholder scan and wrapping),
# load average 17, `/usr/bin/time -v` on the same 1,000-issue project, before (3cd3f01)
# and after: user 1.12 s and 1.12 s before, 1.05 s and 1.01 s after; max RSS 51 MiB before,
# 53 MiB after; output byte-identical (`diff -r`). Wall 9–17 s for both at that load.
# Then (issue 11, render2: the email layout's character references decoded before CSS
# inlining, email renditions written on all cores, lint/email-support without a string per
# attribute and lowercasing once per email), load average 1.8–1.9 (the lead building),
# `/usr/bin/time` on the same 1,000-issue project, before (main at 45880a6) and after
# (4bcc54c), three cold builds each in turn, then a rebuild: cold before wall 0.70–1.64 s,
# user 0.96–1.00 s, sys 0.20–1.17 s, max RSS 51.0–51.8 MiB; after wall 0.63–1.02 s, user
# 0.83–0.93 s, sys 0.25–0.85 s, max RSS 54.8–55.2 MiB (probably the malloc arena of the
# renditions' second writer thread); rebuild before 0.59 s wall, 0.91 s user, 54.5 MiB; after 0.56 s, 0.87 s, 58.7 MiB. Output
# byte-identical (`diff -r`). This script at the same load: cold before 0.74–2.39 s, after
# 0.83–2.86 s, rebuild 0.95 and 0.94 s. Not 0.5 s yet: about 0.9 s of CPU on 2 shared cores,
# and sys time (creating 3,000 files) swings with the machine's load. mimalloc cut user time
# to 0.75–0.83 s but raised max RSS to 87–95 MiB, so it was left out.
# Tried later and left out: each archive page rendered once and set aside in the temporary
# file until every page had rendered (today a first pass renders them to find template errors
# before any write, and a second writes them). Output byte-identical, but user CPU within the
# noise (1.22–1.44 s against 1.16–1.73 s, project and output on tmpfs, on a machine where
# creating a file on disk cost ~750 µs of system time and a build 3–4 s of it) and peak RSS
# 4–5 MiB higher (glibc's per-thread arenas: 58.9–59.4 MiB cold, 63.5–64.1 MiB rebuild).
# 2026-12-07, mimalloc (src/allocator.rs): the same 1,000-issue project and its output on tmpfs
# (/dev/shm), `/usr/bin/time`, runs alternating, load average 1.5–1.9. glibc (main at cd19f22):
# wall 0.55–0.62 s, user 0.84–0.93 s, max RSS 53.8–56.7 MiB. mimalloc v3 with its default purge
# delay (1 s): wall 0.51–0.54 s, user 0.74–0.79 s, max RSS 72.2–73.5 MiB; v2: 64.5–65.2 MiB; v3
# with the delay at 10 ms, as adopted: wall 0.54–0.58 s, user 0.76–0.80 s, max RSS 58.3–59.8 MiB.
# Not 0.5 s yet: rendering is 57 % of the CPU (perf), html5ever's two parses most of that.
# Then the plain path (a fragment without raw HTML skips the sanitiser's parse), four rounds
# alternating, load average 1.7: glibc (cd19f22) 0.73–0.82 s wall, 1.01–1.22 s user,
# 52–54 MiB; mimalloc 0.65–0.79 s, 0.86–1.05 s, 56–57 MiB; mimalloc + plain path 0.63–0.72 s,
# 0.75–0.94 s, 57–58 MiB. Output byte-identical (`diff -r`).
# Then (the archive's files made by a pool of jobs that each thread takes as it comes free: the
# listings, feeds and index one at a time on the calling thread while the others make the issue
# pages, each issue's renditions read back and written with its page; issues checked and loaded
# the same way; the URL rewriter called only on elements with a URL attribute), project and
# output on /dev/shm, `/usr/bin/time`, four rounds alternating, load average 1.2–1.7: before
# (772e91b) 0.52–0.60 s wall, 0.68–0.82 s user, 56.4–56.7 MiB; after 0.45–0.48 s wall,
# 0.65–0.73 s user, 57.5–58.7 MiB. Output byte-identical (`diff -r`). This script as it is
# (project and output under /tmp, on this machine's ext4 disk), RUNS=4: before 0.77–0.86 s cold,
# 0.48 s rebuild; after 0.62–0.77 s cold, 0.44 s rebuild. Into a directory just emptied by
# `rm -rf` the disk's metadata writes swing far more (strace: `mkdir` and `openat` of new files
# ~1 ms and ~0.3 ms each): before 2.0–2.3 s, after 1.0–1.9 s.
# 2026-12-07, why the disk swings: this machine's root file system is ext4 without a journal
# (/sys/fs/ext4/vda/journal_task is `<none>`), and there ext4's inode allocator passes over every
# free inode deleted in the last 5–10 minutes (`recently_deleted()` in fs/ext4/ialloc.c, checked
# only without a journal); perf put 47 % of a slow cold build's CPU in `find_inode_bit` and
# `recently_deleted`. Python making 1,000 directories and 3,000 files took 0.15 s, 0.92 s right
# after `rm -rf` of the same, 1.31 s after a second one (tmpfs: 0.07 s). Three cold builds into
# one output directory, each removed after it (binary at 574e51d): 0.47 s, 0.45 s, 0.88 s wall,
# user 0.63–0.64 s every time, sys 0.21 s, 0.22 s, 1.06 s. This script, RUNS=3: cold 0.73 s,
# 0.51 s, 0.45 s, rebuild 0.42 s. So the build meets 0.5 s on this disk unless the same file
# system deleted thousands of files minutes before; the user and system times printed below
# tell the two apart.
set -euo pipefail

N=${N:-1000}
RUNS=${RUNS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time: apt-get install time" >&2; exit 2; }
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
fi
bin=${BIN:-"$root/target/release/letterpress"}

work=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "keeping $work" || trap 'rm -rf "$work"' EXIT

cp "$root/letterpress.yaml" "$work/letterpress.yaml"
mkdir -p "$work/templates/integrated-care" "$work/static/images"
cp "$root/templates/integrated-care/email.css" "$work/templates/integrated-care/email.css"
cp "$root"/static/images/* "$work/static/images/"
sample="$root/content/commissioner/2016-12-09-stp-plans-published.md"
# The body: everything after the second `---` line, internal links made absolute.
body=$(awk 'n >= 2 { print } /^---$/ { n++ }' "$sample" | sed 's#@/commissioner/#https://news.example.org/#g')
for ((i = 0; i < N; i++)); do
  if ((i % 2 == 0)); then publication=commissioner; else publication=integrated-care; fi
  date=$(date -u -d "2000-01-01 + $i days" +%F)
  mkdir -p "$work/content/$publication"
  printf -- '---\ntitle: "Issue %d"\nstatus: ready\nstandfirst: "Number %d."\n---\n%s\n' "$i" "$i" "$body" \
    > "$work/content/$publication/$date-issue-$i.md"
done

measure() { # label binary output-dir
  local label=$1 binary=$2 out=$3
  /usr/bin/time -v "$binary" -C "$work" build --out "$out" > /dev/null 2> "$work/time.log" \
    || { cat "$work/time.log" >&2; exit 1; }
  local wall user sys rss
  wall=$(grep 'Elapsed (wall clock)' "$work/time.log" | awk '{ print $NF }')
  user=$(grep 'User time (seconds)' "$work/time.log" | awk '{ print $NF }')
  sys=$(grep 'System time (seconds)' "$work/time.log" | awk '{ print $NF }')
  rss=$(grep 'Maximum resident set size' "$work/time.log" | awk '{ print $NF }')
  printf '%-8s %-10s wall %s  user %s s  sys %s s  max RSS %d KiB (%.1f MiB)\n' "$label" "$4" "$wall" "$user" "$sys" \
    "$rss" "$(echo "$rss / 1024" | bc -l)"
}

echo "build: $N issues, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq 1 "$RUNS"); do
  [ -n "${BEFORE:-}" ] && measure before "$BEFORE" "$work/before-$run" cold
  measure after "$bin" "$work/after-$run" cold
done
[ -n "${BEFORE:-}" ] && measure before "$BEFORE" "$work/before-1" rebuild
measure after "$bin" "$work/after-1" rebuild
