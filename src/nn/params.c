/* The parameter table (four arenas of one layout), linear layers on it, and
 * activation slices. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "levi/nn.h"
#include "levi/random.h"
#include "levi/safetensors.h"

void levi_params_init(levi_params *p, levi_ctx *ctx, int trainable) {
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->trainable = trainable;
    levi_arena_init(&p->params, ctx, "parameters");
    levi_arena_init(&p->grads, ctx, "gradients");
    levi_arena_init(&p->adam_m, ctx, "AdamW first moments");
    levi_arena_init(&p->adam_v, ctx, "AdamW second moments");
}

int levi_params_add(levi_params *p, const char *name, int ndim, const int *shape, float init_bound) {
    if (p->committed || ndim < 1 || ndim > LEVI_MAX_DIMS) return -1;
    if (p->count == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        levi_param *l = realloc(p->list, (size_t)cap * sizeof *l);
        if (!l) return -1;
        p->list = l;
        p->cap = cap;
    }
    levi_param *q = &p->list[p->count];
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s", name);
    q->ndim = ndim;
    q->numel = 1;
    for (int i = 0; i < ndim; i++) {
        q->shape[i] = shape[i];
        q->numel *= (size_t)shape[i];
    }
    q->init_bound = init_bound;
    q->offset = levi_arena_reserve(&p->params, q->numel);
    if (p->trainable) {
        levi_arena_reserve(&p->grads, q->numel);
        levi_arena_reserve(&p->adam_m, q->numel);
        levi_arena_reserve(&p->adam_v, q->numel);
    }
    return p->count++;
}

levi_status levi_params_commit(levi_params *p) {
    LEVI_TRY(levi_arena_commit(&p->params));
    if (p->trainable) {
        LEVI_TRY(levi_arena_commit(&p->grads));
        LEVI_TRY(levi_arena_commit(&p->adam_m));
        LEVI_TRY(levi_arena_commit(&p->adam_v));
    }
    p->committed = 1;
    return LEVI_OK;
}

levi_tensor levi_params_value(const levi_params *p, int idx) {
    const levi_param *q = &p->list[idx];
    return levi_arena_tensor(&p->params, q->offset, q->ndim, q->shape);
}

levi_tensor levi_params_grad(const levi_params *p, int idx) {
    const levi_param *q = &p->list[idx];
    if (!p->trainable) {
        levi_tensor t;
        memset(&t, 0, sizeof t);
        return t;
    }
    return levi_arena_tensor(&p->grads, q->offset, q->ndim, q->shape);
}

size_t levi_params_numel(const levi_params *p) {
    size_t n = 0;
    for (int i = 0; i < p->count; i++) n += p->list[i].numel;
    return n;
}

levi_status levi_params_init_random(levi_params *p, unsigned long long seed) {
    if (!p->committed) return levi_error(LEVI_ERR_INVALID_ARG, "parameters initialized before commit");
    float *host = calloc(p->params.numel ? p->params.numel : 1, sizeof *host);
    if (!host) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory initializing parameters");
    for (int i = 0; i < p->count; i++) {
        const levi_param *q = &p->list[i];
        /* one stream per parameter name: adding a parameter moves no other */
        unsigned long long s = seed * 0x2545F4914F6CDD1DULL;
        for (const char *c = q->name; *c; c++) s = (s ^ (unsigned char)*c) * 0x100000001B3ULL;
        float *dst = host + q->offset;
        for (size_t j = 0; j < q->numel; j++) {
            if (q->init_bound > 0) {
                double u = (double)(levi_splitmix64(&s) >> 11) / 9007199254740992.0;
                dst[j] = (float)((2.0 * u - 1.0) * q->init_bound);
            } else {
                dst[j] = -q->init_bound;
            }
        }
    }
    levi_tensor all = levi_arena_all(&p->params);
    levi_status st = levi_tensor_write(&all, host);
    free(host);
    return st;
}

static levi_status read_arena(const levi_arena *a, float **out) {
    *out = malloc((a->numel ? a->numel : 1) * sizeof(float));
    if (!*out) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory reading %s", a->role);
    levi_tensor t = levi_arena_all(a);
    levi_status st = levi_tensor_read(&t, *out);
    if (st != LEVI_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

levi_status levi_params_write(const levi_params *p, struct levi_st_writer *w, const char *prefix,
                              const char *opt_prefix) {
    float *host;
    LEVI_TRY(read_arena(&p->params, &host));
    levi_status st = LEVI_OK;
    char name[256];
    for (int i = 0; i < p->count && st == LEVI_OK; i++) {
        const levi_param *q = &p->list[i];
        long long shape[LEVI_MAX_DIMS];
        for (int d = 0; d < q->ndim; d++) shape[d] = q->shape[d];
        snprintf(name, sizeof name, "%s%s", prefix, q->name);
        st = levi_st_writer_add(w, name, q->ndim, shape, host + q->offset);
    }
    free(host);
    if (st != LEVI_OK || !opt_prefix || !p->trainable) return st;
    const levi_arena *mom[2] = {&p->adam_m, &p->adam_v};
    for (int k = 0; k < 2 && st == LEVI_OK; k++) {
        LEVI_TRY(read_arena(mom[k], &host));
        long long n = (long long)mom[k]->numel;
        snprintf(name, sizeof name, "%s%s", opt_prefix, k ? "v" : "m");
        st = levi_st_writer_add(w, name, 1, &n, host);
        free(host);
    }
    return st;
}

static const char *shape_text(int ndim, const long long *shape, char *buf, size_t len) {
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? ",%lld" : "%lld", shape[i]);
    if (used < len) snprintf(buf + used, len - used, ")");
    return buf;
}

levi_status levi_params_read(levi_params *p, const struct levi_safetensors *st, const char *prefix,
                             const char *opt_prefix, const char *file) {
    if (!p->committed) return levi_error(LEVI_ERR_INVALID_ARG, "parameters read before commit");
    char name[256], want[96], got[96];
    for (int i = 0; i < p->count; i++) {
        const levi_param *q = &p->list[i];
        snprintf(name, sizeof name, "%s%s", prefix, q->name);
        const levi_st_tensor *t = levi_safetensors_find(st, name);
        long long ws[LEVI_MAX_DIMS];
        for (int d = 0; d < q->ndim; d++) ws[d] = q->shape[d];
        shape_text(q->ndim, ws, want, sizeof want);
        if (!t) return levi_error(LEVI_ERR_FORMAT, "%s: tensor '%s' %s is missing", file, name, want);
        int same = t->ndim == q->ndim && t->numel == q->numel;
        for (int d = 0; same && d < q->ndim; d++) same = t->shape[d] == q->shape[d];
        if (!same)
            return levi_error(LEVI_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", file, name,
                              shape_text(t->ndim, t->shape, got, sizeof got), want);
        levi_tensor v = levi_params_value(p, i);
        LEVI_TRY(levi_tensor_write(&v, t->data));
    }
    if (!opt_prefix || !p->trainable) return LEVI_OK;
    levi_arena *mom[2] = {&p->adam_m, &p->adam_v};
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "%s%s", opt_prefix, k ? "v" : "m");
        const levi_st_tensor *t = levi_safetensors_find(st, name);
        if (!t) return levi_error(LEVI_ERR_FORMAT, "%s: optimizer state '%s' is missing", file, name);
        if (t->numel != mom[k]->numel)
            return levi_error(LEVI_ERR_SHAPE, "%s: optimizer state '%s' has %zu values, expected %zu", file, name,
                              t->numel, mom[k]->numel);
        levi_tensor all = levi_arena_all(mom[k]);
        LEVI_TRY(levi_tensor_write(&all, t->data));
    }
    return LEVI_OK;
}

levi_status levi_params_zero_grad(levi_params *p) {
    if (!p->trainable) return LEVI_OK;
    levi_tensor g = levi_arena_all(&p->grads);
    return levi_tensor_zero(&g);
}

void levi_params_free(levi_params *p) {
    levi_arena_free(&p->params);
    levi_arena_free(&p->grads);
    levi_arena_free(&p->adam_m);
    levi_arena_free(&p->adam_v);
    free(p->list);
    memset(p, 0, sizeof *p);
}

/* --- linear ------------------------------------------------------------------ */

int levi_linear_plan(levi_linear *l, levi_params *p, const char *name, int in, int out) {
    char n[96];
    float bound = (float)(1.0 / sqrt((double)in));
    int ws[2] = {out, in};
    l->in = in;
    l->out = out;
    snprintf(n, sizeof n, "%s.weight", name);
    l->w = levi_params_add(p, n, 2, ws, bound);
    snprintf(n, sizeof n, "%s.bias", name);
    l->b = levi_params_add(p, n, 1, &out, bound);
    return (l->w < 0 || l->b < 0) ? -1 : 0;
}

// out (B,out) = inp (B,in) · w (out,in)ᵀ + b (out)
levi_status levi_linear_apply(const levi_linear *l, const levi_params *p, const levi_tensor *out,
                              const levi_tensor *inp, int B) {
    levi_tensor w = levi_params_value(p, l->w), b = levi_params_value(p, l->b);
    return levi_linear_forward(p->ctx, out, inp, &w, &b, B, l->in, l->out);
}

// pre (B,out) = inp (B,in) · wᵀ + b, out = act(pre)
levi_status levi_linear_apply_act(const levi_linear *l, const levi_params *p, const levi_tensor *out,
                                  const levi_tensor *pre, const levi_tensor *inp, levi_activation act, int B) {
    levi_tensor w = levi_params_value(p, l->w), b = levi_params_value(p, l->b);
    return levi_linear_act_forward(p->ctx, out, pre, inp, &w, &b, NULL, act, B, l->in, l->out);
}

// dinp (B,in) +=, dw (out,in) +=, db (out) += from dout (B,out)
levi_status levi_linear_apply_backward(const levi_linear *l, const levi_params *p, const levi_tensor *dinp,
                                       const levi_tensor *dout, const levi_tensor *inp, int B) {
    return levi_linear_apply_backward_acc(l, p, dinp, dout, inp, B, 1);
}

levi_status levi_linear_apply_backward_acc(const levi_linear *l, const levi_params *p, const levi_tensor *dinp,
                                           const levi_tensor *dout, const levi_tensor *inp, int B,
                                           int dinp_accumulate) {
    return levi_linear_apply_backward_cols(l, p, dinp, 0, l->in, dout, inp, B, dinp_accumulate);
}

levi_status levi_linear_apply_backward_cols(const levi_linear *l, const levi_params *p, const levi_tensor *dinp,
                                            int col0, int cols, const levi_tensor *dout, const levi_tensor *inp,
                                            int B, int dinp_accumulate) {
    levi_tensor w = levi_params_value(p, l->w);
    levi_tensor dw = levi_params_grad(p, l->w), db = levi_params_grad(p, l->b);
    return levi_linear_backward_cols(p->ctx, dinp, col0, cols, dw.buf ? &dw : NULL, db.buf ? &db : NULL, dout, inp,
                                     &w, B, l->in, l->out, dinp_accumulate);
}

/* --- activation slices ---------------------------------------------------------- */

levi_act levi_act_plan(levi_arena *a, int max_batch, int cols) {
    levi_act s;
    s.cols = cols;
    s.offset = levi_arena_reserve(a, (size_t)max_batch * (size_t)cols);
    return s;
}

levi_tensor levi_act_view(const levi_arena *a, levi_act s, int B) {
    int shape[2] = {B, s.cols};
    return levi_arena_tensor(a, s.offset, 2, shape);
}
