/* The encoder stack shared by BERT and the ViT: arenas, the weight table,
 * the blocks' memory plan and views, and the walk through the blocks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder_stack.h"
#include "levi/backbone.h"

levi_tensor enc_view(const levi_arena *a, size_t off, int n0, int n1) {
    int s[2] = {n0, n1};
    return levi_arena_tensor(a, off, n1 > 0 ? 2 : 1, s);
}

levi_tensor enc_view3(const levi_arena *a, size_t off, int n0, int n1, int n2) {
    int s[3] = {n0, n1, n2};
    return levi_arena_tensor(a, off, 3, s);
}

static levi_arena *arena(enc_stack *s, int i) {
    levi_arena *all[6] = {&s->params, &s->lora, &s->grads, &s->adam_m, &s->adam_v, &s->acts};
    return all[i];
}

levi_status enc_stack_init(enc_stack *s, levi_ctx *ctx, const char *const roles[6]) {
    s->ctx = ctx;
    for (int i = 0; i < 6; i++) levi_arena_init(arena(s, i), ctx, roles[i]);
    s->table = calloc((size_t)(20 * s->L + 8), sizeof *s->table);
    return s->table ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "%s: out of host memory", s->name);
}

void enc_stack_free(enc_stack *s) {
    for (int i = 0; i < 6; i++) levi_arena_free(arena(s, i));
    free(s->table);
    s->table = NULL;
}

size_t enc_add_param(enc_stack *s, int arena_id, int init, int ndim, const long long *shape, const char *fmt, ...) {
    enc_param *p = &s->table[s->n_table++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->name, sizeof p->name, fmt, ap);
    va_end(ap);
    p->arena = arena_id;
    p->init = init;
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->numel *= (size_t)shape[i];
    }
    p->off = levi_arena_reserve(arena_id == ENC_ARENA_LORA ? &s->lora : &s->params, p->numel);
    return p->off;
}

void enc_plan_lora(enc_stack *s, const char *fmt) {
    const long long D = s->D, r = s->lora_rank;
    const int A = ENC_ARENA_LORA, IA = ENC_INIT_LORA_A, Z = ENC_INIT_ZERO;
    if (r > 0)
        for (int l = 0; l < s->L; l++) {
            enc_layer_w *w = &s->lw[l];
            w->qa = enc_add_param(s, A, IA, 2, (const long long[]){r, D}, fmt, l, "query", "A");
            w->qb = enc_add_param(s, A, Z, 2, (const long long[]){D, r}, fmt, l, "query", "B");
            w->va = enc_add_param(s, A, IA, 2, (const long long[]){r, D}, fmt, l, "value", "A");
            w->vb = enc_add_param(s, A, Z, 2, (const long long[]){D, r}, fmt, l, "value", "B");
        }
}

void enc_plan_hidden(enc_stack *s, int n) {
    const size_t BT = (size_t)s->max_batch * (size_t)s->T;
    s->n_hidden = n;
    for (int l = 0; l < n; l++) s->hidden[l] = levi_arena_reserve(&s->acts, BT * (size_t)s->D);
}

void enc_plan_blocks(enc_stack *s) {
    const size_t B = (size_t)s->max_batch, BT = B * (size_t)s->T, D = (size_t)s->D, M = (size_t)s->M;
    const size_t r = (size_t)s->lora_rank;
    levi_arena *a = &s->acts;
    for (int l = 0; l < s->L; l++) {
        if (s->train_mode == LEVI_BACKBONE_FROZEN && l > 0) { /* frozen: one set of intermediates serves all */
            s->la[l] = s->la[0];
            continue;
        }
        enc_layer_act *x = &s->la[l];
        x->ln1 = levi_arena_reserve(a, BT * D);
        x->ln1_mean = levi_arena_reserve(a, BT);
        x->ln1_rstd = levi_arena_reserve(a, BT);
        x->q = levi_arena_reserve(a, BT * D);
        x->k = levi_arena_reserve(a, BT * D);
        x->v = levi_arena_reserve(a, BT * D);
        x->lse = levi_arena_reserve(a, B * (size_t)s->NH * (size_t)s->T);
        x->ctx = levi_arena_reserve(a, BT * D);
        x->hmid = levi_arena_reserve(a, BT * D);
        *(s->post_ln ? &x->sum2 : &x->ln2) = levi_arena_reserve(a, BT * D);
        x->ln2_mean = levi_arena_reserve(a, BT);
        x->ln2_rstd = levi_arena_reserve(a, BT);
        x->fc1 = levi_arena_reserve(a, BT * M);
        x->gel = levi_arena_reserve(a, BT * M);
        if (r) {
            x->qa = levi_arena_reserve(a, BT * r);
            x->va = levi_arena_reserve(a, BT * r);
        }
    }
}

void enc_plan_taps(enc_stack *s) {
    s->taps = levi_arena_reserve(&s->acts, (size_t)(s->L + 1) * (size_t)s->max_batch * (size_t)s->D);
}

void enc_plan_scratch(enc_stack *s) {
    if (s->train_mode == LEVI_BACKBONE_FROZEN) return;
    const size_t BT = (size_t)s->max_batch * (size_t)s->T, D = (size_t)s->D, M = (size_t)s->M;
    size_t *bt_d[] = {&s->dh, &s->dtmp, &s->dq, &s->dk, &s->dv, &s->dctx};
    for (size_t i = 0; i < sizeof bt_d / sizeof *bt_d; i++) *bt_d[i] = levi_arena_reserve(&s->acts, BT * D);
    s->dfc1 = levi_arena_reserve(&s->acts, BT * M);
    s->dgel = levi_arena_reserve(&s->acts, BT * M);
    if (s->lora_rank) s->dqa = levi_arena_reserve(&s->acts, BT * (size_t)s->lora_rank);
}

void enc_plan_optimizer(enc_stack *s) {
    if (s->train_mode == LEVI_BACKBONE_FROZEN) return;
    const size_t n = (s->train_mode == LEVI_BACKBONE_FULL ? &s->params : &s->lora)->numel;
    for (int i = 2; i < 5; i++) levi_arena_reserve(arena(s, i), n);
}

levi_status enc_stack_commit(enc_stack *s) {
    for (int i = 0; i < 6; i++)
        if (arena(s, i)->numel) LEVI_TRY(levi_arena_commit(arena(s, i)));
    return LEVI_OK;
}

size_t enc_num_params(const enc_stack *s, size_t *lora_params) {
    size_t n = 0, nl = 0;
    for (int i = 0; i < s->n_table; i++) *(s->table[i].arena == ENC_ARENA_LORA ? &nl : &n) += s->table[i].numel;
    if (lora_params) *lora_params = nl;
    return n;
}

void enc_block_views(const enc_stack *s, int l, int B, enc_block_dims *d, enc_block_weights *w,
                     enc_block_weights *gw, enc_block_acts *a, enc_block_grads *g) {
    const int D = s->D, M = s->M, BT = B * s->T, r = s->lora_rank;
    const int full = s->train_mode == LEVI_BACKBONE_FULL, lora = s->train_mode == LEVI_BACKBONE_LORA;
    *d = (enc_block_dims){B, s->T, D, M, s->NH, r, s->eps, s->post_ln};
    const enc_layer_w *o = &s->lw[l];
    const size_t offs[16] = {o->ln1_w, o->ln1_b, o->q_w,   o->q_b,   o->k_w,   o->k_b,   o->v_w,   o->v_b,
                             o->o_w,   o->o_b,   o->ln2_w, o->ln2_b, o->fc1_w, o->fc1_b, o->fc2_w, o->fc2_b};
    const int rows[16] = {D, D, D, D, D, D, D, D, D, D, D, D, M, M, D, D};
    const int cols[16] = {0, 0, D, 0, D, 0, D, 0, D, 0, 0, 0, D, 0, M, 0};
    levi_tensor *wt = &w->ln1_w, *gt = &gw->ln1_w; /* the 16 fields in this order */
    for (int i = 0; i < 16; i++) {
        const int absent = (i == 3 || i == 5 || i == 7) && !s->qkv_bias;
        wt[i] = absent ? (levi_tensor){0} : enc_view(&s->params, offs[i], rows[i], cols[i]);
        gt[i] = absent || !full ? (levi_tensor){0} : enc_view(&s->grads, offs[i], rows[i], cols[i]);
    }
    memset(&w->qa, 0, 4 * sizeof w->qa);
    memset(&gw->qa, 0, 4 * sizeof gw->qa);
    if (r > 0) {
        w->qa = enc_view(&s->lora, o->qa, r, D), w->qb = enc_view(&s->lora, o->qb, D, r);
        w->va = enc_view(&s->lora, o->va, r, D), w->vb = enc_view(&s->lora, o->vb, D, r);
        if (lora) {
            gw->qa = enc_view(&s->grads, o->qa, r, D), gw->qb = enc_view(&s->grads, o->qb, D, r);
            gw->va = enc_view(&s->grads, o->va, r, D), gw->vb = enc_view(&s->grads, o->vb, D, r);
        }
    }
    const enc_layer_act *x = &s->la[l];
    const levi_arena *A = &s->acts;
    memset(a, 0, sizeof *a);
    a->hin = enc_view(A, s->hidden[l], BT, D), a->hout = enc_view(A, s->hidden[l + 1], BT, D);
    a->ln1 = enc_view(A, x->ln1, BT, D);
    a->ln1_mean = enc_view(A, x->ln1_mean, BT, 0), a->ln1_rstd = enc_view(A, x->ln1_rstd, BT, 0);
    a->q = enc_view(A, x->q, BT, D), a->k = enc_view(A, x->k, BT, D), a->v = enc_view(A, x->v, BT, D);
    a->lse = enc_view(A, x->lse, B * s->NH, s->T);
    a->ctx = enc_view(A, x->ctx, BT, D), a->hmid = enc_view(A, x->hmid, BT, D);
    if (s->post_ln)
        a->sum2 = enc_view(A, x->sum2, BT, D);
    else
        a->ln2 = enc_view(A, x->ln2, BT, D);
    a->ln2_mean = enc_view(A, x->ln2_mean, BT, 0), a->ln2_rstd = enc_view(A, x->ln2_rstd, BT, 0);
    a->fc1 = enc_view(A, x->fc1, BT, M), a->gel = enc_view(A, x->gel, BT, M);
    if (s->has_mask) a->mask = enc_view(A, s->mask, B, s->T);
    if (r > 0) a->qa = enc_view(A, x->qa, BT, r), a->va = enc_view(A, x->va, BT, r);
    memset(g, 0, sizeof *g);
    if (s->train_mode != LEVI_BACKBONE_FROZEN) {
        g->dh = enc_view(A, s->dh, BT, D), g->dtmp = enc_view(A, s->dtmp, BT, D);
        g->dq = enc_view(A, s->dq, BT, D), g->dk = enc_view(A, s->dk, BT, D), g->dv = enc_view(A, s->dv, BT, D);
        g->dctx = enc_view(A, s->dctx, BT, D);
        g->dfc1 = enc_view(A, s->dfc1, BT, M), g->dgel = enc_view(A, s->dgel, BT, M);
        if (r > 0) g->dqa = enc_view(A, s->dqa, BT, r);
    }
}

levi_status enc_forward_blocks(enc_stack *s, int B) {
    for (int l = 0; l < s->L; l++) {
        enc_block_dims d;
        enc_block_weights w, gw;
        enc_block_acts a;
        enc_block_grads g;
        enc_block_views(s, l, B, &d, &w, &gw, &a, &g);
        LEVI_TRY(enc_block_forward(s->ctx, &d, &w, &a));
    }
    return LEVI_OK;
}

levi_status enc_backward_block(enc_stack *s, int l, int B) {
    enc_block_dims d;
    enc_block_weights w, gw;
    enc_block_acts a;
    enc_block_grads g;
    enc_block_views(s, l, B, &d, &w, &gw, &a, &g);
    /* below block 0 only full fine-tuning (the embeddings) needs the gradient */
    return enc_block_backward(s->ctx, &d, &w, &gw, &a, &g, s->train_mode == LEVI_BACKBONE_FULL || l > 0);
}

levi_status enc_check_backward(const enc_stack *s, const char *what, const levi_tensor *const *dtaps,
                               const int *taps, int ntaps, int B, int *top) {
    *top = -1;
    if (s->train_mode == LEVI_BACKBONE_FROZEN)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s backward: the backbone is frozen (train_mode 0)", s->name);
    if (B < 1 || B > s->max_batch)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s backward: batch %d outside [1, max_batch %d]", s->name, B,
                          s->max_batch);
    for (int i = 0; i < ntaps; i++) {
        if (taps[i] < 0 || taps[i] > s->L)
            return levi_error(LEVI_ERR_INVALID_ARG, "%s backward: tap %d outside [0, %d]", s->name, taps[i], s->L);
        if (dtaps[i]->numel < (size_t)B * s->D)
            return levi_error(LEVI_ERR_SHAPE, "%s backward: %s[%d] holds %zu floats, (%d,%d) needed", s->name, what,
                              i, dtaps[i]->numel, B, s->D);
        if (taps[i] > *top) *top = taps[i];
    }
    return LEVI_OK;
}

levi_tensor enc_tap(const enc_stack *s, int l, int B) {
    l = l < 0 ? 0 : l > s->L ? s->L : l;
    return enc_view(&s->acts, s->taps + (size_t)l * (size_t)s->max_batch * (size_t)s->D, B, s->D);
}

levi_tensor enc_hidden(const enc_stack *s, int l, int B) {
    l = l < 0 ? 0 : l >= s->n_hidden ? s->n_hidden - 1 : l;
    return enc_view3(&s->acts, s->hidden[l], B, s->T, s->D);
}

levi_status enc_zero_grad(enc_stack *s) {
    if (!s->grads.numel) return LEVI_OK;
    levi_tensor g = levi_arena_all(&s->grads);
    return levi_tensor_zero(&g);
}

int enc_trainable(enc_stack *s, levi_tensor *params, levi_tensor *grads, levi_tensor *adam_m, levi_tensor *adam_v) {
    if (s->train_mode == LEVI_BACKBONE_FROZEN) return 0;
    const levi_arena *p = s->train_mode == LEVI_BACKBONE_FULL ? &s->params : &s->lora;
    if (params) *params = levi_arena_all(p);
    if (grads) *grads = levi_arena_all(&s->grads);
    if (adam_m) *adam_m = levi_arena_all(&s->adam_m);
    if (adam_v) *adam_v = levi_arena_all(&s->adam_v);
    return 1;
}

levi_status enc_find(enc_stack *s, const char *name, levi_tensor *param, levi_tensor *grad) {
    for (int i = 0; i < s->n_table; i++) {
        const enc_param *p = &s->table[i];
        if (strcmp(p->name, name)) continue;
        int shape[4];
        for (int d = 0; d < p->ndim; d++) shape[d] = (int)p->shape[d];
        const int lora = p->arena == ENC_ARENA_LORA;
        if (param) *param = levi_arena_tensor(lora ? &s->lora : &s->params, p->off, p->ndim, shape);
        if (grad) {
            const int trained = s->train_mode == (lora ? LEVI_BACKBONE_LORA : LEVI_BACKBONE_FULL);
            *grad = trained ? levi_arena_tensor(&s->grads, p->off, p->ndim, shape) : (levi_tensor){0};
        }
        return LEVI_OK;
    }
    return levi_error(LEVI_ERR_NOT_FOUND, "%s: no weight named '%s'", s->name, name);
}
