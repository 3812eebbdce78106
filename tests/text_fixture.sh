# A text-shift world small enough for a test (sh; sourced): `text_fixture DIR
# FIXTURES` writes DIR/bert, the tiny random BERT of FIXTURES/bert_tiny (50
# ids, 16 positions) with a vocabulary of 50 tokens, and DIR/pk.txt, a
# Packages file of the eight default sections with 30 packages from 30
# sources each (text_packages, below).
text_fixture() {
    mkdir -p "$1/bert" && cp -r "$2/bert_tiny/." "$1/bert/"
    {
        printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n'
        for w in doc fonts games golang perl python science sound tool number for testing a the of and to in is \
            with data file library module program font game audio music go package documentation lib dev test; do
            echo "$w"
        done
        for w in x y z w v u t s r q p o m n k j; do echo "$w"; done
    } | head -50 >"$1/bert/vocab.txt"
    echo '{"model_max_length": 16, "do_lower_case": true}' >"$1/bert/tokenizer_config.json"
    text_packages 30 doc fonts games golang perl python science sound >"$1/pk.txt"
}
# `text_packages N SECTION...`: a Packages file on standard output, N packages
# from N sources in each SECTION
text_packages() {
    tp_n=$1
    shift
    for s in "$@"; do
        i=0
        while [ $i -lt "$tp_n" ]; do
            printf 'Package: %s-%02d\nSection: %s\nSource: %s-src%02d\nDescription: %s tool number %d for testing\n\n' \
                "$s" $i "$s" "$s" $i "$s" $i
            i=$((i + 1))
        done
    done
}
