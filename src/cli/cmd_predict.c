/* levi-cl predict: the class and probability of each image (or text, for a
 * model trained on texts) under a trained model. Output, one line per input:
 * PATH<TAB>CLASS<TAB>PROBABILITY; with --json one JSON array of
 * {"image":PATH,"class":NAME,"index":K,"prob":P,"top":[{"class":NAME,"prob":P},...]}
 * (top --top K classes, default 3; "text":TEXT in place of "image" for texts).
 * Exit status: 0 done, 2 usage error, 1 failure (the message names the image). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "levi/data.h"
#include "levi/levi_model.h"
#include "levi/text.h"
#include "text_cli.h"

static const char *k_usage =
    "usage: levi-cl [--device SEL] predict --model MODEL.safetensors [--json] [--top K] IMAGE...\n"
    "       levi-cl [--device SEL] predict --model TEXT_MODEL.safetensors [--json] [--top K] TEXT...\n"
    "\n"
    "Classify PNG or JPEG images with a model written by `levi-cl train`. Each image is\n"
    "preprocessed as in training (converted to the model's channels, resized, cropped and\n"
    "normalised by the model file's preprocessor).\n"
    "A model trained on texts classifies its arguments as texts instead, tokenised by the\n"
    "model file's own tokenizer (cut at its sequence length, as in training).\n"
    "Prints INPUT<TAB>CLASS<TAB>PROBABILITY per input, or a JSON array with --json.\n";

int cmd_predict(int argc, char **argv, const cli_env *env) {
    if (cli_wants_help(argc, argv)) {
        fputs(k_usage, stdout);
        return 0;
    }
    const char *model = NULL;
    int json = 0;
    long top = 3;
    const char **images = calloc((size_t)argc, sizeof *images); /* images or texts */
    int n = 0;
    if (!images) return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory"));
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--json")) json = 1;
        else if (!strcmp(o, "--model") || !strcmp(o, "--top")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "levi-cl predict: %s needs a value\n", o);
                free(images);
                return 2;
            }
            if (!strcmp(o, "--model")) model = argv[++i];
            else if (cli_parse_int(o, argv[++i], 1, 1000, &top) != LEVI_OK) {
                free(images);
                return cli_fail(LEVI_ERR_INVALID_ARG);
            }
        } else if (!strncmp(o, "--", 2)) {
            fprintf(stderr, "levi-cl predict: unknown option '%s'\n\n%s", o, k_usage);
            free(images);
            return 2;
        } else {
            images[n++] = o;
        }
    }
    if (!model || !n) {
        fprintf(stderr, "levi-cl predict: --model and at least one image (or text) are required\n\n%s", k_usage);
        free(images);
        return 2;
    }
    levi_ctx *ctx = NULL;
    levi_model *m = NULL;
    float *px = NULL, *probs = NULL, *mask = NULL;
    cli_text tx;
    memset(&tx, 0, sizeof tx);
    levi_status st = cli_open(env, &ctx);
    if (st == LEVI_OK) st = levi_model_load(&m, ctx, model, n < 64 ? n : 64, 0);
    const levi_model_config *c = st == LEVI_OK ? levi_model_get_config(m) : NULL;
    int text = c && levi_model_input_spec(m)->kind == LEVI_INPUT_TOKENS;
    if (text) st = cli_text_from_model(&tx, m, model, NULL, NULL);
    size_t chw = !c ? 0 : text ? (size_t)tx.seq_len : (size_t)c->channels * c->height * c->width;
    if (st == LEVI_OK) {
        px = malloc((size_t)n * chw * sizeof *px);
        mask = text ? malloc((size_t)n * chw * sizeof *mask) : NULL;
        probs = malloc((size_t)n * c->num_classes * sizeof *probs);
        if (!px || !probs || (text && !mask))
            st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for %d %s", n, text ? "texts" : "images");
    }
    if (st == LEVI_OK && text) {
        st = levi_text_tokenize(tx.tok, images, n, tx.seq_len, px, mask, NULL);
        if (st == LEVI_OK) st = levi_model_predict_tokens(m, px, mask, n, probs);
    } else if (st == LEVI_OK) {
        levi_preprocess pre;
        st = levi_preprocess_for_model(&pre, levi_model_preprocessor(m), model, c->channels, c->height, c->width,
                                       c->image_mean, c->image_std);
        for (int i = 0; st == LEVI_OK && i < n; i++)
            st = levi_image_preprocess(images[i], &pre, c->height, c->width, px + (size_t)i * chw);
        if (st == LEVI_OK) st = levi_model_predict_normalized(m, px, n, probs);
    }
    if (st == LEVI_OK) {
        int K = c->num_classes;
        const char *const *names = levi_model_class_names(m);
        cJSON *arr = json ? cJSON_CreateArray() : NULL;
        for (int i = 0; i < n; i++) {
            const float *p = probs + (size_t)i * K;
            int order[1000], t = (int)(top < K ? top : K);
            for (int r = 0; r < t; r++) {
                int best = -1;
                for (int k = 0; k < K; k++) {
                    int used = 0;
                    for (int q = 0; q < r; q++) used |= order[q] == k;
                    if (!used && (best < 0 || p[k] > p[best])) best = k;
                }
                order[r] = best;
            }
            if (!json) {
                printf("%s\t%s\t%.4f\n", images[i], names[order[0]], (double)p[order[0]]);
                continue;
            }
            cJSON *o = cJSON_CreateObject(), *ta = cJSON_CreateArray();
            cJSON_AddStringToObject(o, text ? "text" : "image", images[i]);
            cJSON_AddStringToObject(o, "class", names[order[0]]);
            cJSON_AddNumberToObject(o, "index", order[0]);
            cJSON_AddNumberToObject(o, "prob", p[order[0]]);
            for (int r = 0; r < t; r++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "class", names[order[r]]);
                cJSON_AddNumberToObject(e, "prob", p[order[r]]);
                cJSON_AddItemToArray(ta, e);
            }
            cJSON_AddItemToObject(o, "top", ta);
            cJSON_AddItemToArray(arr, o);
        }
        if (json) {
            char *s = cJSON_Print(arr);
            if (s) puts(s);
            free(s);
            cJSON_Delete(arr);
        }
    }
    int rc = st == LEVI_OK ? 0 : cli_fail(st);
    free(px);
    free(mask);
    free(probs);
    cli_text_close(&tx);
    free(images);
    levi_model_free(m);
    if (ctx) levi_ctx_destroy(ctx);
    return rc;
}
