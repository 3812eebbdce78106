#!/bin/sh
# Fine-tune a Hugging Face ViT on your own PNG images with LEVI, next to a
# linear probe of the same backbone, and classify a few images.
#
# usage: run.sh IMAGES_DIR VIT_DIR [OUT_DIR]
#   IMAGES_DIR/train/<class>/*.png   training images, one folder per class
#   IMAGES_DIR/test/<class>/*.png    held-out images, the same class folders
#   VIT_DIR                          a Hugging Face ViT folder: config.json + model.safetensors
#   OUT_DIR                          default ./own-data-out
# Environment: LEVI_CL=levi-cl, METHODS="lp levi", EPOCHS=5, BATCH=32, LIMIT=0 (images per class, 0 = all)
set -eu
if [ $# -lt 2 ]; then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
IMAGES=$1
VIT=$2
OUT=${3:-own-data-out}
LEVI_CL=${LEVI_CL:-levi-cl}
METHODS=${METHODS:-"lp levi"}
EPOCHS=${EPOCHS:-5}
BATCH=${BATCH:-32}
LIMIT=${LIMIT:-0}

for f in "$IMAGES/train" "$IMAGES/test" "$VIT/config.json" "$VIT/model.safetensors"; do
    if [ ! -e "$f" ]; then
        echo "run.sh: $f is missing (see the usage at the top of $0)" >&2
        exit 2
    fi
done
mkdir -p "$OUT"
limit=""
[ "$LIMIT" -gt 0 ] && limit="--limit $LIMIT"

for m in $METHODS; do
    echo "== $m =="
    # shellcheck disable=SC2086
    "$LEVI_CL" train --method "$m" --backbone "$VIT" --data "$IMAGES/train" \
        --epochs "$EPOCHS" --batch "$BATCH" $limit \
        --log "$OUT/$m.metrics.jsonl" --out "$OUT/$m.safetensors"
    "$LEVI_CL" eval --model "$OUT/$m.safetensors" --data "$IMAGES/test" > "$OUT/$m.eval.txt"
    head -n 1 "$OUT/$m.eval.txt"
done

# classify the first three test images with the last model
set -- $(find -L "$IMAGES/test" -name '*.png' | sort | head -n 3)
echo "== predict ($m) =="
"$LEVI_CL" predict --model "$OUT/$m.safetensors" "$@"
