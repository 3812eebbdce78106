/* Text through the model: the hashed n-gram op against the host, the ngram
 * task model's forward against a host reference and its backward against
 * central finite differences, every method on a tiny random BERT, the
 * tokenizer kept in the model file (save → load → same logits, same ids),
 * token data sets through the feed and levi_train (the feature cache of a
 * frozen BERT included), and the configurations that must be refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "levi/levi.h"
#include "testutil.h"

enum { B = 5, T = 7, K = 3, NB = 61, E = 6, HZ = 9, V = 40 };

static levi_ctx *g_ctx;

/* ids in [0, V) with masks of lengths 2..T ([CLS] ... [SEP] then padding). */
static void tokens(float *ids, float *mask, int n, unsigned seed) {
    unsigned long long r = seed * 7919ULL + 1;
    for (int b = 0; b < n; b++) {
        int len = 2 + (int)((unsigned)(b * 5 + seed) % (T - 1));
        for (int t = 0; t < T; t++) {
            ids[b * T + t] = t < len ? (float)(levi_splitmix64(&r) % V) : 0.0f;
            mask[b * T + t] = t < len ? 1.0f : 0.0f;
        }
    }
}

static void text_config(levi_model_config *c, levi_method method) {
    levi_model_config_default(c, method);
    c->num_classes = K;
    c->input = LEVI_INPUT_TOKENS;
    c->seq_len = T;
    c->task.kind = LEVI_TASK_NGRAM;
    c->task.hidden = HZ;
    c->task.buckets = NB;
    c->task.embed = E;
    c->adapter_hidden = 8;
    c->lora_rank = 2;
    c->seed = 5;
}

static levi_backbone *tiny_bert(int mode, int rank) {
    levi_bert_config bc = {.vocab_size = V, .hidden_size = 8, .num_hidden_layers = 2, .num_attention_heads = 2,
                           .intermediate_size = 16, .max_position_embeddings = 16, .type_vocab_size = 2,
                           .layer_norm_eps = 1e-12f, .pooling = LEVI_POOL_MEAN};
    levi_bert *b;
    ck_assert_levi_ok(levi_bert_create(&b, g_ctx, &bc, B, T, mode, rank));
    ck_assert_levi_ok(levi_bert_init_random(b, 3));
    levi_backbone *bb;
    ck_assert_levi_ok(levi_backbone_from_bert(&bb, g_ctx, b));
    return bb;
}

static levi_model *text_model(levi_method method, levi_fusion fusion) {
    levi_model_config mc;
    text_config(&mc, method);
    mc.fusion = fusion;
    int mode = levi_method_backbone_mode(method);
    levi_model *m;
    ck_assert_levi_ok(levi_model_create(&m, g_ctx, &mc, mode < 0 ? NULL : tiny_bert(mode, mode == LEVI_BACKBONE_LORA ? 2 : 0), B));
    return m;
}

/* Upload a batch into the model's own staging and return it as an input. */
static levi_input upload(levi_model *m, const float *ids, const float *mask, const float *y, levi_tensor *lab) {
    levi_input in = {levi_model_input_pixels(m, B), levi_model_input_mask(m, B)};
    ck_assert_levi_ok(levi_tensor_write(&in.x, ids));
    ck_assert_levi_ok(levi_tensor_write(&in.mask, mask));
    *lab = levi_model_input_labels(m, B);
    ck_assert_levi_ok(levi_tensor_write(lab, y));
    return in;
}

START_TEST(ngram_hash_matches_the_host) {
    float ids[B * T], mask[B * T], hid[2 * B * T], hm[2 * B * T];
    tokens(ids, mask, B, 1);
    levi_tensor ti, tm, th, thm;
    ck_assert_levi_ok(levi_tensor_alloc2(&ti, g_ctx, B, T));
    ck_assert_levi_ok(levi_tensor_alloc2(&tm, g_ctx, B, T));
    ck_assert_levi_ok(levi_tensor_alloc2(&th, g_ctx, B, 2 * T));
    ck_assert_levi_ok(levi_tensor_alloc2(&thm, g_ctx, B, 2 * T));
    ck_assert_levi_ok(levi_tensor_write(&ti, ids));
    ck_assert_levi_ok(levi_tensor_write(&tm, mask));
    ck_assert_levi_ok(levi_ngram_hash(g_ctx, &th, &thm, &ti, &tm, B, T, NB));
    ck_assert_levi_ok(levi_tensor_read(&th, hid));
    ck_assert_levi_ok(levi_tensor_read(&thm, hm));
    int used = 0;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < 2 * T; j++) {
            int t = j < T ? j : j - T, a = (int)ids[b * T + t];
            int valid = mask[b * T + t] > 0 && (j < T || (t + 1 < T && mask[b * T + t + 1] > 0));
            int want = !valid ? -1 : levi_ngram_hash_host(a, j < T ? -1 : (int)ids[b * T + t + 1], NB);
            ck_assert_msg((int)hid[b * 2 * T + j] == want && hm[b * 2 * T + j] == (valid ? 1.0f : 0.0f),
                          "row %d column %d: id %g mask %g, expected %d", b, j, (double)hid[b * 2 * T + j],
                          (double)hm[b * 2 * T + j], want);
            used += valid;
        }
    ck_assert_int_gt(used, B);
    /* a bigram is not its first token's unigram, and order matters */
    ck_assert_int_ne(levi_ngram_hash_host(3, 5, 1 << 20), levi_ngram_hash_host(5, 3, 1 << 20));
    ck_assert_int_ne(levi_ngram_hash_host(3, -1, 1 << 20), levi_ngram_hash_host(3, 0, 1 << 20));
    levi_tensor_free(&ti);
    levi_tensor_free(&tm);
    levi_tensor_free(&th);
    levi_tensor_free(&thm);
}
END_TEST

/* A parameter of the head by name, on the host (malloc'ed). */
static float *head_param(levi_model *m, const char *name, size_t *n) {
    levi_params *p = levi_model_head_params(m);
    for (int i = 0; i < p->count; i++)
        if (!strcmp(p->list[i].name, name)) {
            levi_tensor t = levi_params_value(p, i);
            float *h = malloc(t.numel * sizeof *h);
            ck_assert_levi_ok(levi_tensor_read(&t, h));
            *n = t.numel;
            return h;
        }
    ck_abort_msg("no head parameter %s", name);
    return NULL;
}

/* scratch = ngram task model + linear head: logits against the host's
 * bag → fc1 → ReLU → head, then every gradient's largest entries against
 * central differences of the loss. */
START_TEST(ngram_forward_and_finite_differences) {
    levi_model *m = text_model(LEVI_METHOD_SCRATCH, LEVI_FUSION_CONCAT);
    ck_assert_int_eq(levi_model_get_config(m)->task.kind, LEVI_TASK_NGRAM);
    float ids[B * T], mask[B * T], y[B] = {0, 1, 2, 1, 0};
    tokens(ids, mask, B, 2);
    levi_tensor lab;
    levi_input in = upload(m, ids, mask, y, &lab);
    float loss;
    ck_assert_levi_ok(levi_model_zero_grad(m));
    ck_assert_levi_ok(levi_model_forward_input(m, &in, NULL, &lab, B, &loss, NULL));
    ck_assert_levi_ok(levi_model_backward(m, B));
    /* host reference of the logits */
    size_t n;
    float *emb = head_param(m, "g.embed.weight", &n), *w1 = head_param(m, "g.fc1.weight", &n);
    float *b1 = head_param(m, "g.fc1.bias", &n), *wa = head_param(m, "adapter0.fc1.weight", &n);
    float *ba = head_param(m, "adapter0.fc1.bias", &n);
    double ref[B * K];
    for (int b = 0; b < B; b++) {
        double bag[E] = {0}, z[HZ];
        int cnt = 0;
        for (int j = 0; j < 2 * T; j++) {
            int t = j < T ? j : j - T;
            if (!(mask[b * T + t] > 0) || (j >= T && !(t + 1 < T && mask[b * T + t + 1] > 0))) continue;
            int h = levi_ngram_hash_host((int)ids[b * T + t], j < T ? -1 : (int)ids[b * T + t + 1], NB);
            for (int e = 0; e < E; e++) bag[e] += emb[h * E + e];
            cnt++;
        }
        for (int e = 0; e < E; e++) bag[e] /= cnt;
        for (int o = 0; o < HZ; o++) {
            double a = b1[o];
            for (int e = 0; e < E; e++) a += (double)w1[o * E + e] * bag[e];
            z[o] = a > 0 ? a : 0;
        }
        for (int k = 0; k < K; k++) {
            double a = ba[k];
            for (int o = 0; o < HZ; o++) a += (double)wa[k * HZ + o] * z[o];
            ref[b * K + k] = a;
        }
    }
    float logits[B * K];
    levi_tensor lg = levi_model_logits(m, B);
    ck_assert_levi_ok(levi_tensor_read(&lg, logits));
    test_check_close("scratch on tokens: logits vs host", logits, ref, B * K, 1e-5, 1e-4);
    free(emb);
    free(w1);
    free(b1);
    free(wa);
    free(ba);
    /* gradients of every head parameter vs central differences */
    levi_grad_group g;
    ck_assert_int_eq(levi_model_grad_groups(m, &g, 1), 1);
    n = g.params.numel;
    float *p = malloc(n * sizeof *p), *gr = malloc(n * sizeof *gr);
    ck_assert_levi_ok(levi_tensor_read(&g.params, p));
    ck_assert_levi_ok(levi_tensor_read(&g.grads, gr));
    levi_params *hp = levi_model_head_params(m);
    int checked_emb = 0, checked = 0;
    for (int pi = 0; pi < hp->count; pi++) {
        const levi_param *prm = &hp->list[pi];
        for (int r = 0; r < 4; r++) { /* the largest gradients of each parameter */
            size_t j = prm->offset;
            for (size_t i = prm->offset; i < prm->offset + prm->numel; i++)
                if (fabsf(gr[i]) > fabsf(gr[j])) j = i;
            double gj = gr[j];
            gr[j] = 0;
            if (fabs(gj) < 1e-5) break;
            const float eps = 2e-3f; /* small: a ReLU unit near 0 must not flip */
            float saved = p[j], lp, lm;
            p[j] = saved + eps;
            ck_assert_levi_ok(levi_tensor_write(&g.params, p));
            ck_assert_levi_ok(levi_model_forward_input(m, &in, NULL, &lab, B, &lp, NULL));
            p[j] = saved - eps;
            ck_assert_levi_ok(levi_tensor_write(&g.params, p));
            ck_assert_levi_ok(levi_model_forward_input(m, &in, NULL, &lab, B, &lm, NULL));
            p[j] = saved;
            ck_assert_levi_ok(levi_tensor_write(&g.params, p));
            /* a ReLU unit that flips within ±eps makes the two one-sided slopes differ: not comparable */
            double up = ((double)lp - loss) / eps, down = ((double)loss - lm) / eps;
            if (fabs(up - down) > 0.1 * fmax(fabs(up), fabs(down)) + 2e-4) continue;
            char what[160];
            snprintf(what, sizeof what, "%s[%zu]: finite difference vs gradient", prm->name, j - prm->offset);
            test_check_value(what, ((double)lp - lm) / (2.0 * eps), gj, 1e-4, 2e-2);
            checked++;
            checked_emb += !strcmp(prm->name, "g.embed.weight");
        }
    }
    ck_assert_int_ge(checked_emb, 2);
    ck_assert_int_ge(checked, 8);
    free(p);
    free(gr);
    levi_model_free(m);
}
END_TEST

/* Every method trains on token input: the loss of a fixed batch falls. */
START_TEST(every_method_learns_on_tokens) {
    const struct {
        levi_method method;
        levi_fusion fusion;
    } cases[] = {{LEVI_METHOD_SCRATCH, LEVI_FUSION_CONCAT}, {LEVI_METHOD_LP, LEVI_FUSION_CONCAT},
                 {LEVI_METHOD_FT, LEVI_FUSION_CONCAT},      {LEVI_METHOD_LORA, LEVI_FUSION_CONCAT},
                 {LEVI_METHOD_LEVI, LEVI_FUSION_CONCAT},    {LEVI_METHOD_LEVI, LEVI_FUSION_ENSEMBLE},
                 {LEVI_METHOD_LEVI_LORA, LEVI_FUSION_CONCAT}};
    float ids[B * T], mask[B * T], y[B] = {0, 1, 2, 1, 0};
    tokens(ids, mask, B, 3);
    levi_adamw_cfg opt = {2e-2f, 0.9f, 0.999f, 1e-8f, 0.0f};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        levi_model *m = text_model(cases[c].method, cases[c].fusion);
        ck_assert_int_eq(levi_model_input_spec(m)->kind, LEVI_INPUT_TOKENS);
        levi_tensor lab;
        levi_input in = upload(m, ids, mask, y, &lab);
        float first = 0, last = 0;
        for (int t = 1; t <= 30; t++) {
            ck_assert_levi_ok(levi_model_zero_grad(m));
            ck_assert_levi_ok(levi_model_forward_input(m, &in, NULL, &lab, B, &last, NULL));
            if (t == 1) first = last;
            ck_assert_levi_ok(levi_model_backward(m, B));
            ck_assert_levi_ok(levi_model_step(m, &opt, t, 1.0f, NULL));
        }
        ck_assert_msg(isfinite(last) && last < 0.7f * first, "%s: loss %g -> %g",
                      levi_method_name(cases[c].method), (double)first, (double)last);
        levi_model_free(m);
    }
}
END_TEST

/* A tiny vocabulary: [PAD] [UNK] [CLS] [SEP] [MASK] then words. */
static levi_tokenizer *tiny_tokenizer(void) {
    static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nfont\nfonts\n-\npython\n##3\nmodule\n"
                                "for\nsound\ngame\n,\n:\n";
    levi_tokenizer_options o;
    levi_tokenizer_defaults(&o);
    o.max_length = 32;
    levi_tokenizer *t;
    ck_assert_levi_ok(levi_tokenizer_create(&t, vocab, sizeof vocab - 1, "tiny vocab", &o));
    return t;
}

static void same_ids(const levi_tokenizer *a, const levi_tokenizer *b, const char *text) {
    int32_t ia[64], ib[64];
    int na, nb;
    ck_assert_levi_ok(levi_tokenizer_encode(a, text, strlen(text), 64, ia, &na));
    ck_assert_levi_ok(levi_tokenizer_encode(b, text, strlen(text), 64, ib, &nb));
    ck_assert_int_eq(na, nb);
    for (int i = 0; i < na; i++) ck_assert_int_eq(ia[i], ib[i]);
}

START_TEST(tokenizer_json_round_trip) {
    levi_tokenizer *t = tiny_tokenizer(), *u = NULL;
    char *js = levi_tokenizer_json(t);
    ck_assert_ptr_nonnull(js);
    ck_assert_levi_ok(levi_tokenizer_from_json(&u, js, "mem"));
    const char *texts[] = {"python3-module: the fonts for the game", "Sound, FONT: [MASK] unknown words", ""};
    for (int i = 0; i < 3; i++) same_ids(t, u, texts[i]);
    ck_assert_int_eq(levi_tokenizer_max_length(u), 32);
    char *js2 = levi_tokenizer_json(u);
    ck_assert_str_eq(js, js2);
    free(js2);
    levi_tokenizer_free(u);
    /* bad input names the field */
    ck_assert_int_eq(levi_tokenizer_from_json(&u, "{\"format\": 1}", "mem"), LEVI_ERR_FORMAT);
    ck_assert_msg(strstr(levi_last_error(), "vocab"), "%s", levi_last_error());
    ck_assert_int_eq(levi_tokenizer_from_json(&u, "[1]", "mem"), LEVI_ERR_FORMAT);
    ck_assert_ptr_null(u);
    free(js);
    /* the real one, when the quick start installed it */
    const char *minilm = getenv("LEVI_MINILM");
    if (minilm && *minilm) {
        levi_tokenizer_free(t);
        ck_assert_levi_ok(levi_tokenizer_load(&t, minilm));
        js = levi_tokenizer_json(t);
        ck_assert_ptr_nonnull(js);
        ck_assert_levi_ok(levi_tokenizer_from_json(&u, js, "mem"));
        same_ids(t, u, "python3-hkdf: HMAC-based Extract-and-Expand Key Derivation Function (HKDF)");
        same_ids(t, u, "Café [SEP] naïve 日本語 über");
        levi_tokenizer_free(u);
        free(js);
    }
    levi_tokenizer_free(t);
}
END_TEST

/* A levi model on a BERT with its tokenizer: save, load, same logits, same
 * configuration, the tokenizer back; predict on tokens gives its softmax. */
START_TEST(save_load_text_model) {
    levi_model *m = text_model(LEVI_METHOD_LEVI, LEVI_FUSION_ENSEMBLE);
    levi_tokenizer *tok = tiny_tokenizer();
    char *js = levi_tokenizer_json(tok);
    ck_assert_levi_ok(levi_model_set_tokenizer(m, js));
    const char *names[K] = {"fonts", "python", "sound"};
    ck_assert_levi_ok(levi_model_set_class_names(m, names, K));
    float ids[B * T], mask[B * T], y[B] = {0, 1, 2, 1, 0}, l1[B * K], l2[B * K], probs[B * K];
    tokens(ids, mask, B, 4);
    levi_tensor lab;
    levi_input in = upload(m, ids, mask, y, &lab);
    ck_assert_levi_ok(levi_model_forward_input(m, &in, NULL, NULL, B, NULL, NULL));
    levi_tensor lg = levi_model_logits(m, B);
    ck_assert_levi_ok(levi_tensor_read(&lg, l1));
    char *dir = test_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/text.safetensors", dir);
    ck_assert_levi_ok(levi_model_save(m, path, NULL, 0, 0));
    levi_model *m2;
    ck_assert_levi_ok(levi_model_load(&m2, g_ctx, path, B, 0));
    const levi_model_config *c2 = levi_model_get_config(m2);
    ck_assert_int_eq(c2->input, LEVI_INPUT_TOKENS);
    ck_assert_int_eq(c2->seq_len, T);
    ck_assert_int_eq(c2->task.kind, LEVI_TASK_NGRAM);
    ck_assert_int_eq(c2->task.buckets, NB);
    ck_assert_int_eq(c2->task.embed, E);
    ck_assert_int_eq(c2->fusion, LEVI_FUSION_ENSEMBLE);
    ck_assert_str_eq(levi_backbone_kind(levi_model_backbone(m2)), "bert");
    ck_assert_str_eq(levi_model_tokenizer(m2), js);
    ck_assert_str_eq(levi_model_class_names(m2)[1], "python");
    in = upload(m2, ids, mask, y, &lab);
    ck_assert_levi_ok(levi_model_forward_input(m2, &in, NULL, NULL, B, NULL, NULL));
    lg = levi_model_logits(m2, B);
    ck_assert_levi_ok(levi_tensor_read(&lg, l2));
    test_check_close_f("logits after save and load", l2, l1, B * K, 0, 0);
    ck_assert_levi_ok(levi_model_predict_tokens(m2, ids, mask, B, probs));
    for (int b = 0; b < B; b++) {
        double mx = l1[b * K], s = 0, ref[K];
        for (int k = 1; k < K; k++) mx = fmax(mx, l1[b * K + k]);
        for (int k = 0; k < K; k++) s += exp(l1[b * K + k] - mx);
        for (int k = 0; k < K; k++) ref[k] = exp(l1[b * K + k] - mx) / s;
        test_check_close("predict_tokens: softmax of the logits", probs + b * K, ref, K, 1e-6, 1e-5);
    }
    /* pixels to a token model are refused */
    float img[4] = {0};
    ck_assert_int_eq(levi_model_predict(m2, img, 1, probs), LEVI_ERR_UNSUPPORTED);
    /* a scratch text model keeps its input view without a backbone */
    levi_model_free(m2);
    levi_model_free(m);
    m = text_model(LEVI_METHOD_SCRATCH, LEVI_FUSION_CONCAT);
    ck_assert_levi_ok(levi_model_save(m, path, NULL, 0, 0));
    ck_assert_levi_ok(levi_model_load(&m2, g_ctx, path, B, 1));
    ck_assert_int_eq(levi_model_input_spec(m2)->kind, LEVI_INPUT_TOKENS);
    ck_assert_int_eq(levi_model_input_spec(m2)->seq_len, T);
    ck_assert_ptr_null(levi_model_tokenizer(m2));
    levi_model_free(m2);
    levi_model_free(m);
    remove(path);
    remove(dir);
    free(dir);
    free(js);
    levi_tokenizer_free(tok);
}
END_TEST

START_TEST(refused_configurations) {
    levi_model_config mc;
    levi_model *m = NULL;
    /* a pixel task model on tokens, and ngram on images */
    text_config(&mc, LEVI_METHOD_SCRATCH);
    mc.task.kind = LEVI_TASK_MLP;
    ck_assert_int_eq(levi_model_create(&m, g_ctx, &mc, NULL, B), LEVI_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(levi_last_error(), "ngram"), "%s", levi_last_error());
    text_config(&mc, LEVI_METHOD_LEVI);
    mc.task.kind = LEVI_TASK_CNN;
    ck_assert_int_eq(levi_model_create(&m, g_ctx, &mc, tiny_bert(LEVI_BACKBONE_FROZEN, 0), B), LEVI_ERR_UNSUPPORTED);
    levi_model_config_default(&mc, LEVI_METHOD_SCRATCH);
    mc.task.kind = LEVI_TASK_NGRAM;
    ck_assert_int_eq(levi_model_create(&m, g_ctx, &mc, NULL, B), LEVI_ERR_UNSUPPORTED);
    text_config(&mc, LEVI_METHOD_SCRATCH);
    mc.seq_len = 0;
    ck_assert_int_eq(levi_model_create(&m, g_ctx, &mc, NULL, B), LEVI_ERR_INVALID_ARG);
    text_config(&mc, LEVI_METHOD_SCRATCH);
    mc.task.buckets = 0;
    ck_assert_int_eq(levi_model_create(&m, g_ctx, &mc, NULL, B), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_null(m);
    /* a data set of the wrong kind or length */
    m = text_model(LEVI_METHOD_SCRATCH, LEVI_FUSION_CONCAT);
    levi_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.kind = LEVI_INPUT_TOKENS;
    ds.n = 4;
    ds.seq_len = T + 1;
    ds.num_classes = K;
    ck_assert_int_eq(levi_train_check_dataset(m, &ds, "the texts"), LEVI_ERR_SHAPE);
    ck_assert_msg(strstr(levi_last_error(), "tokens"), "%s", levi_last_error());
    ds.kind = LEVI_INPUT_PIXELS;
    ds.channels = 1;
    ds.height = ds.width = 8;
    ck_assert_int_eq(levi_train_check_dataset(m, &ds, "the images"), LEVI_ERR_SHAPE);
    levi_model_free(m);
}
END_TEST

/* n texts of random ids; labels cycle through the classes. */
static levi_dataset token_set(int n) {
    static char *names[K] = {"a", "b", "c"};
    levi_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.kind = LEVI_INPUT_TOKENS;
    ds.n = n;
    ds.seq_len = T;
    ds.num_classes = K;
    ds.class_names = names;
    ds.tokens = malloc((size_t)n * T * sizeof *ds.tokens);
    ds.mask = malloc((size_t)n * T);
    ds.labels = malloc((size_t)n * sizeof *ds.labels);
    float ids[T], mask[T];
    for (int i = 0; i < n; i++) {
        tokens(ids, mask, 1, (unsigned)i + 10);
        ds.labels[i] = i % K;
        ids[1] = (float)(5 + ds.labels[i]); /* a token that gives the class away */
        for (int t = 0; t < T; t++) {
            ds.tokens[i * T + t] = (int)ids[t];
            ds.mask[i * T + t] = mask[t] > 0;
        }
    }
    return ds;
}

static void token_set_free(levi_dataset *ds) {
    free(ds->tokens);
    free(ds->mask);
    free(ds->labels);
}

/* levi_train and levi_evaluate on token data: scratch and levi learn the
 * giveaway token; the frozen BERT's feature cache gives what the backbone
 * computed every step gives. */
START_TEST(train_and_evaluate_token_data) {
    levi_dataset ds = token_set(40);
    levi_train_config tc;
    levi_train_config_default(&tc);
    tc.epochs = 12;
    tc.batch = B;
    tc.lr = 2e-2f;
    tc.val = &ds;
    levi_train_result r;
    levi_model *m = text_model(LEVI_METHOD_SCRATCH, LEVI_FUSION_CONCAT);
    ck_assert_levi_ok(levi_train(m, &ds, &tc, &r));
    ck_assert_msg(r.val_acc > 0.9, "scratch on tokens: validation accuracy %g", r.val_acc);
    levi_model_free(m);
    double acc[2];
    float logits[2][B * K];
    for (int cache = 0; cache < 2; cache++) {
        m = text_model(LEVI_METHOD_LEVI, LEVI_FUSION_CONCAT);
        tc.cache_features = cache;
        tc.epochs = 3;
        ck_assert_levi_ok(levi_train(m, &ds, &tc, &r));
        ck_assert_int_eq(r.cached_features, cache);
        acc[cache] = r.val_acc;
        levi_eval_result ev;
        ck_assert_levi_ok(levi_evaluate(m, &ds, &ev));
        ck_assert_int_eq(ev.n, ds.n);
        levi_eval_result_free(&ev);
        levi_feed *f;
        levi_batch b;
        ck_assert_levi_ok(levi_feed_create(&f, m, &ds, B, 0, 0, 0));
        ck_assert_levi_ok(levi_feed_epoch(f, 0));
        ck_assert_levi_ok(levi_feed_next(f, &b));
        ck_assert_ptr_nonnull(b.mask.buf);
        levi_input in = {b.x, b.mask};
        ck_assert_levi_ok(levi_model_forward_input(m, &in, NULL, NULL, b.n, NULL, NULL));
        levi_tensor lg = levi_model_logits(m, B);
        ck_assert_levi_ok(levi_tensor_read(&lg, logits[cache]));
        levi_feed_free(f);
        levi_model_free(m);
    }
    ck_assert_msg(fabs(acc[0] - acc[1]) < 1e-9, "validation accuracy %g without the cache, %g with it", acc[0],
                  acc[1]);
    test_check_close_f("logits trained with and without the feature cache", logits[1], logits[0], B * K, 1e-4, 1e-3);
    /* images to a text model are refused by the feed */
    m = text_model(LEVI_METHOD_SCRATCH, LEVI_FUSION_CONCAT);
    levi_dataset img;
    memset(&img, 0, sizeof img);
    img.n = 3;
    img.channels = 1;
    img.height = img.width = 2;
    levi_feed *f = NULL;
    ck_assert_int_eq(levi_feed_create(&f, m, &img, B, 0, 0, 0), LEVI_ERR_SHAPE);
    ck_assert_ptr_null(f);
    levi_model_free(m);
    token_set_free(&ds);
}
END_TEST

int main(void) {
    Suite *s = suite_create("text_model");
    TCase *tc = tcase_create("text");
    tcase_set_timeout(tc, 120);
    int device = test_have_device();
    if (device) {
        tcase_add_test(tc, ngram_hash_matches_the_host);
        tcase_add_test(tc, ngram_forward_and_finite_differences);
        tcase_add_test(tc, every_method_learns_on_tokens);
        tcase_add_test(tc, tokenizer_json_round_trip);
        tcase_add_test(tc, save_load_text_model);
        tcase_add_test(tc, refused_configurations);
        tcase_add_test(tc, train_and_evaluate_token_data);
    }
    suite_add_tcase(s, tc);
    levi_log_init();
    if (device && levi_ctx_open(&g_ctx, NULL) != LEVI_OK) {
        fprintf(stderr, "no context: %s\n", levi_last_error());
        return 1;
    }
    int rc = test_finish(s, device);
    if (g_ctx) levi_ctx_destroy(g_ctx);
    return rc;
}
