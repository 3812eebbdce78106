/* Seeded shuffling and batching over a decoded levi_dataset, with batches
 * prepared ahead by a pool of threads.
 *
 * The order of epoch e depends only on (seed, e): splitmix64 + Fisher-Yates,
 * integer arithmetic only, so every machine sees the same batches.
 *
 * Prefetch: up to LOADER_SLOTS batches are scheduled in order (a shuffling
 * loader runs on into the next epoch, whose order is known in advance);
 * workers take single images of the oldest unfinished batch, normalise them
 * through the preprocessor's table (augmenting first when the loader
 * shuffles) into the slot; a text's token ids and mask (tokenised when the
 * data set was loaded) are only converted to floats. levi_loader_next copies the oldest slot out once
 * it is complete, helping with its images while it is not. A call to
 * levi_loader_epoch that does not continue where the prefetch went cancels
 * it. Results never depend on the number of threads. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "levi/random.h"
#include "levi/runtime.h"

#define LOADER_SLOTS 3

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY };

typedef struct slot {
    int state, cancelled;
    int epoch, start, n; /* batch of epoch `epoch` at position `start` of its order, n images */
    int taken, done;     /* images handed to a thread / finished */
    int *idx;            /* n dataset indices */
    float *px, *mk, *lab; /* x (n, per), mask (n, T) of texts, labels (n) */
} slot;

typedef struct worker_arg {
    levi_loader *l;
    int who;
} worker_arg;

typedef struct levi_loader_pool {
    pthread_mutex_t mu;
    pthread_cond_t work, ready;
    pthread_t *threads;
    struct worker_arg *args;
    int nthreads, stop;
    slot slots[LOADER_SLOTS];
    int head, count;          /* scheduled slots, oldest first: slots[(head + k) % LOADER_SLOTS] */
    int fill_epoch, fill_pos; /* the next batch to schedule */
    int *fill_order;
    float table[LEVI_PRE_MAX_CHANNELS][256];
    unsigned augment;
    unsigned char **scratch; /* per thread (+1 for the caller): one augmented image */
    int nscratch;
    long images;
    double wait_s, prepare_s;
} loader_pool;

static void shuffle_order(int *order, int n, unsigned long long seed, int epoch, int shuffle) {
    for (int i = 0; i < n; i++) order[i] = i;
    if (!shuffle) return;
    unsigned long long st = seed;
    unsigned long long mix = levi_splitmix64(&st) ^ (0xd1b54a32d192ed03ULL * (unsigned long long)(epoch + 1));
    st = mix;
    for (int i = n - 1; i > 0; i--) {
        /* Uniform in [0, i] by a 32x32 → 64-bit multiply (no modulo bias to speak of). */
        unsigned long long r = levi_splitmix64(&st) >> 32;
        int j = (int)((r * (unsigned long long)(i + 1)) >> 32);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

size_t levi_dataset_sample_floats(const levi_dataset *ds) {
    if (ds->kind == LEVI_INPUT_TOKENS) return (size_t)(ds->seq_len > 0 ? ds->seq_len : 0);
    return (size_t)ds->channels * ds->height * ds->width;
}

/* a text's ids and mask as floats */
static void prepare_tokens(const levi_dataset *ds, int idx, float *x, float *mask) {
    size_t T = (size_t)ds->seq_len;
    const int *ids = ds->tokens + (size_t)idx * T;
    const unsigned char *m = ds->mask + (size_t)idx * T;
    for (size_t t = 0; t < T; t++) {
        x[t] = (float)ids[t];
        mask[t] = m[t] ? 1.0f : 0.0f;
    }
}

/* image (or text) k of slot s into the slot's buffers; `who` picks the scratch buffer */
static void prepare(levi_loader *l, slot *s, int k, int who) {
    loader_pool *p = l->pool_;
    const levi_dataset *ds = l->ds;
    double t0 = levi_now_s();
    int C = ds->channels, H = ds->height, W = ds->width, idx = s->idx[k];
    size_t per = levi_dataset_sample_floats(ds);
    const unsigned char *src = ds->kind == LEVI_INPUT_TOKENS ? NULL : ds->pixels + (size_t)idx * per;
    if (!src) prepare_tokens(ds, idx, s->px + (size_t)k * per, s->mk + (size_t)k * per);
    else if (p->augment) {
        unsigned long long rng = l->seed * 0x9e3779b97f4a7c15ULL + (unsigned long long)(s->epoch + 1) * 0xd1b54a32d192ed03ULL +
                                 (unsigned long long)(idx + 1) * 0x94d049bb133111ebULL;
        levi_splitmix64(&rng);
        data_augment(src, H, W, C, p->augment, rng, p->scratch[who]);
        src = p->scratch[who];
    }
    if (src) levi_preprocess_normalize((const float(*)[256])p->table, src, C, H, W, s->px + (size_t)k * per);
    s->lab[k] = (float)ds->labels[idx];
    double t = levi_now_s() - t0;
    pthread_mutex_lock(&p->mu);
    p->prepare_s += t;
    s->done++;
    if (s->done == s->taken && (s->cancelled || s->done == s->n)) {
        if (!s->cancelled) s->state = SLOT_READY;
        pthread_cond_broadcast(&p->ready);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Fill free slots with the next batches (locked). */
static void schedule(levi_loader *l) {
    loader_pool *p = l->pool_;
    int n = l->ds->n;
    while (p->count < LOADER_SLOTS) {
        if (p->fill_pos >= n) {
            /* only a shuffling (training) loader runs on into the next epoch */
            if (!l->shuffle || p->fill_epoch > l->epoch) return;
            p->fill_epoch++;
            p->fill_pos = 0;
            shuffle_order(p->fill_order, n, l->seed, p->fill_epoch, l->shuffle);
        }
        slot *s = &p->slots[(p->head + p->count) % LOADER_SLOTS];
        int b = n - p->fill_pos < l->batch ? n - p->fill_pos : l->batch;
        s->state = SLOT_FILLING;
        s->cancelled = 0;
        s->epoch = p->fill_epoch;
        s->start = p->fill_pos;
        s->n = b;
        s->taken = s->done = 0;
        memcpy(s->idx, p->fill_order + p->fill_pos, sizeof(int) * (size_t)b);
        p->fill_pos += b;
        p->count++;
        pthread_cond_broadcast(&p->work);
    }
}

/* The oldest scheduled slot with an image nobody took (locked), or NULL. */
static slot *next_work(loader_pool *p) {
    for (int k = 0; k < p->count; k++) {
        slot *s = &p->slots[(p->head + k) % LOADER_SLOTS];
        if (s->state == SLOT_FILLING && !s->cancelled && s->taken < s->n) return s;
    }
    return NULL;
}


static void *worker_main(void *a) {
    worker_arg *wa = a;
    levi_loader *l = wa->l;
    loader_pool *p = l->pool_;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        slot *s = next_work(p);
        if (!s) {
            pthread_cond_wait(&p->work, &p->mu);
            continue;
        }
        int k = s->taken++;
        pthread_mutex_unlock(&p->mu);
        prepare(l, s, k, wa->who);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void pool_free(levi_loader *l) {
    loader_pool *p = l->pool_;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->nthreads; t++) pthread_join(p->threads[t], NULL);
    free(p->threads);
    free(p->args);
    for (int k = 0; k < LOADER_SLOTS; k++) {
        free(p->slots[k].idx);
        free(p->slots[k].px);
        free(p->slots[k].mk);
        free(p->slots[k].lab);
    }
    for (int t = 0; p->scratch && t < p->nscratch; t++) free(p->scratch[t]);
    free(p->scratch);
    free(p->fill_order);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->ready);
    free(p);
    l->pool_ = NULL;
}

levi_status levi_loader_init(levi_loader *l, const levi_dataset *ds, int batch, unsigned long long seed,
                             int shuffle) {
    memset(l, 0, sizeof *l);
    const int text = ds && ds->kind == LEVI_INPUT_TOKENS;
    if (!ds || ds->n <= 0 || !ds->labels || (text ? !ds->tokens || !ds->mask : !ds->pixels))
        return levi_error(LEVI_ERR_INVALID_ARG, "loader: the dataset is empty");
    if (batch <= 0) return levi_error(LEVI_ERR_INVALID_ARG, "loader: batch size %d, expected > 0", batch);
    if (text && ds->seq_len < 1)
        return levi_error(LEVI_ERR_INVALID_ARG, "loader: texts of %d tokens, expected >= 1", ds->seq_len);
    if (!text && (ds->channels != ds->pre.channels || ds->channels < 1 || ds->channels > LEVI_PRE_MAX_CHANNELS))
        return levi_error(LEVI_ERR_INVALID_ARG, "loader: the dataset has %d channels, its preprocessing %d",
                          ds->channels, ds->pre.channels);
    l->ds = ds;
    l->batch = batch < ds->n ? batch : ds->n;
    l->seed = seed;
    l->shuffle = shuffle;
    loader_pool *p = calloc(1, sizeof *p);
    l->order = malloc(sizeof(int) * (size_t)ds->n);
    if (!p || !l->order) {
        free(p);
        free(l->order);
        l->order = NULL;
        return levi_error(LEVI_ERR_HOST_MEMORY, "loader: out of host memory for %d indices", ds->n);
    }
    l->pool_ = p;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->ready, NULL);
    p->augment = shuffle && !text ? ds->augment : 0;
    if (!text) levi_preprocess_table(&ds->pre, p->table);
    size_t per = levi_dataset_sample_floats(ds);
    int threads = data_workers(ds->workers);
    levi_status st = LEVI_OK;
    p->fill_order = malloc(sizeof(int) * (size_t)ds->n);
    p->threads = malloc(sizeof *p->threads * (size_t)threads);
    p->args = malloc(sizeof *p->args * (size_t)threads);
    p->scratch = calloc((size_t)threads + 1, sizeof *p->scratch);
    p->nscratch = p->scratch ? threads + 1 : 0;
    if (!p->fill_order || !p->threads || !p->args || !p->scratch) st = LEVI_ERR_HOST_MEMORY;
    for (int k = 0; st == LEVI_OK && k < LOADER_SLOTS; k++) {
        slot *s = &p->slots[k];
        s->idx = malloc(sizeof(int) * (size_t)l->batch);
        s->px = malloc(sizeof(float) * per * (size_t)l->batch);
        s->mk = text ? malloc(sizeof(float) * per * (size_t)l->batch) : NULL;
        s->lab = malloc(sizeof(float) * (size_t)l->batch);
        if (!s->idx || !s->px || !s->lab || (text && !s->mk)) st = LEVI_ERR_HOST_MEMORY;
    }
    for (int t = 0; st == LEVI_OK && p->augment && t <= threads; t++)
        if (!(p->scratch[t] = malloc(per))) st = LEVI_ERR_HOST_MEMORY;
    if (st != LEVI_OK) {
        pool_free(l);
        levi_loader_free(l);
        return levi_error(LEVI_ERR_HOST_MEMORY, "loader: out of host memory for %d batches of %d images of %zu floats",
                          LOADER_SLOTS, batch, per);
    }
    shuffle_order(l->order, ds->n, seed, 0, shuffle);
    memcpy(p->fill_order, l->order, sizeof(int) * (size_t)ds->n);
    for (int t = 0; t < threads; t++) {
        p->args[t] = (worker_arg){l, t + 1};
        if (pthread_create(&p->threads[t], NULL, worker_main, &p->args[t]) != 0) break;
        p->nthreads++;
    }
    /* without any thread the caller prepares every image itself in levi_loader_next */
    pthread_mutex_lock(&p->mu);
    schedule(l);
    pthread_mutex_unlock(&p->mu);
    return LEVI_OK;
}

void levi_loader_epoch(levi_loader *l, int epoch) {
    loader_pool *p = l->pool_;
    int n = l->ds->n;
    pthread_mutex_lock(&p->mu);
    l->epoch = epoch;
    l->pos = 0;
    shuffle_order(l->order, n, l->seed, epoch, l->shuffle);
    slot *h = &p->slots[p->head];
    if (!(p->count > 0 && h->epoch == epoch && h->start == 0)) {
        /* the prefetch went elsewhere: cancel it, wait for images in flight */
        for (int k = 0; k < p->count; k++) p->slots[(p->head + k) % LOADER_SLOTS].cancelled = 1;
        for (int k = 0; k < p->count; k++) {
            slot *s = &p->slots[(p->head + k) % LOADER_SLOTS];
            while (s->done < s->taken) pthread_cond_wait(&p->ready, &p->mu);
            s->state = SLOT_FREE;
        }
        p->head = 0;
        p->count = 0;
        p->fill_epoch = epoch;
        p->fill_pos = 0;
        memcpy(p->fill_order, l->order, sizeof(int) * (size_t)n);
    }
    schedule(l);
    pthread_mutex_unlock(&p->mu);
}

// images (batch,C,H,W), labels (batch)
int levi_loader_next(levi_loader *l, float *images, float *labels) {
    return levi_loader_next_input(l, images, NULL, labels);
}

// x (batch,C,H,W) or (batch,T), mask (batch,T) of texts, labels (batch)
int levi_loader_next_input(levi_loader *l, float *x, float *mask, float *labels) {
    loader_pool *p = l->pool_;
    if (l->pos >= l->ds->n) return 0;
    double t0 = levi_now_s();
    pthread_mutex_lock(&p->mu);
    schedule(l);
    slot *s = &p->slots[p->head];
    /* s is batch (l->epoch, l->pos): levi_loader_epoch keeps that invariant */
    while (s->state != SLOT_READY) {
        if (s->taken < s->n) {
            int k = s->taken++;
            pthread_mutex_unlock(&p->mu);
            prepare(l, s, k, 0);
            pthread_mutex_lock(&p->mu);
        } else {
            pthread_cond_wait(&p->ready, &p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    int b = s->n;
    size_t per = levi_dataset_sample_floats(l->ds);
    memcpy(x, s->px, sizeof(float) * per * (size_t)b);
    if (mask && s->mk) memcpy(mask, s->mk, sizeof(float) * per * (size_t)b);
    memcpy(labels, s->lab, sizeof(float) * (size_t)b);
    pthread_mutex_lock(&p->mu);
    s->state = SLOT_FREE;
    p->head = (p->head + 1) % LOADER_SLOTS;
    p->count--;
    l->pos += b;
    schedule(l);
    p->images += b;
    p->wait_s += levi_now_s() - t0;
    pthread_mutex_unlock(&p->mu);
    return b;
}

void levi_loader_stats_get(const levi_loader *l, levi_loader_stats *out) {
    memset(out, 0, sizeof *out);
    loader_pool *p = l->pool_;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    out->images = p->images;
    out->wait_s = p->wait_s;
    out->prepare_s = p->prepare_s;
    out->workers = p->nthreads;
    pthread_mutex_unlock(&p->mu);
}

void levi_loader_free(levi_loader *l) {
    pool_free(l);
    free(l->order);
    memset(l, 0, sizeof *l);
}
