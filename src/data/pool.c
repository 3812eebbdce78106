/* A parallel for over the decoding of a data set: threads pull the next item
 * index from one atomic counter (items are of very different cost: JPEG
 * photographs of all sizes), the caller's thread works too. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "data_internal.h"

int data_workers(int workers) {
    if (workers > 0) return workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > 256 ? 256 : n) : 1;
}

typedef struct pfor {
    atomic_int next;
    int n;
    void (*fn)(void *, int, int);
    void *arg;
} pfor;

typedef struct pfor_thread {
    pfor *p;
    int worker;
} pfor_thread;

static void pfor_run(pfor *p, int worker) {
    for (;;) {
        int i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n) return;
        p->fn(p->arg, i, worker);
    }
}

static void *pfor_main(void *a) {
    pfor_thread *t = a;
    pfor_run(t->p, t->worker);
    return NULL;
}

void data_parallel_for(int n, int threads, void (*fn)(void *arg, int i, int worker), void *arg) {
    pfor p = {.n = n, .fn = fn, .arg = arg};
    atomic_init(&p.next, 0);
    if (threads > n) threads = n;
    pthread_t *tid = threads > 1 ? malloc(sizeof *tid * (size_t)threads) : NULL;
    pfor_thread *ta = threads > 1 ? malloc(sizeof *ta * (size_t)threads) : NULL;
    int started = 0;
    for (int t = 1; tid && ta && t < threads; t++) {
        ta[t] = (pfor_thread){&p, t};
        if (pthread_create(&tid[t], NULL, pfor_main, &ta[t]) != 0) break;
        started = t;
    }
    pfor_run(&p, 0); /* with fewer threads than asked (none started), this thread does the rest */
    for (int t = 1; t <= started; t++) pthread_join(tid[t], NULL);
    free(tid);
    free(ta);
}
