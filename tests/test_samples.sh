#!/bin/sh
# Smoke tests of samples/ at tiny sizes, so that they cannot rot.
# usage: test_samples.sh study-cli|study-text|study|own-data|c-api|demo LEVI_CL BUILD_DIR SOURCE_DIR
# Exit 77 (skipped) when no OpenCL device exists.
set -eu
which=$1
LEVI_CL=$2
BUILD=$3
SRC=$4
export LEVI_CL

if ! "$LEVI_CL" --device list >/dev/null 2>&1; then
    echo "no OpenCL device: skipped"
    exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/levi-sample-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() {
    echo "FAIL ($which): $*" >&2
    exit 1
}

# A few hundred fashion-shift images, shared by the samples that need data.
tiny_data() {
    "$LEVI_CL" data fashion-shift --out "$T/fs" --limit 300 --seed 1 >"$T/data.log" 2>&1 ||
        { cat "$T/data.log"; fail "data fashion-shift"; }
}

case $which in
study)
    SIZE=tiny SEEDS="0 1" METHODS=scratch,lp,levi "$SRC/samples/fashion-shift-study/run.sh" "$T/study" \
        >"$T/out.txt" 2>"$T/err.txt" || { tail -n 30 "$T/err.txt"; fail "run.sh exited non-zero"; }
    cat "$T/out.txt"
    for m in scratch lp levi; do
        grep -q "^| $m | [0-9.]* ± [0-9.]* (" "$T/out.txt" || fail "no mean ± spread row for $m"
        grep -q "^| $m |.*| 2 |\$" "$T/out.txt" || fail "row $m does not count 2 seeds"
    done
    for s in 0 1; do
        [ -s "$T/study/seed-$s/report.html" ] || fail "seed $s has no report.html"
    done
    # summarize.py must reject a broken file with an error, not a traceback
    echo '{' >"$T/bad.json"
    if python3 "$SRC/samples/fashion-shift-study/summarize.py" "$T/bad.json" 2>"$T/sum.err"; then
        fail "summarize.py accepted a broken results.json"
    fi
    grep -q "bad.json" "$T/sum.err" || fail "summarize.py's error does not name the file"
    ;;
own-data)
    tiny_data
    mkdir -p "$T/images"
    ln -s "$T/fs/train" "$T/images/train"
    ln -s "$T/fs/test-id" "$T/images/test"
    EPOCHS=1 LIMIT=20 "$SRC/samples/own-data/run.sh" "$T/images" "$SRC/tests/fixtures/vit_tiny" "$T/out" \
        >"$T/out.txt" 2>"$T/err.txt" || { tail -n 30 "$T/err.txt"; fail "run.sh exited non-zero"; }
    cat "$T/out.txt"
    for m in lp levi; do
        [ -s "$T/out/$m.safetensors" ] || fail "no model for $m"
        grep -q "accuracy" "$T/out/$m.eval.txt" || fail "no accuracy for $m"
    done
    [ "$(grep -c '\.png	[0-9]-[a-z]*	[0-9.]*$' "$T/out.txt")" -eq 3 ] || fail "predict did not classify 3 images"
    # bad input: a missing backbone folder is a usage error naming it
    if "$SRC/samples/own-data/run.sh" "$T/images" "$T/no-such-vit" "$T/out2" 2>"$T/bad.txt"; then
        fail "run.sh accepted a missing ViT folder"
    fi
    grep -q "no-such-vit" "$T/bad.txt" || fail "the error does not name the missing folder"
    ;;
c-api)
    tiny_data
    mkdir -p "$T/c-api"
    cp "$SRC/samples/c-api/classify.c" "$SRC/samples/c-api/Makefile" "$T/c-api/"
    PKG_CONFIG_PATH="$BUILD/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
        make -s -C "$T/c-api" CFLAGS="-O2 -Wall -Wextra -Werror" || fail "classify.c does not build"
    "$LEVI_CL" train --method scratch --data "$T/fs/train" --epochs 1 --limit 20 --out "$T/m.safetensors" \
        >"$T/train.log" 2>&1 || { cat "$T/train.log"; fail "train"; }
    set -- $(find "$T/fs/test-id" -name '*.png' | sort | head -n 5)
    LD_LIBRARY_PATH="$BUILD${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$T/c-api/classify" "$T/m.safetensors" "$@" \
        >"$T/c.txt" || fail "classify exited non-zero"
    "$LEVI_CL" predict --model "$T/m.safetensors" "$@" >"$T/p.txt" || fail "levi-cl predict"
    cat "$T/c.txt"
    [ "$(wc -l <"$T/c.txt")" -eq 5 ] || fail "classify printed $(wc -l <"$T/c.txt") lines, want 5"
    diff "$T/p.txt" "$T/c.txt" || fail "classify and levi-cl predict disagree"
    if LD_LIBRARY_PATH="$BUILD" "$T/c-api/classify" "$T/m.safetensors" "$T/missing.png" 2>"$T/err.txt"; then
        fail "classify accepted a missing image"
    fi
    grep -q "missing.png" "$T/err.txt" || fail "classify's error does not name the image"
    ;;
demo)
    # the demo end to end at tiny size: table, report, and a second run from the caches
    export LEVI_CACHE_DIR="$T/cache"
    "$LEVI_CL" demo --size tiny --methods scratch,levi --out "$T/demo" >"$T/out.txt" 2>"$T/err.txt" ||
        { tail -n 30 "$T/err.txt"; fail "demo exited non-zero"; }
    cat "$T/out.txt"
    grep -q "^scratch  *[0-9.]*%  *[0-9.]*%" "$T/out.txt" || fail "no scratch row in the table"
    grep -q "^levi  *[0-9.]*%  *[0-9.]*%" "$T/out.txt" || fail "no levi row in the table"
    grep -q "<svg class=\"chart\" id=\"acc-chart\"" "$T/demo/report.html" || fail "report without the chart"
    grep -q "data:image/png;base64," "$T/demo/report.html" || fail "report without the contact sheet"
    "$LEVI_CL" demo --size tiny --methods scratch,levi --out "$T/demo2" >"$T/out2.txt" 2>"$T/err2.txt" ||
        fail "second demo exited non-zero"
    grep -q "generate fashion-shift — cached" "$T/err2.txt" || fail "second demo regenerated the data"
    grep -q "pretrain vit-tiny backbone — cached" "$T/err2.txt" || fail "second demo pretrained again"
    "$LEVI_CL" demo --size tiny --methods scratch,levi --out "$T/demo" >/dev/null 2>"$T/err3.txt" ||
        fail "third demo exited non-zero"
    [ "$(grep -c -- "— cached" "$T/err3.txt")" -eq 4 ] || fail "rerun in the same folder redid a stage"
    ;;
study-cli)
    # levi-cl study at tiny size: the tables, the JSON, a rerun from the markers, one run redone, bad input
    export LEVI_CACHE_DIR="$T/cache"
    "$LEVI_CL" study --size tiny --seeds 0,1 --methods scratch,levi --variant 'levi-ens=levi --fusion ensemble' \
        --out "$T/st" >"$T/out.txt" 2>"$T/err.txt" || { tail -n 30 "$T/err.txt"; fail "study exited non-zero"; }
    cat "$T/out.txt"
    for m in scratch levi levi-ens; do
        grep -q "^| $m | 1e-3 | 0.01 | [12] | [0-9.]* | [0-9.]* ± [0-9.]* (.*) | [0-9.]* ± [0-9.]* (.*) | 2 |\$" \
            "$T/out.txt" || fail "no mean ± sd row over 2 seeds for $m"
    done
    grep -q "^| levi − scratch | [-+][0-9.]* ± [0-9.]* (" "$T/out.txt" || fail "no paired levi − scratch row"
    grep -q "^| levi − levi-ens | " "$T/out.txt" || fail "no paired levi − levi-ens row"
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['format']=='levi-study'; \
assert [m['name'] for m in d['methods']]==['scratch','levi','levi-ens']; \
assert all(len(m['runs'])==2 and m['selected']['epochs']>=1 for m in d['methods']); \
assert len(d['paired'])==2 and len(d['paired'][0]['ood_diff']['per_seed'])==2; \
assert d['search_seeds']==[0,1] and all(len(g['val_acc_per_seed'])==2 for m in d['methods'] for g in m['search'])" \
        "$T/st/study.json" ||
        fail "study.json does not hold every method, run and pair"
    [ "$(find "$T/st/splits/fit" -name '*.png' | wc -l)" -eq 60 ] || fail "fit split is not 6 images x 10 classes"
    [ "$(find "$T/st/splits/val" -name '*.png' | wc -l)" -eq 30 ] || fail "val split is not 3 images x 10 classes"
    for f in $(find "$T/st/splits/val" -name '*.png' | xargs -n1 basename); do
        [ -z "$(find "$T/st/splits/fit" -name "$f")" ] || fail "$f is in both the fit and the val split"
    done
    # a rerun redoes nothing; a removed final run (as if killed before its end) is redone alone
    "$LEVI_CL" study --size tiny --seeds 0,1 --methods scratch,levi --variant 'levi-ens=levi --fusion ensemble' \
        --out "$T/st" >"$T/out2.txt" 2>"$T/err2.txt" || fail "rerun exited non-zero"
    [ "$(grep -c -- "— cached" "$T/err2.txt")" -eq 14 ] || fail "the rerun redid a run"
    rm "$T/st/final/levi/seed-1/complete.json"
    "$LEVI_CL" study --size tiny --seeds 0,1 --methods scratch,levi --variant 'levi-ens=levi --fusion ensemble' \
        --out "$T/st" >"$T/out3.txt" 2>"$T/err3.txt" || fail "third run exited non-zero"
    [ "$(grep -c -- "— cached" "$T/err3.txt")" -eq 13 ] || fail "more than the removed run was redone"
    diff "$T/out.txt" "$T/out3.txt" >/dev/null || fail "the redone run changed the results"
    # bad input: exit 2 with a message naming it
    for bad in "--methods scratch,nope" "--variant x=levi --lr 1" "--seeds 0,0" "--subdomain sepia"; do
        # shellcheck disable=SC2086
        if "$LEVI_CL" study --size tiny $bad --out "$T/bad" 2>"$T/bad.txt"; then fail "accepted $bad"; fi
    done
    grep -q "sepia" "$T/bad.txt" || fail "the error does not name the bad subdomain"
    ;;
study-text)
    # levi-cl study --text at tiny size with a tiny random BERT: the tables with the three test
    # splits, every number finite, the splits carved from train.jsonl, a rerun from the markers,
    # bad input
    . "$SRC/tests/text_fixture.sh"
    text_fixture "$T" "$SRC/tests/fixtures"
    export LEVI_CACHE_DIR="$T/cache"
    unset LEVI_MINILM
    run_text() { "$LEVI_CL" study --text --size tiny --seeds 0,1 --methods scratch,lp,ft,levi \
        --variant 'levi-ens=levi --fusion ensemble' --backbone "$T/bert" --source "$T/pk.txt" --out "$T/st" "$@"; }
    run_text >"$T/out.txt" 2>"$T/err.txt" || { tail -n 30 "$T/err.txt"; fail "study --text exited non-zero"; }
    cat "$T/out.txt"
    grep -q "^## text-shift: 2 seeds" "$T/out.txt" || fail "the report is not titled text-shift"
    grep -q "^| method | lr | wd | epochs | val % | ID % | OOD % | no-name % | seeds |\$" "$T/out.txt" ||
        fail "the table has no ID, OOD and no-name columns"
    for m in scratch lp ft levi levi-ens; do
        grep -q "^| $m | 1e-3 | 0.01 | [12] | [0-9.]* | [0-9.]* ± [0-9.]* (.*) | [0-9.]* ± [0-9.]* (.*) | [0-9.]* ± [0-9.]* (.*) | 2 |\$" \
            "$T/out.txt" || fail "no mean ± sd row over 2 seeds with three test splits for $m"
    done
    grep -q "^| levi − ft | [-+][0-9.]* ± [0-9.]* (.*) | [-+][0-9.]* ± [0-9.]* (.*) | [-+][0-9.]* ± [0-9.]* (" \
        "$T/out.txt" || fail "no paired levi − ft row over OOD, ID and no-name"
    if grep -q -i -w -E "[-+]?(nan|inf)" "$T/out.txt"; then fail "the report holds a non-finite number"; fi
    python3 -c "
import json, math, sys
d = json.load(open(sys.argv[1]))
assert d['format'] == 'levi-study' and d['benchmark'] == 'text-shift' and 'subdomain' not in d
assert [m['name'] for m in d['methods']] == ['scratch', 'lp', 'ft', 'levi', 'levi-ens']
def finite(x, where):
    if isinstance(x, dict): [finite(v, where + '.' + k) for k, v in x.items()]
    elif isinstance(x, list): [finite(v, where + '[%d]' % i) for i, v in enumerate(x)]
    elif isinstance(x, (int, float)) and not isinstance(x, bool): assert math.isfinite(x), where
    else: assert x is not None, where + ' is null'
finite(d, 'study.json')
for m in d['methods']:
    assert len(m['runs']) == 2 and m['selected']['epochs'] >= 1, m['name']
    for r in m['runs']:
        for k in ('id_acc', 'ood_acc', 'noname_acc'): assert 0 <= r[k] <= 1, (m['name'], k)
        assert 'test-noname.jsonl' in r['commands'] and '--seq-len 16' in r['commands']
    for k in ('id_acc', 'ood_acc', 'noname_acc'): assert m[k]['n'] == 2, (m['name'], k)
    assert ('--tokenizer' in m['runs'][0]['commands']) == (m['name'] == 'scratch')
assert len(d['paired']) == 4 and all(len(p[k]['per_seed']) == 2 for p in d['paired']
                                     for k in ('ood_diff', 'id_diff', 'noname_diff'))
" "$T/st/study.json" || fail "study.json does not hold every method, run, test split and pair, all finite"
    # the splits: the first 5 texts of every class of train.jsonl, then 3 more
    [ "$(wc -l <"$T/st/splits/fit.jsonl")" -eq 40 ] || fail "fit split is not 5 texts x 8 classes"
    [ "$(wc -l <"$T/st/splits/val.jsonl")" -eq 24 ] || fail "val split is not 3 texts x 8 classes"
    [ -z "$(sort "$T/st/splits/fit.jsonl" "$T/st/splits/val.jsonl" | uniq -d)" ] ||
        fail "a text is in both the fit and the val split"
    run_text >"$T/out2.txt" 2>"$T/err2.txt" || fail "rerun exited non-zero"
    # the data, 10 searches (5 methods x 2 seeds) and 10 final runs
    [ "$(grep -c -- "— cached" "$T/err2.txt")" -eq 21 ] || fail "the rerun redid a run"
    diff "$T/out.txt" "$T/out2.txt" >/dev/null || fail "the rerun changed the results"
    # a grid point whose loss diverges counts as a failed setting, not as a failed study
    "$LEVI_CL" study --text --size tiny --seeds 0 --methods ft --lrs 1e-3,10 --backbone "$T/bert" \
        --source "$T/pk.txt" --out "$T/div" >"$T/div.txt" 2>"$T/div.err" ||
        { tail -n 20 "$T/div.err"; fail "a diverging grid point stopped the study"; }
    grep -q "search ft lr 10 .* diverged" "$T/div.err" || fail "the diverged run is not reported"
    grep -q "^| ft | 1e-3 | " "$T/div.txt" || fail "the diverged learning rate was selected"
    grep -q "^## text-shift: 1 seed$" "$T/div.txt" || fail "the report of one seed is not titled '1 seed'"
    # bad input: exit 2 with a message naming it
    for bad in "--subdomain edges:--subdomain" "--task-model cnn:cnn" "--arch vit-small:--arch" \
        "--fit 8:needs 11"; do
        # shellcheck disable=SC2086
        if "$LEVI_CL" study --text --size tiny ${bad%%:*} --backbone "$T/bert" --source "$T/pk.txt" \
            --out "$T/bad" 2>"$T/bad.txt"; then fail "accepted ${bad%%:*}"; fi
        grep -q -- "${bad#*:}" "$T/bad.txt" || fail "the error for ${bad%%:*} does not name it"
    done
    if "$LEVI_CL" study --size tiny --backbone "$T/bert" --out "$T/bad" 2>"$T/bad.txt"; then
        fail "accepted --backbone without --text"
    fi
    grep -q -- "--backbone applies to --text" "$T/bad.txt" || fail "the --backbone error does not say why"
    ;;
*)
    fail "unknown sample '$which'"
    ;;
esac
echo "ok: $which"
