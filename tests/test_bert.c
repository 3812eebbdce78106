/* BERT backbone against transformers' BertModel (golden files from
 * tools/golden_bert.py, float64 references): a tiny random BERT's hidden
 * states, mean-pooled taps and the gradient of every weight (full
 * fine-tuning), the token-id embedding and masked-mean ops against host
 * references, the backbone interface, bad configs; and, when the quick start
 * installed it ($LEVI_MINILM), all-MiniLM-L6-v2 end to end on 64 real
 * sentences: levi's tokenizer gives transformers' ids, and the hidden states
 * of every layer agree (<= 1e-4 relative). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "testutil.h"

static levi_ctx *CTX;

static void setup(void) {
    setenv("LEVI_CACHE_DIR", "off", 0);
    CTX = test_ctx();
}

static void teardown(void) {
    levi_ctx_destroy(CTX);
    CTX = NULL;
}

static const golden_array *gget(const golden_file *g, const char *name) {
    const golden_array *a = golden_get(g, name);
    ck_assert_msg(a != NULL, "golden array '%s' missing", name);
    return a;
}

static float *read_all(const levi_tensor *t, size_t n) {
    levi_tensor v = *t;
    v.numel = n;
    float *h = malloc(n * sizeof(float));
    ck_assert_levi_ok(levi_tensor_read(&v, h));
    return h;
}

/* |got - ref| <= rtol * max|ref| everywhere (NaN fails) */
static void expect_close(const char *what, const float *got, const float *ref, size_t n, double rtol) {
    test_diff d = test_diff_ff(got, ref, n, 0.0, rtol);
    if (getenv("LEVI_TEST_VERBOSE"))
        fprintf(stderr, "  %-14s worst |diff| / max|ref| = %.2e (tolerance %.0e)\n", what, d.worst / d.scale, rtol);
    test_check_close_f(what, got, ref, n, 0.0, rtol);
}

static levi_tensor upload(const golden_array *a) {
    levi_tensor t;
    ck_assert_levi_ok(levi_tensor_alloc(&t, CTX, a->ndim, a->shape));
    ck_assert_levi_ok(levi_tensor_write(&t, a->data));
    return t;
}

START_TEST(tiny_bert_matches_transformers) {
    golden_file G;
    char path[1024], err[512];
    golden_path(path, sizeof path, "bert_tiny.bin");
    ck_assert_msg(golden_load(&G, path, err, sizeof err) == 0, "%s", err);
    golden_path(path, sizeof path, "bert_tiny");
    levi_bert *b;
    ck_assert_levi_ok(levi_bert_load(&b, CTX, path, 3, 8, LEVI_BACKBONE_FULL, 0));
    ck_assert_int_eq(levi_bert_get_config(b)->pooling, LEVI_POOL_MEAN);
    levi_tensor ids = upload(gget(&G, "ids")), mask = upload(gget(&G, "mask"));
    ck_assert_levi_ok(levi_bert_forward(b, &ids, &mask, 3));
    for (int l = 0; l <= 2; l++) {
        char name[32];
        snprintf(name, sizeof name, "hidden.%d", l);
        const golden_array *ref = gget(&G, name);
        levi_tensor h = levi_bert_hidden(b, l, 3);
        float *got = read_all(&h, ref->numel);
        expect_close(name, got, ref->data, ref->numel, 1e-4);
        free(got);
        snprintf(name, sizeof name, "tap.%d", l);
        ref = gget(&G, name);
        levi_tensor t = levi_bert_tap(b, l, 3);
        got = read_all(&t, ref->numel);
        expect_close(name, got, ref->data, ref->numel, 1e-4);
        free(got);
    }
    /* gradients of loss = <tap1, dtap1> + <tap2, dtap2> */
    levi_tensor d1 = upload(gget(&G, "dtap.1")), d2 = upload(gget(&G, "dtap.2"));
    const levi_tensor *dt[2] = {&d1, &d2};
    const int taps[2] = {1, 2};
    ck_assert_levi_ok(levi_bert_zero_grad(b));
    ck_assert_levi_ok(levi_bert_backward(b, dt, taps, 2, 3));
    int checked = 0;
    for (int i = 0; i < G.count; i++) {
        const golden_array *ref = &G.arrays[i];
        if (strncmp(ref->name, "g.", 2)) continue;
        levi_tensor p, g;
        ck_assert_levi_ok(levi_bert_find(b, ref->name + 2, &p, &g));
        ck_assert_ptr_nonnull(g.buf);
        float *got = read_all(&g, ref->numel);
        /* rtol 1e-3 of max(max|ref|, 1e-2): the key bias's gradient is zero in exact arithmetic */
        test_check_close_f(ref->name, got, ref->data, ref->numel, 1e-5, 1e-3);
        free(got);
        checked++;
    }
    ck_assert_int_eq(checked, 37);
    levi_tensor_free(&d1);
    levi_tensor_free(&d2);

    /* frozen and LoRA (B = 0) models give the same taps */
    const int modes[2][2] = {{LEVI_BACKBONE_FROZEN, 0}, {LEVI_BACKBONE_LORA, 4}};
    for (int k = 0; k < 2; k++) {
        levi_bert *f;
        ck_assert_levi_ok(levi_bert_load(&f, CTX, path, 3, 8, modes[k][0], modes[k][1]));
        ck_assert_levi_ok(levi_bert_forward(f, &ids, &mask, 3));
        const golden_array *ref = gget(&G, "tap.2");
        levi_tensor t = levi_bert_tap(f, 2, 3);
        float *got = read_all(&t, ref->numel);
        expect_close(k ? "tap.2 (LoRA)" : "tap.2 (frozen)", got, ref->data, ref->numel, 1e-4);
        free(got);
        levi_bert_free(f);
    }
    levi_tensor_free(&ids);
    levi_tensor_free(&mask);
    levi_bert_free(b);
    golden_free(&G);
}
END_TEST

START_TEST(backbone_interface) {
    char path[1024];
    golden_path(path, sizeof path, "bert_tiny");
    levi_bert *b;
    ck_assert_levi_ok(levi_bert_load(&b, CTX, path, 2, 8, LEVI_BACKBONE_LORA, 2));
    levi_backbone *bb;
    ck_assert_levi_ok(levi_backbone_from_bert(&bb, CTX, b));
    const levi_backbone_desc *d = levi_backbone_get_desc(bb);
    ck_assert_int_eq(d->hidden, 32);
    ck_assert_int_eq(d->depth, 2);
    ck_assert_int_eq(d->input.kind, LEVI_INPUT_TOKENS);
    ck_assert_int_eq(d->input.seq_len, 8);
    ck_assert_str_eq(levi_backbone_kind(bb), "bert");
    char *cfg = levi_backbone_config_text(bb);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_nonnull(strstr(cfg, "\"seq_len\""));
    levi_backbone *bb2;
    ck_assert_levi_ok(levi_backbone_from_config(&bb2, CTX, "bert", cfg, "mem", 2, LEVI_BACKBONE_FROZEN, 0));
    ck_assert_int_eq(levi_backbone_get_desc(bb2)->input.seq_len, 8);
    size_t lora = 0;
    ck_assert_uint_gt(levi_backbone_num_params(bb, &lora), 10000);
    ck_assert_uint_eq(lora, 2 * 2 * 2 * 2 * 32);
    free(cfg);
    levi_backbone_free(bb2);
    levi_backbone_free(bb);
}
END_TEST

/* embedding lookup and masked mean against host loops */
START_TEST(ops_against_host) {
    const int B = 2, T = 5, D = 7, V = 11;
    float ids[10] = {3, 0, 10, 3, 3, 7, 11, -1, 2, 3}, mask[10] = {1, 1, 1, 0, 0, 1, 1, 1, 1, 1};
    float table[77], pos[35], add[7], dout[70];
    test_fill_uniform(table, 77, 1, -1, 1);
    test_fill_uniform(pos, 35, 2, -1, 1);
    test_fill_uniform(add, 7, 3, -1, 1);
    test_fill_uniform(dout, 70, 4, -1, 1);
    levi_tensor tid, ttab, tpos, tadd, tout, tdout, tmask, tmean, tdtab, tdpos, tdadd, tdin;
    ck_assert_levi_ok(levi_tensor_alloc2(&tid, CTX, B, T));
    ck_assert_levi_ok(levi_tensor_alloc2(&tmask, CTX, B, T));
    ck_assert_levi_ok(levi_tensor_alloc2(&ttab, CTX, V, D));
    ck_assert_levi_ok(levi_tensor_alloc2(&tpos, CTX, T, D));
    ck_assert_levi_ok(levi_tensor_alloc1(&tadd, CTX, D));
    ck_assert_levi_ok(levi_tensor_alloc2(&tout, CTX, B * T, D));
    ck_assert_levi_ok(levi_tensor_alloc2(&tdout, CTX, B * T, D));
    ck_assert_levi_ok(levi_tensor_alloc2(&tmean, CTX, B, D));
    ck_assert_levi_ok(levi_tensor_alloc2(&tdtab, CTX, V, D));
    ck_assert_levi_ok(levi_tensor_alloc2(&tdpos, CTX, T, D));
    ck_assert_levi_ok(levi_tensor_alloc1(&tdadd, CTX, D));
    ck_assert_levi_ok(levi_tensor_alloc2(&tdin, CTX, B * T, D));
    ck_assert_levi_ok(levi_tensor_write(&tid, ids));
    ck_assert_levi_ok(levi_tensor_write(&tmask, mask));
    ck_assert_levi_ok(levi_tensor_write(&ttab, table));
    ck_assert_levi_ok(levi_tensor_write(&tpos, pos));
    ck_assert_levi_ok(levi_tensor_write(&tadd, add));
    ck_assert_levi_ok(levi_tensor_write(&tdout, dout));
    ck_assert_levi_ok(levi_embedding_forward(CTX, &tout, &tid, &ttab, &tpos, &tadd, B, T, D, V));
    ck_assert_levi_ok(levi_tensor_zero(&tdtab));
    ck_assert_levi_ok(levi_tensor_zero(&tdpos));
    ck_assert_levi_ok(levi_tensor_zero(&tdadd));
    ck_assert_levi_ok(levi_embedding_backward(CTX, &tdtab, &tdpos, &tdadd, &tdout, &tid, B, T, D, V));
    ck_assert_levi_ok(levi_masked_mean_tokens_forward(CTX, &tmean, &tout, &tmask, B, T, D));
    ck_assert_levi_ok(levi_tensor_zero(&tdin));
    ck_assert_levi_ok(levi_masked_mean_tokens_backward(CTX, &tdin, &tmean, &tmask, B, T, D));
    double out[70], dtab[77] = {0}, dpos[35] = {0}, dadd[7] = {0}, mean[14] = {0}, din[70];
    for (int r = 0; r < B * T; r++) {
        int id = (int)ids[r], t = r % T, b = r / T;
        double n = 0;
        for (int k = 0; k < T; k++) n += mask[b * T + k];
        for (int d = 0; d < D; d++) {
            out[r * D + d] = (id >= 0 && id < V ? table[id * D + d] : 0.0) + pos[t * D + d] + add[d];
            if (id >= 0 && id < V) dtab[id * D + d] += dout[r * D + d];
            dpos[t * D + d] += dout[r * D + d];
            dadd[d] += dout[r * D + d];
            mean[b * D + d] += mask[r] * out[r * D + d] / n;
        }
    }
    for (int r = 0; r < B * T; r++) {
        int b = r / T;
        double n = 0;
        for (int k = 0; k < T; k++) n += mask[b * T + k];
        for (int d = 0; d < D; d++) din[r * D + d] = mask[r] * mean[b * D + d] / n;
    }
    const struct {
        const char *what;
        levi_tensor *t;
        double *ref;
        size_t n;
    } checks[] = {{"embedding out", &tout, out, 70}, {"dtable", &tdtab, dtab, 77}, {"dpos", &tdpos, dpos, 35},
                  {"dadd", &tdadd, dadd, 7},        {"masked mean", &tmean, mean, 14}, {"dmean", &tdin, din, 70}};
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        float *got = read_all(checks[i].t, checks[i].n);
        test_check_close(checks[i].what, got, checks[i].ref, checks[i].n, 1e-6, 1e-5);
        free(got);
    }
    levi_tensor *all[] = {&tid, &ttab, &tpos, &tadd, &tout, &tdout, &tmask, &tmean, &tdtab, &tdpos, &tdadd, &tdin};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) levi_tensor_free(all[i]);
}
END_TEST

/* Rademacher projection of tools/golden_bert.py: R[i][j] = ±1/sqrt(D) */
static double proj_entry(int i, int j, int D) {
    unsigned long long s = (unsigned long long)i * 8 + (unsigned long long)j;
    return ((levi_splitmix64(&s) >> 63) ? 1.0 : -1.0) / sqrt((double)D);
}

START_TEST(minilm_matches_transformers) {
    const char *dir = getenv("LEVI_MINILM");
    if (!dir) {
        fprintf(stderr, "minilm_matches_transformers: skipped, LEVI_MINILM is not set\n");
        return;
    }
    golden_file G;
    char path[1024], err[512];
    golden_path(path, sizeof path, "minilm_hidden.bin");
    ck_assert_msg(golden_load(&G, path, err, sizeof err) == 0, "%s", err);
    const golden_array *gi = gget(&G, "ids");
    const int B = gi->shape[0], T = gi->shape[1];
    levi_bert *b;
    ck_assert_levi_ok(levi_bert_load(&b, CTX, dir, B, T, LEVI_BACKBONE_FROZEN, 0));
    const int D = levi_bert_get_config(b)->hidden_size, L = levi_bert_get_config(b)->num_hidden_layers;
    ck_assert_int_eq(levi_bert_get_config(b)->pooling, LEVI_POOL_MEAN);
    /* end to end: levi's tokenizer gives transformers' ids for the sentences */
    const golden_array *gt = gget(&G, "text");
    char *text = malloc(gt->numel + 1);
    const char *sent[256];
    int n = 0;
    for (size_t i = 0; i < gt->numel; i++) text[i] = (char)(int)gt->data[i];
    for (size_t i = 0; i < gt->numel && n < 256; i += strlen(text + i) + 1) sent[n++] = text + i;
    ck_assert_int_eq(n, B);
    levi_tokenizer *tok;
    ck_assert_levi_ok(levi_tokenizer_load(&tok, dir));
    float *hid = malloc((size_t)B * T * sizeof(float)), *hmask = malloc((size_t)B * T * sizeof(float));
    int truncated = -1;
    ck_assert_levi_ok(levi_text_tokenize(tok, sent, B, T, hid, hmask, &truncated));
    const golden_array *gm = gget(&G, "mask");
    for (int i = 0; i < B * T; i++)
        ck_assert_msg(hid[i] == gi->data[i] && hmask[i] == gm->data[i], "sentence %d token %d: id %g mask %g, "
                      "transformers %g %g", i / T, i % T, hid[i], hmask[i], gi->data[i], gm->data[i]);
    levi_tokenizer_free(tok);
    free(text);
    levi_tensor ids, mask;
    ck_assert_levi_ok(levi_tensor_alloc2(&ids, CTX, B, T));
    ck_assert_levi_ok(levi_tensor_alloc2(&mask, CTX, B, T));
    ck_assert_levi_ok(levi_tensor_write(&ids, hid));
    ck_assert_levi_ok(levi_tensor_write(&mask, hmask));
    free(hid);
    free(hmask);
    ck_assert_levi_ok(levi_bert_forward(b, &ids, &mask, B));
    float *proj = malloc((size_t)B * T * 8 * sizeof(float));
    for (int l = 0; l <= L; l++) {
        levi_tensor h = levi_bert_hidden(b, l, B), tap = levi_bert_tap(b, l, B);
        float *hv = read_all(&h, (size_t)B * T * D), *tv = read_all(&tap, (size_t)B * D);
        char name[32];
        for (int k = 0; k < 2; k++) {
            const int rows = k ? B : B * T;
            const float *src = k ? tv : hv;
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < 8; j++) {
                    double s = 0;
                    for (int i = 0; i < D; i++) s += (double)src[(size_t)r * D + i] * proj_entry(i, j, D);
                    proj[r * 8 + j] = (float)s;
                }
            snprintf(name, sizeof name, k ? "tapproj.%d" : "proj.%d", l);
            const golden_array *ref = gget(&G, name);
            ck_assert_uint_eq(ref->numel, (size_t)rows * 8);
            expect_close(name, proj, ref->data, ref->numel, 1e-4);
        }
        free(hv);
        free(tv);
    }
    free(proj);
    levi_tensor_free(&ids);
    levi_tensor_free(&mask);
    levi_bert_free(b);
    golden_free(&G);
}
END_TEST

START_TEST(rejects_bad_configs) {
    levi_bert_config c;
    ck_assert_int_eq(levi_bert_config_parse(&c, "{\"model_type\": \"roberta\", \"vocab_size\": 5}", "cfg"),
                     LEVI_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "model_type 'roberta'"));
    const char *base = "{\"model_type\": \"bert\", \"vocab_size\": 50, \"hidden_size\": 32, \"num_hidden_layers\": 2,"
                       " \"num_attention_heads\": 4, \"intermediate_size\": 64%s}";
    char buf[512];
    snprintf(buf, sizeof buf, base, ", \"hidden_act\": \"relu\"");
    ck_assert_int_eq(levi_bert_config_parse(&c, buf, "cfg"), LEVI_ERR_UNSUPPORTED);
    ck_assert_int_eq(levi_bert_config_parse(&c, "{\"vocab_size\": 50, \"hidden_size\": 30, \"num_hidden_layers\": 2,"
                                                " \"num_attention_heads\": 4, \"intermediate_size\": 64}", "cfg"),
                     LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "num_attention_heads"));
    snprintf(buf, sizeof buf, base, "");
    ck_assert_levi_ok(levi_bert_config_parse(&c, buf, "cfg"));
    levi_bert *b;
    ck_assert_int_eq(levi_bert_create(&b, CTX, &c, 2, 600, 0, 0), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "seq_len"));
    ck_assert_int_eq(levi_bert_create(&b, CTX, &c, 2, 8, LEVI_BACKBONE_LORA, 0), LEVI_ERR_INVALID_ARG);
}
END_TEST

int main(void) {
    Suite *s = suite_create("bert");
    int device = test_have_device();
    TCase *t = tcase_create("bert");
    tcase_set_timeout(t, 300);
    if (device) {
        tcase_add_checked_fixture(t, setup, teardown);
        tcase_add_test(t, tiny_bert_matches_transformers);
        tcase_add_test(t, backbone_interface);
        tcase_add_test(t, ops_against_host);
        tcase_add_test(t, minilm_matches_transformers);
        tcase_add_test(t, rejects_bad_configs);
    }
    suite_add_tcase(s, t);
    return test_finish(s, device);
}
