/* The text-shift benchmark: Debian package descriptions, the package name as
 * a shortcut that holds in train and test-id and is shuffled in test-ood
 * (levi/text.h says what each split holds). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "levi/random.h"
#include "levi/files.h"
#include "levi/json_util.h"
#include "levi/runtime.h"
#include "text_shift_internal.h"

#define MAX_SHIFT_CLASSES 64
#define MIN_PER_SIDE 10

enum { TRAIN, TEST_ID, TEST_OOD, TEST_NONAME, NSPLITS };
static const char *const k_split_file[NSPLITS] = {"train", "test-id", "test-ood", "test-noname"};

void levi_text_shift_defaults(levi_text_shift_params *p) {
    memset(p, 0, sizeof *p);
    p->source_name = "apt-cache dumpavail";
    p->classes = LEVI_TEXT_SHIFT_CLASSES;
    p->train_per_class = 150;
    p->test_per_class = 100;
    p->rho = 0.9;
}

static unsigned long long fnv64(const char *s) {
    unsigned long long h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* A uniform 64-bit key of a string and a stream number. */
static unsigned long long key_of(const char *s, unsigned long long stream) {
    unsigned long long st = fnv64(s) ^ (stream * 0x9e3779b97f4a7c15ULL);
    return levi_splitmix64(&st);
}

static double uniform(unsigned long long *state) { return (double)(levi_splitmix64(state) >> 11) * 0x1.0p-53; }

typedef struct pick {
    const deb_package *pkg;
    int cls;
    unsigned long long order;
} pick;

static int cmp_pick(const void *a, const void *b) {
    const pick *x = a, *y = b;
    if (x->cls != y->cls) return x->cls - y->cls;
    if (x->order != y->order) return x->order < y->order ? -1 : 1;
    return strcmp(x->pkg->name, y->pkg->name);
}

static int transitional(const char *d) {
    return strcasestr(d, "transitional") || strcasestr(d, "dummy package");
}

/* "a,b,c" -> names (validated: sections are [a-z0-9+.-]). */
static levi_status parse_classes(const char *list, char names[][32], int *n) {
    *n = 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len >= 32)
            return levi_error(LEVI_ERR_INVALID_ARG, "text-shift: bad class list '%s' (expected sections such as "
                              "games,sound)", list);
        if (*n == MAX_SHIFT_CLASSES)
            return levi_error(LEVI_ERR_INVALID_ARG, "text-shift: more than %d classes", MAX_SHIFT_CLASSES);
        memcpy(names[*n], p, len);
        names[*n][len] = '\0';
        for (size_t i = 0; i < len; i++)
            if (!islower((unsigned char)p[i]) && !isdigit((unsigned char)p[i]) && !strchr("+-.", p[i]))
                return levi_error(LEVI_ERR_INVALID_ARG, "text-shift: '%s' is not a Debian section name", names[*n]);
        for (int k = 0; k < *n; k++)
            if (!strcmp(names[k], names[*n]))
                return levi_error(LEVI_ERR_INVALID_ARG, "text-shift: class '%s' given twice", names[k]);
        (*n)++;
        p += len + (e ? 1 : 0);
    }
    if (*n < 2) return levi_error(LEVI_ERR_INVALID_ARG, "text-shift: needs at least two classes");
    return LEVI_OK;
}

/* --- output -------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* 0: absent, 1: empty folder, 2: non-empty folder, 3: something else. */
static int out_state(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return 0;
    if (!S_ISDIR(sb.st_mode)) return 3;
    DIR *d = opendir(path);
    if (!d) return 2;
    struct dirent *e;
    int any = 0;
    while (!any && (e = readdir(d)) != NULL) any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return any ? 2 : 1;
}

/* One JSON line {"text": ..., "label": ..., "package": ...}. */
static levi_status write_row(FILE *f, const char *text, const char *label, const char *package) {
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (o && cJSON_AddStringToObject(o, "text", text) && cJSON_AddStringToObject(o, "label", label) &&
        cJSON_AddStringToObject(o, "package", package))
        s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    int bad = fputs(s, f) == EOF || fputc('\n', f) == EOF;
    free(s);
    return bad ? levi_error(LEVI_ERR_IO, "write failed: %s", strerror(errno)) : LEVI_OK;
}

typedef struct shift_job {
    const levi_text_shift_params *p;
    char classes[MAX_SHIFT_CLASSES][32];
    int ncls;
    pick *side[2]; /* chosen packages: train, test (sorted by class, then order) */
    int nside[2];
} shift_job;

static levi_status write_split(const shift_job *j, const char *dir, int split, cJSON *js, sha256_ctx *used) {
    int side = split == TRAIN ? 0 : 1;
    const pick *v = j->side[side];
    int n = j->nside[side];
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.jsonl", dir, k_split_file[split]);
    FILE *f = fopen(path, "wb");
    if (!f) return levi_error(LEVI_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    /* rows interleave the classes in a seeded order; names come from a stream of their own */
    unsigned long long rng = j->p->seed * 0x9e3779b97f4a7c15ULL + (unsigned long long)split + 1;
    int *order = malloc((size_t)n * sizeof *order), counts[MAX_SHIFT_CLASSES] = {0}, agree = 0;
    levi_status st = order ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    for (int i = 0; i < n && st == LEVI_OK; i++) order[i] = i;
    for (int i = n - 1; i > 0 && st == LEVI_OK; i--) {
        int k = (int)(levi_splitmix64(&rng) % (unsigned long long)(i + 1)), t = order[i];
        order[i] = order[k];
        order[k] = t;
    }
    for (int i = 0; i < n && st == LEVI_OK; i++) {
        const pick *r = &v[order[i]];
        const char *shown = r->pkg->name;
        double u = uniform(&rng);
        int other = (int)(levi_splitmix64(&rng) % (unsigned long long)n);
        if (split == TEST_OOD || (split != TEST_NONAME && u >= j->p->rho)) shown = v[other].pkg->name;
        char *text = malloc(strlen(shown) + strlen(r->pkg->description) + 3);
        if (!text) {
            st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
            break;
        }
        if (split == TEST_NONAME) strcpy(text, r->pkg->description);
        else sprintf(text, "%s: %s", shown, r->pkg->description);
        st = write_row(f, text, j->classes[r->cls], r->pkg->name);
        free(text);
        counts[r->cls]++;
        if (split != TEST_NONAME) agree += v[other].cls == r->cls || shown == r->pkg->name;
        if (split <= TEST_ID) { /* the records used, once per package */
            sha256_update(used, r->pkg->name, strlen(r->pkg->name) + 1);
            sha256_update(used, r->pkg->section, strlen(r->pkg->section) + 1);
            sha256_update(used, r->pkg->description, strlen(r->pkg->description) + 1);
        }
    }
    free(order);
    if (fclose(f) != 0 && st == LEVI_OK) st = levi_error(LEVI_ERR_IO, "write to '%s' failed: %s", path, strerror(errno));
    if (st != LEVI_OK) return st;
    cJSON_AddNumberToObject(js, "rows", n);
    cJSON *jc = cJSON_AddObjectToObject(js, "counts");
    for (int c = 0; c < j->ncls; c++) cJSON_AddNumberToObject(jc, j->classes[c], counts[c]);
    cJSON_AddStringToObject(js, "name", split == TEST_NONAME ? "none"
                                        : split == TEST_OOD   ? "random package"
                                                              : "own with probability rho, else random");
    if (split != TEST_NONAME) cJSON_AddNumberToObject(js, "name_class_agrees_with_label", n ? (double)agree / n : 0);
    return LEVI_OK;
}

static int cmp_desc(const void *a, const void *b) {
    return strcmp((*(const deb_package *const *)a)->description, (*(const deb_package *const *)b)->description);
}

/* Choose the packages of each side: in a class, one per source, not
 * transitional, no description that occurs twice, the first N by the seeded
 * order. */
static levi_status choose(shift_job *j, const deb_package *pk, int npk) {
    const deb_package **cand = malloc((size_t)npk * sizeof *cand);
    int nc = 0;
    if (!cand) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    for (int i = 0; i < npk; i++)
        for (int c = 0; c < j->ncls; c++)
            if (!strcmp(pk[i].section, j->classes[c]) && !transitional(pk[i].description)) cand[nc++] = &pk[i];
    qsort(cand, (size_t)nc, sizeof *cand, cmp_desc);
    for (int i = 0; i < nc; i++) { /* mark every member of a duplicate group */
        int k = i;
        while (k + 1 < nc && !strcmp(cand[k + 1]->description, cand[i]->description)) k++;
        if (k > i)
            for (int m = i; m <= k; m++) cand[m] = NULL;
        i = k;
    }
    for (int s = 0; s < 2; s++) {
        j->side[s] = malloc((size_t)(nc ? nc : 1) * sizeof *j->side[s]);
        if (!j->side[s]) {
            free(cand);
            return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        }
    }
    for (int i = 0; i < nc; i++) {
        if (!cand[i]) continue;
        int cls = 0;
        while (strcmp(cand[i]->section, j->classes[cls])) cls++;
        int s = key_of(cand[i]->source, 0x7e57) >> 63; /* the side depends on the source only */
        j->side[s][j->nside[s]++] = (pick){cand[i], cls, key_of(cand[i]->name, j->p->seed + 1)};
    }
    free(cand);
    levi_status st = LEVI_OK;
    for (int s = 0; s < 2 && st == LEVI_OK; s++) {
        pick *v = j->side[s];
        int n = j->nside[s], k = 0, want = s == 0 ? j->p->train_per_class : j->p->test_per_class;
        qsort(v, (size_t)n, sizeof *v, cmp_pick);
        for (int i = 0; i < n;) {
            int cls = v[i].cls, taken = 0, start = k;
            for (; i < n && v[i].cls == cls; i++) {
                int dup = 0;
                for (int m = start; m < k && !dup; m++) dup = !strcmp(v[m].pkg->source, v[i].pkg->source);
                if (!dup && taken < want) {
                    v[k++] = v[i];
                    taken++;
                }
            }
        }
        j->nside[s] = k;
        int per[MAX_SHIFT_CLASSES] = {0};
        for (int i = 0; i < k; i++) per[v[i].cls]++;
        for (int c = 0; c < j->ncls && st == LEVI_OK; c++)
            if (per[c] < (want < MIN_PER_SIDE ? want : MIN_PER_SIDE))
                st = levi_error(LEVI_ERR_FORMAT,
                                "text-shift: section '%s' has %d usable packages on the %s side, fewer than %d "
                                "(is the package list complete? run apt-get update)",
                                j->classes[c], per[c], s ? "test" : "train", want < MIN_PER_SIDE ? want : MIN_PER_SIDE);
    }
    return st;
}

static levi_status generate(shift_job *j, const char *tmp, int skipped, int npk) {
    const levi_text_shift_params *p = j->p;
    LEVI_TRY(levi_mkdirs(tmp));
    char src_hash[65], used_hash[65], seed[32];
    sha256_ctx h;
    sha256_init(&h);
    sha256_update(&h, p->data, p->len);
    sha256_hex(&h, src_hash);
    sha256_ctx used;
    sha256_init(&used);
    cJSON *root = cJSON_CreateObject();
    if (!root) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    cJSON_AddStringToObject(root, "format", "levi-text-shift");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "source", p->source_name ? p->source_name : "");
    cJSON_AddStringToObject(root, "source_sha256", src_hash);
    cJSON_AddNumberToObject(root, "source_packages", npk);
    cJSON_AddNumberToObject(root, "source_stanzas_skipped_bad_utf8", skipped);
    const char *names[MAX_SHIFT_CLASSES];
    for (int c = 0; c < j->ncls; c++) names[c] = j->classes[c];
    cJSON_AddItemToObject(root, "classes", cJSON_CreateStringArray(names, j->ncls));
    cJSON_AddNumberToObject(root, "train_per_class", p->train_per_class);
    cJSON_AddNumberToObject(root, "test_per_class", p->test_per_class);
    cJSON_AddNumberToObject(root, "rho", p->rho);
    snprintf(seed, sizeof seed, "%llu", p->seed);
    cJSON_AddStringToObject(root, "seed", seed);
    cJSON_AddStringToObject(root, "text", "<name>: <first line of Description> (test-noname: the description)");
    cJSON *splits = cJSON_AddObjectToObject(root, "splits");
    levi_status st = LEVI_OK;
    for (int s = 0; s < NSPLITS && st == LEVI_OK; s++)
        st = write_split(j, tmp, s, cJSON_AddObjectToObject(splits, k_split_file[s]), &used);
    sha256_hex(&used, used_hash);
    cJSON_AddStringToObject(root, "records_sha256", used_hash);
    if (st == LEVI_OK) {
        char path[4096];
        snprintf(path, sizeof path, "%s/manifest.json", tmp);
        st = levi_json_write_atomic(path, root);
    }
    cJSON_Delete(root);
    return st;
}

levi_status levi_text_shift(const levi_text_shift_params *p) {
    if (!p || !p->out || !*p->out) return levi_error(LEVI_ERR_INVALID_ARG, "text-shift: no output folder given");
    if (!p->data && p->len) return levi_error(LEVI_ERR_INVALID_ARG, "text-shift: no source text");
    if (!(p->rho >= 0 && p->rho <= 1))
        return levi_error(LEVI_ERR_INVALID_ARG, "text-shift: rho %g, expected 0..1", p->rho);
    if (p->train_per_class < 1 || p->test_per_class < 1)
        return levi_error(LEVI_ERR_INVALID_ARG, "text-shift: rows per class must be positive (train %d, test %d)",
                          p->train_per_class, p->test_per_class);
    shift_job j = {.p = p};
    LEVI_TRY(parse_classes(p->classes ? p->classes : LEVI_TEXT_SHIFT_CLASSES, j.classes, &j.ncls));
    int state = out_state(p->out);
    if (state == 3) return levi_error(LEVI_ERR_IO, "output '%s' exists and is not a folder", p->out);
    if (state == 2 && !p->force)
        return levi_error(LEVI_ERR_INVALID_ARG, "output folder '%s' is not empty (pass --force to replace it)", p->out);
    deb_package *pk;
    int npk, skipped;
    LEVI_TRY(deb_packages_parse(p->data, p->len, &pk, &npk, &skipped));
    levi_status st = npk ? LEVI_OK
                         : levi_error(LEVI_ERR_FORMAT, "text-shift: '%s' holds no package stanzas (expected the "
                                      "output of apt-cache dumpavail)", p->source_name ? p->source_name : "source");
    if (st == LEVI_OK) st = choose(&j, pk, npk);
    size_t n = strlen(p->out);
    char *tmp = malloc(n + 64);
    if (st == LEVI_OK && !tmp) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    if (tmp) tmp[0] = '\0';
    if (st == LEVI_OK) {
        while (n > 1 && p->out[n - 1] == '/') n--;
        snprintf(tmp, n + 64, "%.*s.tmp.%ld", (int)n, p->out, (long)getpid());
        rm_tree(tmp);
        st = generate(&j, tmp, skipped, npk);
    }
    /* swap in without a moment where p->out is missing (levi/files.h) */
    if (st == LEVI_OK) st = levi_dir_publish(tmp, p->out);
    if (st != LEVI_OK && tmp && tmp[0]) rm_tree(tmp);
    free(tmp);
    free(j.side[0]);
    free(j.side[1]);
    deb_packages_free(pk, npk);
    return st;
}
