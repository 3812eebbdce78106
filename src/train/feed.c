/* The input side of training and evaluation (levi/train.h, levi_feed):
 * loader → rotating host staging → non-blocking writes, the feature cache
 * (on the device when it fits, else on the host in chunks), and with the
 * backbone on its own device the two-deep backbone/head pipeline. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "levi/parallel.h"
#include "levi/train.h"

enum { SLOTS = 3 }; /* staging buffers in flight */

struct levi_feed {
    levi_model *m;
    levi_ctx *ctx; /* the head ctx */
    const levi_dataset *ds;
    levi_loader loader;
    int have_loader;
    levi_feature_pipe *pipe; /* backbone apart, features not cached: batches and features from it */
    int batch, shuffle, need_x, F;
    size_t xn; /* floats of x per sample (and of the mask, for tokens) */
    int text;  /* token input: x holds ids, a mask goes with them */
    float *hx[SLOTS], *hm[SLOTS], *hl[SLOTS];
    cl_event ev[SLOTS];
    int next;
    levi_arena dev; /* x (SLOTS, batch, xn), mask (SLOTS, batch, xn) of tokens, labels (SLOTS, batch) */
    size_t dx, dm, dl;
    /* the cache: resident (cache_buf (n,F), order_buf int (n)) or chunked (host_cache (n,F)) */
    int cache, resident;
    cl_mem cache_buf, order_buf;
    int *horder;
    cl_event order_ev;
    float *host_cache;
    int chunk_rows, chunk_start, chunk_len, chunk_slot;
    cl_mem chunk_buf[2];
    float *hchunk[2];
    cl_event chunk_ev[2];
    const float *ext; /* levi_feed_create_with_features */
    double cache_s;
};

void levi_feed_free(levi_feed *f) {
    if (!f) return;
    /* pending writes read host memory freed below */
    cl_event all[SLOTS + 3];
    cl_uint n = 0;
    for (int i = 0; i < SLOTS; i++)
        if (f->ev[i]) all[n++] = f->ev[i];
    if (f->order_ev) all[n++] = f->order_ev;
    for (int i = 0; i < 2; i++)
        if (f->chunk_ev[i]) all[n++] = f->chunk_ev[i];
    if (n) clWaitForEvents(n, all);
    for (int i = 0; i < SLOTS; i++) {
        levi_event_release(&f->ev[i]);
        free(f->hx[i]);
        free(f->hm[i]);
        free(f->hl[i]);
    }
    levi_event_release(&f->order_ev);
    for (int i = 0; i < 2; i++) {
        levi_event_release(&f->chunk_ev[i]);
        if (f->chunk_buf[i]) clReleaseMemObject(f->chunk_buf[i]);
        free(f->hchunk[i]);
    }
    levi_feature_pipe_free(f->pipe);
    if (f->cache_buf) clReleaseMemObject(f->cache_buf);
    if (f->order_buf) clReleaseMemObject(f->order_buf);
    free(f->horder);
    free(f->host_cache);
    levi_arena_free(&f->dev);
    if (f->have_loader) levi_loader_free(&f->loader);
    free(f);
}

/* Device memory a cache may take whole: a quarter of the device, within its
 * largest allocation. */
static size_t cache_budget(const levi_ctx *ctx) {
    unsigned long long b = ctx->info.global_mem / 4;
    if (ctx->info.max_alloc && ctx->info.max_alloc < b) b = ctx->info.max_alloc;
    return (size_t)b;
}

static levi_status staging(levi_feed *f, int need_x) {
    f->need_x = need_x;
    size_t B = (size_t)f->batch;
    for (int i = 0; i < SLOTS; i++) {
        f->hx[i] = malloc(B * f->xn * sizeof(float));
        f->hm[i] = f->text ? malloc(B * f->xn * sizeof(float)) : NULL;
        f->hl[i] = malloc(B * sizeof(float));
        if (!f->hx[i] || !f->hl[i] || (f->text && !f->hm[i]))
            return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for input staging of %zu floats", B * f->xn);
    }
    levi_arena_init(&f->dev, f->ctx, "input staging");
    f->dx = need_x ? levi_arena_reserve(&f->dev, SLOTS * B * f->xn) : 0;
    f->dm = need_x && f->text ? levi_arena_reserve(&f->dev, SLOTS * B * f->xn) : 0;
    f->dl = levi_arena_reserve(&f->dev, SLOTS * B);
    return levi_arena_commit(&f->dev);
}

/* The next staging slot, once its previous write completed. */
static levi_status take_slot(levi_feed *f, int *slot) {
    int s = f->next;
    f->next = (s + 1) % SLOTS;
    if (f->ev[s]) {
        if (levi_event_done(f->ev[s]) != 1) LEVI_TRY(levi_event_wait_backpressure(f->ctx, 1, &f->ev[s]));
        levi_event_release(&f->ev[s]);
    }
    *slot = s;
    return LEVI_OK;
}

static levi_tensor slot_x(levi_feed *f, int s, int n) {
    const levi_input_spec *in = levi_model_input_spec(f->m);
    levi_tensor t = levi_arena_tensor(&f->dev, f->dx + (size_t)s * f->batch * f->xn, 2, (int[]){n, (int)f->xn});
    if (in->kind == LEVI_INPUT_PIXELS) t = levi_tensor_reshape(&t, 4, (int[]){n, in->channels, in->height, in->width});
    return t;
}

static levi_tensor slot_mask(levi_feed *f, int s, int n) {
    return levi_arena_tensor(&f->dev, f->dm + (size_t)s * f->batch * f->xn, 2, (int[]){n, (int)f->xn});
}

static levi_tensor slot_labels(levi_feed *f, int s, int n) {
    return levi_arena_tensor(&f->dev, f->dl + (size_t)s * f->batch, 1, &n);
}

/* The loader's next batch into a slot and up to the device (x only when
 * needed); 0 rows at the epoch's end. */
static levi_status upload_next(levi_feed *f, levi_loader *l, levi_batch *b) {
    int s;
    LEVI_TRY(take_slot(f, &s));
    int n = 0;
    memset(b, 0, sizeof *b);
    if (f->pipe && l == &f->loader) LEVI_TRY(levi_feature_pipe_next(f->pipe, f->hx[s], f->hm[s], f->hl[s], &n));
    else n = levi_loader_next_input(l, f->hx[s], f->hm[s], f->hl[s]);
    b->n = n;
    if (n <= 0) return LEVI_OK;
    if (f->pipe) b->feats = levi_model_input_feats(f->m, n); /* handed over by the pipe */
    if (f->need_x) {
        b->x = slot_x(f, s, n);
        LEVI_TRY(levi_tensor_write_async(&b->x, f->hx[s], 0, NULL, NULL));
        if (f->text) {
            b->mask = slot_mask(f, s, n);
            LEVI_TRY(levi_tensor_write_async(&b->mask, f->hm[s], 0, NULL, NULL));
        }
    }
    b->labels = slot_labels(f, s, n);
    /* in order after the x write: its completion frees the whole slot */
    return levi_tensor_write_async(&b->labels, f->hl[s], 0, NULL, &f->ev[s]);
}

static levi_status init(levi_feed **out, levi_model *m, const levi_dataset *ds, int batch, int shuffle,
                        unsigned long long seed, levi_feed **fp) {
    *out = NULL;
    if (batch < 1 || batch > levi_model_max_batch(m))
        return levi_error(LEVI_ERR_INVALID_ARG, "batch %d is not in 1..%d (the model's max batch)", batch,
                          levi_model_max_batch(m));
    levi_feed *f = calloc(1, sizeof *f);
    if (!f) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    f->m = m;
    f->ctx = levi_model_ctx(m);
    f->ds = ds;
    f->batch = batch;
    f->shuffle = shuffle;
    f->F = levi_model_feature_dim(m);
    f->xn = levi_input_numel(levi_model_input_spec(m));
    f->text = levi_model_input_spec(m)->kind == LEVI_INPUT_TOKENS;
    *fp = f;
    if (ds->kind != levi_model_input_spec(m)->kind || levi_dataset_sample_floats(ds) != f->xn)
        return levi_error(LEVI_ERR_SHAPE, "the data set's %s of %zu values do not fit the model's %s of %zu",
                          ds->kind == LEVI_INPUT_TOKENS ? "texts" : "images", levi_dataset_sample_floats(ds),
                          f->text ? "texts" : "images", f->xn);
    levi_status st = levi_loader_init(&f->loader, ds, batch, seed, shuffle);
    f->have_loader = st == LEVI_OK;
    return st;
}

/* The tap features of the whole dataset, in dataset order, once. */
static levi_status build_cache(levi_feed *f) {
    double t0 = levi_now_s();
    size_t n = (size_t)f->ds->n, F = (size_t)f->F, bytes = n * F * sizeof(float);
    f->resident = f->cache == 1 && bytes <= cache_budget(f->ctx);
    if (f->resident) {
        LEVI_TRY(levi_buffer_alloc(f->ctx, bytes, &f->cache_buf));
        LEVI_TRY(levi_buffer_alloc(f->ctx, n * sizeof(cl_int), &f->order_buf));
        f->horder = malloc(n * sizeof *f->horder);
        if (!f->horder) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for an order of %zu", n);
    } else {
        f->host_cache = malloc(bytes);
        if (!f->host_cache)
            return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for a feature cache of %zu x %zu floats", n,
                              F);
    }
    /* one pass in dataset order through the feed's staging */
    levi_loader pass;
    LEVI_TRY(levi_loader_init(&pass, f->ds, f->batch, 0, 0));
    levi_loader_epoch(&pass, 0);
    levi_tensor all = levi_tensor_view(f->ctx, f->cache_buf, 0, 2, (int[]){(int)n, (int)F});
    size_t done = 0;
    levi_status st = LEVI_OK;
    for (;;) {
        levi_batch b;
        st = upload_next(f, &pass, &b);
        if (st != LEVI_OK || !b.n) break;
        levi_tensor tf = levi_model_input_feats(f->m, b.n);
        levi_input in = {b.x, b.mask};
        st = levi_model_features_input(f->m, &in, &tf, b.n);
        if (st == LEVI_OK && f->resident) {
            levi_tensor rows = levi_tensor_rows(&all, (int)done, b.n);
            st = levi_tensor_copy(&rows, &tf);
        } else if (st == LEVI_OK) {
            st = levi_tensor_read_async(&tf, f->host_cache + done * F, 0, NULL, NULL);
        }
        if (st != LEVI_OK) break;
        done += (size_t)b.n;
    }
    /* the host copy is complete, and the pass's staging is free again */
    if (st == LEVI_OK && !f->resident) st = levi_finish(f->ctx);
    levi_loader_free(&pass);
    LEVI_TRY(st);
    f->cache_s = levi_now_s() - t0;
    if (f->resident) return LEVI_OK;
    /* chunks: a multiple of the batch, a sixteenth of the device at most */
    size_t per = (size_t)f->batch * F * sizeof(float), rows = cache_budget(f->ctx) / 4 / per;
    f->chunk_rows = (int)((rows ? rows : 1) * (size_t)f->batch);
    if (f->cache == 2) f->chunk_rows = 2 * f->batch; /* forced: small chunks, one upload every two batches */
    if ((size_t)f->chunk_rows > n) f->chunk_rows = (int)n;
    for (int i = 0; i < 2; i++) {
        LEVI_TRY(levi_buffer_alloc(f->ctx, (size_t)f->chunk_rows * F * sizeof(float), &f->chunk_buf[i]));
        f->hchunk[i] = malloc((size_t)f->chunk_rows * F * sizeof(float));
        if (!f->hchunk[i]) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for a feature chunk");
    }
    return LEVI_OK;
}

levi_status levi_feed_create(levi_feed **out, levi_model *m, const levi_dataset *ds, int batch, int shuffle,
                             unsigned long long seed, int cache) {
    levi_feed *f = NULL;
    levi_status st = init(out, m, ds, batch, shuffle, seed, &f);
    if (!f) return st;
    if (st == LEVI_OK && cache && !levi_model_feature_dim(m))
        st = levi_error(LEVI_ERR_INVALID_ARG, "method %s has no backbone features to cache",
                        levi_method_name(levi_model_get_config(m)->method));
    f->cache = st == LEVI_OK ? cache : 0;
    if (st == LEVI_OK && (cache < 0 || cache > 2))
        st = levi_error(LEVI_ERR_INVALID_ARG, "feed cache mode %d is not 0, 1 or 2", cache);
    /* x goes up when the task model reads it, or the backbone runs every step (or builds the cache);
     * a frozen backbone on its own device gets its batches from the pipe, which uploads them there */
    const int task = levi_model_get_config(m)->task.kind != LEVI_TASK_NONE;
    const int pipe = st == LEVI_OK && !f->cache && levi_model_features_cacheable(m) &&
                     levi_model_backbone_ctx(m) != levi_model_ctx(m);
    if (st == LEVI_OK) st = staging(f, pipe ? task : 1);
    if (st == LEVI_OK && pipe) st = levi_feature_pipe_create(&f->pipe, m, &f->loader);
    if (st == LEVI_OK && f->cache) st = build_cache(f);
    if (st == LEVI_OK && f->cache && !task) f->need_x = 0;
    if (st != LEVI_OK) {
        levi_feed_free(f);
        return st;
    }
    *out = f;
    return LEVI_OK;
}

levi_status levi_feed_create_with_features(levi_feed **out, levi_model *m, const levi_dataset *ds, int batch,
                                           const float *feats) {
    levi_feed *f = NULL;
    levi_status st = init(out, m, ds, batch, 0, 0, &f);
    if (!f) return st;
    if (st == LEVI_OK && (!levi_model_feature_dim(m) || !levi_model_features_cacheable(m)))
        st = levi_error(LEVI_ERR_INVALID_ARG, "precomputed features for a model without frozen backbone features");
    if (st == LEVI_OK) st = staging(f, levi_model_get_config(m)->task.kind != LEVI_TASK_NONE);
    if (st != LEVI_OK) {
        levi_feed_free(f);
        return st;
    }
    f->ext = feats;
    *out = f;
    return LEVI_OK;
}

levi_status levi_feed_epoch(levi_feed *f, int epoch) {
    levi_loader_epoch(&f->loader, epoch);
    f->chunk_len = 0;
    if (!f->cache || !f->resident) return LEVI_OK;
    /* the epoch's order goes up once; the previous upload must have left the host buffer */
    if (f->order_ev) {
        LEVI_TRY(levi_event_wait_backpressure(f->ctx, 1, &f->order_ev));
        levi_event_release(&f->order_ev);
    }
    memcpy(f->horder, f->loader.order, (size_t)f->ds->n * sizeof *f->horder);
    return levi_buffer_write(f->ctx, f->order_buf, 0, (size_t)f->ds->n * sizeof(cl_int), f->horder, 0, 0, NULL,
                             &f->order_ev);
}

/* Rows [p0, p0 + n) of the epoch's order out of the host cache, by chunks. */
static levi_status chunk_feats(levi_feed *f, int p0, int n, levi_tensor *out) {
    size_t F = (size_t)f->F;
    if (!f->chunk_len || p0 < f->chunk_start || p0 + n > f->chunk_start + f->chunk_len) {
        int s = f->chunk_slot = 1 - f->chunk_slot;
        if (f->chunk_ev[s]) {
            LEVI_TRY(levi_event_wait_backpressure(f->ctx, 1, &f->chunk_ev[s]));
            levi_event_release(&f->chunk_ev[s]);
        }
        int len = f->ds->n - p0 < f->chunk_rows ? f->ds->n - p0 : f->chunk_rows;
        for (int r = 0; r < len; r++)
            memcpy(f->hchunk[s] + (size_t)r * F, f->host_cache + (size_t)f->loader.order[p0 + r] * F, F * sizeof(float));
        LEVI_TRY(levi_buffer_write(f->ctx, f->chunk_buf[s], 0, (size_t)len * F * sizeof(float), f->hchunk[s], 0, 0,
                                   NULL, &f->chunk_ev[s]));
        f->chunk_start = p0;
        f->chunk_len = len;
    }
    levi_tensor c = levi_tensor_view(f->ctx, f->chunk_buf[f->chunk_slot], 0, 2, (int[]){f->chunk_len, f->F});
    *out = levi_tensor_rows(&c, p0 - f->chunk_start, n);
    return LEVI_OK;
}

levi_status levi_feed_next(levi_feed *f, levi_batch *b) {
    LEVI_TRY(upload_next(f, &f->loader, b));
    if (!b->n) return LEVI_OK;
    int p0 = f->loader.pos - b->n; /* the batch is order[p0 .. p0 + n) */
    if (f->ext) {
        b->feats = levi_model_input_feats(f->m, b->n);
        return levi_tensor_write_async(&b->feats, f->ext + (size_t)p0 * f->F, 0, NULL, NULL);
    }
    if (!f->cache) return LEVI_OK;
    if (!f->resident) return chunk_feats(f, p0, b->n, &b->feats);
    b->feats = levi_model_input_feats(f->m, b->n);
    levi_tensor all = levi_tensor_view(f->ctx, f->cache_buf, 0, 2, (int[]){f->ds->n, f->F});
    return levi_gather_rows(&b->feats, &all, f->order_buf, (size_t)p0, b->n, (size_t)f->F);
}

int levi_feed_cached(const levi_feed *f, int *resident) {
    if (resident) *resident = f->cache && f->resident;
    return f->cache;
}

double levi_feed_cache_seconds(const levi_feed *f) { return f->cache_s; }

void levi_feed_loader_stats(const levi_feed *f, levi_loader_stats *out) {
    levi_loader_stats_get(&f->loader, out);
}

levi_status levi_feed_read_cache(levi_feed *f, float *out) {
    size_t bytes = (size_t)f->ds->n * f->F * sizeof(float);
    if (!f->cache) return levi_error(LEVI_ERR_INVALID_ARG, "the feed caches no features");
    if (!f->resident) {
        memcpy(out, f->host_cache, bytes);
        return LEVI_OK;
    }
    return levi_buffer_read(f->ctx, f->cache_buf, 0, bytes, out, 1, 0, NULL, NULL);
}
