/* Cache keys, completion markers, locks, in-process command runs with their
 * output in a log file, and the progress line of `levi-cl demo`. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "demo_stage.h"

void demo_key(char out[17], const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    levi_hash128 h;
    levi_hash_init(&h);
    levi_hash_str(&h, buf);
    char hex[33];
    levi_hash_hex(&h, hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

cJSON *demo_marker_read(const char *path, const char *key) {
    char *text;
    size_t len;
    if (access(path, F_OK) != 0 || levi_read_file(path, &text, &len) != LEVI_OK) {
        levi_error_clear();
        return NULL;
    }
    cJSON *obj = cJSON_Parse(text);
    free(text);
    if (!obj) return NULL;
    cJSON *k = cJSON_GetObjectItemCaseSensitive(obj, "key");
    if (!cJSON_IsString(k) || strcmp(k->valuestring, key)) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

levi_status demo_marker_write(const char *path, const char *key, cJSON *obj) {
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "key");
    cJSON_AddStringToObject(obj, "key", key);
    char *text = cJSON_Print(obj);
    if (!text) return levi_error(LEVI_ERR_HOST_MEMORY, "out of memory writing '%s'", path);
    levi_status st = levi_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

/* --- contents of a finished stage ------------------------------------------------ */

typedef struct tree_sum {
    long long files, bytes;
    unsigned long long a, b; /* sum of per-file hashes: independent of the walk's order */
    int hash;
    size_t root_len;
    int failed;
} tree_sum;

/* nftw has no user pointer; the demo runs one walk at a time on one thread. */
static tree_sum *g_sum;

static int sum_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)ftw;
    tree_sum *t = g_sum;
    if (flag != FTW_F || !S_ISREG(sb->st_mode) || !strcmp(path + t->root_len, "/complete.json")) return 0;
    t->files++;
    t->bytes += (long long)sb->st_size;
    levi_hash128 h;
    levi_hash_init(&h);
    levi_hash_str(&h, path + t->root_len); /* the name relative to the folder */
    char size[32];
    snprintf(size, sizeof size, "%lld", (long long)sb->st_size);
    levi_hash_str(&h, size);
    if (t->hash) {
        char *data;
        size_t len;
        if (levi_read_file(path, &data, &len) != LEVI_OK) {
            levi_error_clear();
            t->failed = 1;
            return 1;
        }
        levi_hash_update(&h, data, len);
        free(data);
    }
    t->a += h.a;
    t->b += h.b;
    return 0;
}

/* The summary of dir, skipping its marker complete.json; NULL when unreadable. */
static cJSON *tree_summary(const char *dir, int hash) {
    tree_sum t = {.hash = hash, .root_len = strlen(dir)};
    g_sum = &t;
    int rc = nftw(dir, sum_entry, 16, FTW_PHYS);
    g_sum = NULL;
    if (rc != 0 || t.failed) return NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char hex[40];
    snprintf(hex, sizeof hex, "%016llx%016llx", t.a, t.b);
    cJSON_AddNumberToObject(o, "files", (double)t.files);
    cJSON_AddNumberToObject(o, "bytes", (double)t.bytes);
    cJSON_AddStringToObject(o, "digest", hex);
    return o;
}

levi_status demo_contents_add(cJSON *marker, const char *dir, int hash) {
    cJSON *o = tree_summary(dir, hash);
    if (!o) return levi_error(LEVI_ERR_IO, "cannot read back '%s' to record its contents", dir);
    cJSON_DeleteItemFromObjectCaseSensitive(marker, "contents");
    cJSON_AddItemToObject(marker, "contents", o);
    return LEVI_OK;
}

int demo_contents_ok(const cJSON *marker, const char *dir, int hash) {
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(marker, "contents");
    cJSON *got = tree_summary(dir, hash);
    int ok = want && got && cJSON_Compare(want, got, 1);
    if (!ok) {
        const cJSON *wf = cJSON_GetObjectItemCaseSensitive(want, "files"), *gf = cJSON_GetObjectItemCaseSensitive(got, "files");
        LEVI_WARN("the cached '%s' is damaged (%s; %d files recorded, %d found): rebuilding it", dir,
                  !want ? "no record of its contents" : !got ? "unreadable" : "files changed",
                  cJSON_IsNumber(wf) ? wf->valueint : -1, cJSON_IsNumber(gf) ? gf->valueint : -1);
    }
    cJSON_Delete(got);
    return ok;
}

int demo_lock(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

void demo_unlock(int fd) {
    if (fd >= 0) close(fd);
}

/* --- Ctrl-C ------------------------------------------------------------------ */

/* Where the interrupt message goes: the terminal's stderr, also while a
 * command's stderr is redirected into its log. */
static volatile sig_atomic_t g_term_fd = STDERR_FILENO;

static void on_sigint(int sig) {
    static const char msg[] =
        "\nlevi-cl demo: interrupted. Finished stages are kept: run the same command again to resume.\n";
    ssize_t w = write(g_term_fd, msg, sizeof msg - 1);
    (void)w;
    signal(sig, SIG_DFL);
    raise(sig);
}

void demo_sigint_install(void) { signal(SIGINT, on_sigint); }

void demo_sigint_restore(void) { signal(SIGINT, SIG_DFL); }

/* --- progress --------------------------------------------------------------- */

void demo_progress_init(demo_progress *p, int n_stages) {
    memset(p, 0, sizeof *p);
    p->n_stages = n_stages;
    for (int i = 0; i < DEMO_MAX_STAGES; i++) p->actual[i] = -1;
    p->tty = isatty(STDERR_FILENO);
    p->err_fd = STDERR_FILENO;
    p->t_start = levi_now_s();
}

double demo_eta(const demo_progress *p, int k, double elapsed) {
    /* speed: measured / estimated over the finished stages that ran */
    double est_done = 0, act_done = 0;
    for (int i = 0; i < p->n_stages; i++)
        if (p->actual[i] > 0 && p->est[i] > 0) {
            est_done += p->est[i];
            act_done += p->actual[i];
        }
    double speed = est_done > 1 ? act_done / est_done : 1;
    if (speed < 0.2) speed = 0.2;
    if (speed > 5) speed = 5;
    double cur = p->est[k] * speed - elapsed;
    if (cur < 0) cur = 0;
    double rest = 0;
    for (int i = k + 1; i < p->n_stages; i++) rest += p->est[i] * speed;
    return cur + rest;
}

void demo_fmt_time(char *out, size_t len, double s) {
    if (s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(out, len, "%ld:%02ld", t / 60, t % 60);
}

/* The last complete JSON line of a metrics file: step and loss. */
static int last_metrics(const char *path, long *step, double *loss, int *epoch) {
    if (!path) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[4096];
    long size = 0;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    long from = size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] != '\n') buf[--n] = '\0'; /* drop a line being written */
    if (n == 0) return 0;
    buf[--n] = '\0';
    char *line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    cJSON *o = cJSON_Parse(line);
    if (!o) return 0;
    cJSON *s = cJSON_GetObjectItem(o, "step"), *l = cJSON_GetObjectItem(o, "loss"), *e = cJSON_GetObjectItem(o, "epoch");
    int ok = cJSON_IsNumber(s) && cJSON_IsNumber(l);
    if (ok) {
        *step = (long)s->valuedouble;
        *loss = l->valuedouble;
        *epoch = cJSON_IsNumber(e) ? e->valueint : -1;
    }
    cJSON_Delete(o);
    return ok;
}

typedef struct heartbeat {
    demo_progress *p;
    int k;
    const char *label;
    const char *metrics;
    double t0;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
} heartbeat;

static void heartbeat_line(heartbeat *h, int final) {
    double el = levi_now_s() - h->t0;
    char e[32], eta[32], m[96] = "";
    demo_fmt_time(e, sizeof e, el);
    demo_fmt_time(eta, sizeof eta, demo_eta(h->p, h->k, el));
    long step;
    double loss;
    int epoch;
    if (last_metrics(h->metrics, &step, &loss, &epoch)) {
        if (epoch >= 0) snprintf(m, sizeof m, ", epoch %d step %ld loss %.4f", epoch, step, loss);
        else snprintf(m, sizeof m, ", step %ld loss %.4f", step, loss);
    }
    char line[512];
    int n = snprintf(line, sizeof line, "%sstage %d/%d: %s — %s%s — ETA %s%s", h->p->tty ? "\r" : "", h->k + 1,
                     h->p->n_stages, h->label, e, m, eta, h->p->tty ? (final ? "\033[K\n" : "\033[K") : "\n");
    if (n > 0) {
        ssize_t w = write(h->p->err_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)w;
    }
}

static void *heartbeat_main(void *arg) {
    heartbeat *h = arg;
    double period = h->p->tty ? 1.0 : 15.0;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)period;
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
        if (!h->stop) heartbeat_line(h, 0);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int demo_run(demo_progress *p, int k, const char *label, const char *log_path, const char *stdout_path,
             const char *metrics_path, int argc, char **argv, const cli_env *env) {
    cli_command_fn fn = NULL;
    for (const cli_command *c = k_commands; c->name; c++)
        if (!strcmp(c->name, argv[0])) fn = c->fn;
    if (!fn) {
        dprintf(p->err_fd, "levi-cl demo: the command '%s' is not built into this levi-cl\n", argv[0]);
        return 127;
    }
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        dprintf(p->err_fd, "levi-cl demo: cannot write '%s': %s\n", log_path, strerror(errno));
        return 1;
    }
    int out_fd = stdout_path ? open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : dup(log_fd);
    if (out_fd < 0) {
        dprintf(p->err_fd, "levi-cl demo: cannot write '%s': %s\n", stdout_path, strerror(errno));
        close(log_fd);
        return 1;
    }
    /* the command line, for the log */
    dprintf(log_fd, "$ levi-cl");
    for (int i = 0; i < argc; i++) dprintf(log_fd, " %s", argv[i]);
    dprintf(log_fd, "\n");
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    p->err_fd = saved_err;
    g_term_fd = saved_err;
    dup2(out_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    close(out_fd);
    close(log_fd);

    int first = p->announced != k + 1;
    if (first) {
        p->announced = k + 1;
        p->stage_t0 = levi_now_s();
    }
    heartbeat h = {.p = p, .k = k, .label = label, .metrics = metrics_path, .t0 = p->stage_t0};
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    if (first || p->tty) heartbeat_line(&h, 0);
    pthread_t th;
    int have_thread = pthread_create(&th, NULL, heartbeat_main, &h) == 0;

    /* the command may rewrite argv (main() does): give it a copy */
    char *args[64];
    int n = argc < 63 ? argc : 63;
    for (int i = 0; i < n; i++) args[i] = argv[i];
    args[n] = NULL;
    int rc = fn(n, args, env);

    if (have_thread) {
        pthread_mutex_lock(&h.mu);
        h.stop = 1;
        pthread_cond_signal(&h.cv);
        pthread_mutex_unlock(&h.mu);
        pthread_join(th, NULL);
    }
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    g_term_fd = STDERR_FILENO;
    close(saved_out);
    close(saved_err);
    p->err_fd = STDERR_FILENO;
    if (p->tty) {
        /* leave the last progress state on its own line only when done */
        ssize_t w = write(STDERR_FILENO, "\r\033[K", 4);
        (void)w;
    }
    pthread_cond_destroy(&h.cv);
    pthread_mutex_destroy(&h.mu);
    return rc;
}

void demo_print_tail(const char *path, int lines) {
    char *text;
    size_t len;
    if (levi_read_file(path, &text, &len) != LEVI_OK) {
        levi_error_clear();
        return;
    }
    /* progress bars rewrite a line with \r: show only the last state */
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\r') text[i] = '\n';
    size_t start = len;
    int seen = 0;
    while (start > 0) {
        if (text[start - 1] == '\n' && start < len && ++seen > lines) break;
        start--;
    }
    fprintf(stderr, "  --- last lines of %s ---\n", path);
    char *save = NULL;
    for (char *l = strtok_r(text + start, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        fprintf(stderr, "  | %s\n", l);
    free(text);
}

void demo_shell_quote(char *out, size_t len, const char *s) {
    int plain = *s != '\0';
    for (const char *c = s; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,", *c)) plain = 0;
    if (plain) {
        snprintf(out, len, "%s", s);
        return;
    }
    size_t o = 0;
    if (o + 1 < len) out[o++] = '\'';
    for (; *s && o + 5 < len; s++) {
        if (*s == '\'') {
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else out[o++] = *s;
    }
    if (o + 1 < len) out[o++] = '\'';
    out[o] = '\0';
}
