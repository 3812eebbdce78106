#!/bin/sh
# levi-cl train / eval / predict on texts as a user meets them: every method
# (scratch, lp, ft, lora, levi, levi+lora) on JSON lines with a tiny random
# BERT (tests/fixtures/bert_tiny plus a vocabulary written here), eval on
# JSONL and CSV (other column names), predict on texts, and the errors of a
# wrong combination (exit 2 usage, 1 failure; no model file left behind).
# With $LEVI_MINILM (the quick start installs all-MiniLM-L6-v2 and exports
# it) the real model is also trained (lp) and must learn; skipped otherwise.
# usage: test_text_train_cli.sh LEVI_CL FIXTURES_DIR
set -u
L=$1
F=$2
"$L" --device list >/dev/null 2>&1 || { echo "no OpenCL device: skipped"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/levi-text-train-XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
. "$(dirname "$0")/cli_common.sh"
# the tiny BERT (50 ids, 16 positions) with a vocabulary of 50 tokens
B=$T/bert
mkdir -p "$B" && cp -r "$F/bert_tiny/." "$B/"
words="game play fun level score win player board card dice sound music audio song voice play track drum bass
tone science data lab test atom cell gene math proof star the a of and for to with tool new old small big fast
slow good"
{ printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n'; for w in $words; do echo "$w"; done; } >"$B/vocab.txt"
echo '{"model_max_length": 16, "do_lower_case": true}' >"$B/tokenizer_config.json"
# three classes told apart by their words; a deterministic generator (awk)
gen() { # N SEED > jsonl
    awk -v n="$1" -v seed="$2" '
    function rnd(k) { s = (s * 75 + 74) % 65537; return s % k } # exact in any awk
    BEGIN {
        split("game play fun level score win player board card dice", w1, " ")
        split("sound music audio song voice track drum bass tone", w2, " ")
        split("science data lab test atom cell gene math proof star", w3, " ")
        split("the a of and for to with tool new old small big fast slow good", wc, " ")
        split("games sound science", lab, " ")
        s = seed
        for (i = 0; i < n; i++) for (c = 1; c <= 3; c++) {
            len = 3 + rnd(7); t = ""
            for (k = 0; k < len; k++) {
                if (rnd(2)) x = c == 1 ? w1[1 + rnd(10)] : c == 2 ? w2[1 + rnd(9)] : w3[1 + rnd(10)]
                else x = wc[1 + rnd(15)]
                t = t (k ? " " : "") x
            }
            printf "{\"text\": \"%s\", \"label\": \"%s\"}\n", t, lab[c]
        }
    }'
}
gen 40 1 >"$T/train.jsonl"
gen 15 2 >"$T/test.jsonl"
printf 'body,section\n"music song voice drum",sound\n"gene math lab atom",science\n"game play dice board",games\n' \
    >"$T/test.csv"
acc_of() { # the accuracy of eval --json's first data set
    sed -n 's/.*"accuracy":[[:space:]]*\([0-9.]*\).*/\1/p' "$1" | head -1
}
expect 0 "texts" train --help
expect 0 "TEXT" predict --help
expect 0 "text files" eval --help
# scratch learns the words (its n-gram model, the tokenizer of --tokenizer)
expect 0 '"method":"scratch"' train --method scratch --tokenizer "$B" --data "$T/train.jsonl" --out "$T/scratch.safetensors" \
    --epochs 8 --batch 16 --lr 3e-3
"$L" eval --model "$T/scratch.safetensors" --data "$T/test.jsonl" --json >"$T/eval.json" 2>/dev/null || fail "eval scratch"
a=$(acc_of "$T/eval.json")
awk -v a="${a:-0}" 'BEGIN { exit !(a >= 0.8) }' || fail "scratch on texts: test accuracy ${a:-none} < 0.8"
expect 0 "accuracy" eval --model "$T/scratch.safetensors" --data "$T/test.csv" --text-column body --label-column section
expect 0 "science" predict --model "$T/scratch.safetensors" "gene math lab atom proof"
expect 0 '"text":' predict --model "$T/scratch.safetensors" --json "music song"
# every method with the tiny BERT: trains, saves, reloads in eval and predict
for m in lp ft lora levi levi+lora; do
    expect 0 "\"method\":\"$m\"" train --method "$m" --backbone "$B" --data "$T/train.jsonl" --val "$T/test.jsonl" \
        --out "$T/$m.safetensors" --epochs 2 --batch 16 --lora-rank 2
    expect 0 "accuracy" eval --model "$T/$m.safetensors" --data "$T/test.jsonl"
    expect 0 "	" predict --model "$T/$m.safetensors" "the music"
done
# wrong combinations
expect 2 "texts need a tokenizer" train --method scratch --data "$T/train.jsonl" --out "$T/x.safetensors"
expect 2 "texts need a tokenizer" train --method lp --backbone "$B" --tokenizer "$B" --data "$T/train.jsonl" \
    --out "$T/x.safetensors"
expect 2 "above the 16 positions" train --method lp --backbone "$B" --data "$T/train.jsonl" --out "$T/x.safetensors" \
    --seq-len 32
expect 2 "is a vit, which reads images" train --method lp --backbone "$F/vit_tiny" --data "$T/train.jsonl" \
    --out "$T/x.safetensors"
expect 1 "missing field 'body'" train --method scratch --tokenizer "$B" --data "$T/train.jsonl" --text-column body \
    --out "$T/x.safetensors"
expect 1 "tokenizer_config.json\|vocab.txt" train --method scratch --tokenizer "$F/bert_tiny" --data "$T/train.jsonl" \
    --out "$T/x.safetensors"
expect 2 "apply to texts" train --method scratch --data "$F/images" --seq-len 8 --out "$T/x.safetensors"
expect 2 "augment applies to images" train --method scratch --tokenizer "$B" --data "$T/train.jsonl" --augment flip \
    --out "$T/x.safetensors"
printf '{"text": "music", "label": "jazz"}\n' >"$T/other.jsonl"
expect 1 "jazz" eval --model "$T/lp.safetensors" --data "$T/other.jsonl"
[ -e "$T/x.safetensors" ] && fail "a failed run left x.safetensors behind"
# the real all-MiniLM-L6-v2: a linear probe on its sentence embeddings learns the three classes
if [ -n "${LEVI_MINILM:-}" ] && [ -f "$LEVI_MINILM/model.safetensors" ]; then
    expect 0 '"method":"lp"' train --method lp --backbone "$LEVI_MINILM" --data "$T/train.jsonl" --seq-len 16 \
        --out "$T/minilm.safetensors" --epochs 8 --batch 32 --lr 1e-2
    "$L" eval --model "$T/minilm.safetensors" --data "$T/test.jsonl" --json >"$T/eval.json" 2>/dev/null ||
        fail "eval minilm"
    a=$(acc_of "$T/eval.json")
    awk -v a="${a:-0}" 'BEGIN { exit !(a >= 0.8) }' || fail "lp on all-MiniLM-L6-v2: test accuracy ${a:-none} < 0.8"
    echo "all-MiniLM-L6-v2 lp: test accuracy $a"
else
    echo "all-MiniLM-L6-v2: skipped, LEVI_MINILM is not set (the quick start installs it)"
fi
[ "$fails" -eq 0 ] && echo "text-train-cli: all checks passed"
exit $((fails > 0))
