#!/bin/sh
# levi-cl data text-shift as a user meets it: exit codes (2 usage or a bad
# argument, 1 failure), errors that name the bad input, no output left behind
# on failure, the same bytes twice from the same Packages file (a small one
# written here), the source's SHA-256 in the manifest. No device needed.
# usage: test_text_cli.sh LEVI_CL
set -u
L=$1
. "$(dirname "$0")/cli_common.sh"
cli_begin text-cli
# three sections of 40 packages from 40 sources each
. "$(dirname "$0")/text_fixture.sh"
text_packages 40 games sound science >"$T/pk.txt"
expect 0 "text-shift" data text-shift --help
expect 2 "needs --out" data text-shift --source "$T/pk.txt"
expect 2 "rho" data text-shift --out "$T/x" --source "$T/pk.txt" --rho 2
expect 2 "unexpected argument '--bogus'" data text-shift --out "$T/x" --bogus
expect 1 "cannot open '$T/none.txt'" data text-shift --out "$T/x" --source "$T/none.txt"
expect 1 "section 'mail' has 0 usable packages" data text-shift --out "$T/x" --source "$T/pk.txt" --classes games,mail
expect 2 "not a Debian section name" data text-shift --out "$T/x" --source "$T/pk.txt" --classes Games,sound
[ -e "$T/x" ] && { fail "a failed run left $T/x behind"; }
for d in a b; do
    expect 0 "wrote $T/$d" data text-shift --out "$T/$d" --source "$T/pk.txt" --classes games,sound,science \
        --train-per-class 10 --test-per-class 8 --seed 5
done
for f in train test-id test-ood test-noname; do
    cmp -s "$T/a/$f.jsonl" "$T/b/$f.jsonl" || { fail "$f.jsonl differs between runs"; }
done
grep -q "\"source_sha256\":.*$(sha256sum "$T/pk.txt" | cut -c1-64)" "$T/a/manifest.json" ||
    { fail "manifest lacks the source's SHA-256"; }
expect 2 "not empty (pass --force" data text-shift --out "$T/a" --source "$T/pk.txt" --classes games,sound,science
# from standard input, replacing the folder
"$L" data text-shift --out "$T/a" --source - --classes games,sound --force <"$T/pk.txt" >/dev/null 2>&1 ||
    { fail "--source - --force"; }
grep -q '"standard input"' "$T/a/manifest.json" || { fail "stdin source not recorded"; }
ls "$T" | grep -q '\.tmp\.' && { fail "temporary folders left in $T"; }
cli_end text-cli
