/* The encoder stack's weight table on the host: random init, and the
 * transfers between the arenas and safetensors files (HF names). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder_stack.h"
#include "levi/json_util.h"
#include "levi/random.h"

double enc_uniform01(unsigned long long *state) {
    return ((double)(levi_splitmix64(state) >> 11) + 0.5) / 9007199254740992.0;
}

levi_status enc_read_arena(const levi_arena *a, float **host) {
    *host = malloc((a->numel ? a->numel : 1) * sizeof(float));
    if (!*host) return levi_error(LEVI_ERR_HOST_MEMORY, "cannot allocate %zu floats for the %s", a->numel, a->role);
    if (!a->numel) return LEVI_OK;
    levi_tensor all = levi_arena_all(a);
    levi_status st = levi_tensor_read(&all, *host);
    if (st != LEVI_OK) {
        free(*host);
        *host = NULL;
    }
    return st;
}

levi_status enc_write_arena(const levi_arena *a, const float *host) {
    if (!a->numel) return LEVI_OK;
    levi_tensor all = levi_arena_all(a);
    return levi_tensor_write(&all, host);
}

levi_status enc_init_weights(enc_stack *s, unsigned long long state, enc_sampler sample, int lora_only) {
    float *hp = calloc(s->params.numel + 1, sizeof(float)), *hl = calloc(s->lora.numel + 1, sizeof(float));
    if (!hp || !hl) {
        free(hp);
        free(hl);
        return levi_error(LEVI_ERR_HOST_MEMORY, "%s init: out of host memory", s->name);
    }
    /* LoRA A as peft: kaiming_uniform(a=√5) = U(-1/√in, 1/√in), in = D */
    const double bound = 1.0 / sqrt((double)s->D);
    for (int i = 0; i < s->n_table; i++) {
        const enc_param *p = &s->table[i];
        if (lora_only && p->arena != ENC_ARENA_LORA) continue;
        float *dst = (p->arena == ENC_ARENA_LORA ? hl : hp) + p->off;
        for (size_t j = 0; j < p->numel; j++) dst[j] = sample(p->init, bound, &state);
    }
    levi_status st = lora_only ? LEVI_OK : enc_write_arena(&s->params, hp);
    if (st == LEVI_OK) st = enc_write_arena(&s->lora, hl);
    free(hp);
    free(hl);
    return st;
}

static const char *shape_str(char *buf, size_t len, int ndim, const long long *shape) {
    size_t n = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < ndim && n < len; i++) n += (size_t)snprintf(buf + n, len - n, i ? ",%lld" : "%lld", shape[i]);
    if (n < len) snprintf(buf + n, len - n, ")");
    return buf;
}

levi_status enc_read_table(enc_stack *s, const levi_safetensors *st, const char *prefix, int lora, int *found) {
    /* every parameter tensor is required: the host copies start empty */
    float *hp = calloc(s->params.numel + 1, sizeof(float)), *hl = calloc(s->lora.numel + 1, sizeof(float));
    levi_status rc = hp && hl ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "%s: out of host memory", s->name);
    int nfound = 0, nlora = 0;
    for (int i = 0; i < s->n_table && rc == LEVI_OK; i++) {
        const enc_param *p = &s->table[i];
        if (p->arena == ENC_ARENA_LORA) {
            nlora++;
            if (!lora) continue;
        }
        char name[192], a[96], b[96];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        const levi_st_tensor *t = levi_safetensors_find(st, name);
        if (!t) {
            if (p->arena == ENC_ARENA_LORA && lora == 2) continue; /* adapters not in the file keep their init */
            rc = levi_error(LEVI_ERR_NOT_FOUND, "missing tensor '%s' (expected shape %s)", name,
                            shape_str(a, sizeof a, p->ndim, p->shape));
            break;
        }
        int same = t->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
        if (!same) {
            rc = levi_error(LEVI_ERR_SHAPE, "tensor '%s' has shape %s, expected %s", name,
                            shape_str(a, sizeof a, t->ndim, t->shape), shape_str(b, sizeof b, p->ndim, p->shape));
            break;
        }
        memcpy((p->arena == ENC_ARENA_LORA ? hl : hp) + p->off, t->data, p->numel * sizeof(float));
        if (p->arena == ENC_ARENA_LORA) nfound++;
    }
    const int all_lora = nlora > 0 && nfound == nlora;
    if (found) *found = all_lora;
    if (rc == LEVI_OK && lora == 2 && nfound > 0 && nfound < nlora)
        rc = levi_error(LEVI_ERR_NOT_FOUND, "only %d of the %d LoRA tensors (rank %d) are present", nfound, nlora,
                        s->lora_rank);
    if (rc == LEVI_OK) rc = enc_write_arena(&s->params, hp);
    if (rc == LEVI_OK && (lora == 1 || (lora == 2 && all_lora))) rc = enc_write_arena(&s->lora, hl);
    free(hp);
    free(hl);
    return rc;
}

levi_status enc_write_table(const enc_stack *s, levi_st_writer *w, const char *prefix, int with_lora) {
    float *hp = NULL, *hl = NULL;
    LEVI_TRY(enc_read_arena(&s->params, &hp));
    levi_status rc = enc_read_arena(&s->lora, &hl);
    for (int i = 0; i < s->n_table && rc == LEVI_OK; i++) {
        const enc_param *p = &s->table[i];
        if (p->arena == ENC_ARENA_LORA && !with_lora) continue;
        char name[192];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        rc = levi_st_writer_add(w, name, p->ndim, p->shape, (p->arena == ENC_ARENA_LORA ? hl : hp) + p->off);
    }
    free(hp);
    free(hl);
    return rc;
}

levi_status enc_read_file(enc_stack *s, const levi_safetensors *st, const char *prefix, int lora, const char *path) {
    levi_status rc = enc_read_table(s, st, prefix, lora, NULL);
    return rc == LEVI_OK ? rc : levi_error(rc, "%s: %s", path, levi_last_error());
}

const char *enc_name_prefix(const levi_safetensors *st, const char *probe, const char *model_prefix) {
    char name[192];
    snprintf(name, sizeof name, "%s%s", model_prefix, probe);
    return !levi_safetensors_find(st, probe) && levi_safetensors_find(st, name) ? model_prefix : "";
}

levi_status enc_config_common(const cJSON *o, const char *where, float *layer_norm_eps) {
    double eps = 1e-12;
    LEVI_TRY(levi_json_get_float(o, where, "layer_norm_eps", 1e-30, 1.0, &eps, 0));
    *layer_norm_eps = (float)eps;
    const char *act = "gelu";
    LEVI_TRY(levi_json_get_string(o, where, "hidden_act", &act, 0));
    if (strcmp(act, "gelu"))
        return levi_error(LEVI_ERR_UNSUPPORTED, "%s: field 'hidden_act' is '%s'; only \"gelu\" (exact erf) is supported",
                          where, act);
    return LEVI_OK;
}
