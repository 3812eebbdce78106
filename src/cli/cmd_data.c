/* levi-cl data: generate the fashion-shift benchmark, draw a contact sheet of
 * it, print its per-split, per-class counts. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "data_text.h"

static const char *k_usage =
    "usage: levi-cl data fashion-shift --out DIR [--source DIR] [--subdomain invert|edges|blur]\n"
    "                                  [--rho-a P] [--rho-b P] [--seed N] [--limit N] [--force]\n"
    "       levi-cl data show DIR --out SHEET.png [--per-class N] [--scale S]\n"
    "       levi-cl data stats DIR [--json]\n"
    "\n"
    "fashion-shift  write the shift benchmark of DESIGN.md section 2 from Fashion-MNIST:\n"
    "               DIR/{pretrain,train,test-id,test-ood}/<class>/<index>.png and DIR/manifest.json.\n"
    "  --source DIR     folder with the four *-idx?-ubyte.gz files\n"
    "                   (default /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist)\n"
    "  --subdomain S    target-domain transform of train/test: invert (default), edges, blur\n"
    "  --rho-a P        P(class-linked background texture) in pretrain (default 0.9)\n"
    "  --rho-b P        P(class-linked corner marker) in train and test-id (default 0.9)\n"
    "  --seed N         seed of every random choice (default 0); same arguments, same bytes\n"
    "  --limit N        at most N images per split (quick runs, tests)\n"
    "  --force          replace a non-empty DIR\n"
    "show           a contact sheet (RGB PNG): N samples per class (default 4) for every split,\n"
    "               labelled by split, scaled S times (default 3)\n"
    "stats          images per split and class; --json prints one JSON object\n";

typedef struct progress {
    int tty;
    long next_plain, last;
    struct timespec t0;
} progress;

static double seconds_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void on_progress(void *user, long done, long total) {
    progress *p = user;
    if (done == p->last) return; /* the generator reports the end twice */
    p->last = done;
    if (p->tty) {
        fprintf(stderr, "\rfashion-shift: %ld/%ld images (%3.0f%%) %.1f s", done, total, 100.0 * done / total,
                seconds_since(&p->t0));
        if (done == total) fputc('\n', stderr);
    } else if (done >= p->next_plain || done == total) {
        fprintf(stderr, "fashion-shift: %ld/%ld images %.1f s\n", done, total, seconds_since(&p->t0));
        p->next_plain = done + 10000;
    }
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "levi-cl data: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", k_usage);
    return 2;
}

static int fashion_shift(int argc, char **argv) {
    levi_shift_params p;
    levi_shift_defaults(&p);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        levi_status st = LEVI_OK;
        if (!strcmp(a, "--force")) {
            p.force = 1;
            continue;
        }
        if (!strcmp(a, "--out") || !strcmp(a, "--source")) {
            if (!v || !*v) return usage_error("%s needs a folder", a);
            if (a[2] == 'o') p.out = v;
            else p.source = v;
        } else if (!strcmp(a, "--subdomain")) {
            if (!v) return usage_error("%s needs a value (invert, edges or blur)", a);
            st = levi_subdomain_parse(v, &p.subdomain);
        } else if (!strcmp(a, "--rho-a") || !strcmp(a, "--rho-b")) {
            st = cli_parse_float(a, v, 0.0, 1.0, a[6] == 'a' ? &p.rho_a : &p.rho_b);
        } else if (!strcmp(a, "--seed")) {
            long s;
            st = cli_parse_int(a, v, 0, 0x7fffffffL, &s);
            p.seed = (unsigned long long)s;
        } else if (!strcmp(a, "--limit")) {
            long n;
            st = cli_parse_int(a, v, 1, 60000, &n);
            p.limit = (int)n;
        } else {
            return usage_error("fashion-shift: unexpected argument '%s'", a);
        }
        if (st != LEVI_OK) return cli_fail(st);
        i++;
    }
    if (!p.out) return usage_error("%s", "fashion-shift needs --out DIR");
    /* One writer per output folder; then repair what a killed writer left. */
    levi_output_lock lock;
    levi_status st = levi_output_check_dir("--out", p.out);
    if (st == LEVI_OK) st = levi_output_lock_take(&lock, p.out);
    if (st != LEVI_OK) return cli_fail(st);
    st = levi_output_recover(p.out, NULL);
    progress pr = {.tty = isatty(2), .next_plain = 10000};
    clock_gettime(CLOCK_MONOTONIC, &pr.t0);
    p.progress = on_progress;
    p.progress_user = &pr;
    if (st == LEVI_OK) st = levi_fashion_shift(&p);
    levi_output_lock_release(&lock);
    if (st != LEVI_OK) {
        if (pr.tty) fputc('\n', stderr);
        return cli_fail(st);
    }
    printf("wrote %s (subdomain %s, rho_a %g, rho_b %g, seed %llu) in %.1f s\n", p.out,
           levi_subdomain_name(p.subdomain), p.rho_a, p.rho_b, p.seed, seconds_since(&pr.t0));
    return 0;
}

static int show(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    long per = 4, scale = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        levi_status st = LEVI_OK;
        if (!strcmp(a, "--out")) {
            if (!v || !*v) return usage_error("%s needs a file name", a);
            out = v;
            i++;
        } else if (!strcmp(a, "--per-class")) {
            st = cli_parse_int(a, v, 1, 32, &per);
            i++;
        } else if (!strcmp(a, "--scale")) {
            st = cli_parse_int(a, v, 1, 16, &scale);
            i++;
        } else if (a[0] == '-' || dir) {
            return usage_error("show: unexpected argument '%s'", a);
        } else {
            dir = a;
        }
        if (st != LEVI_OK) return cli_fail(st);
    }
    if (!dir || !out) return usage_error("%s", "show needs DIR and --out SHEET.png");
    levi_status st = levi_output_check_file("--out", out);
    if (st == LEVI_OK) st = levi_contact_sheet(dir, out, (int)per, (int)scale);
    if (st != LEVI_OK) return cli_fail(st);
    printf("wrote %s\n", out);
    return 0;
}

static int stats(int argc, char **argv) {
    const char *dir = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-' || dir) return usage_error("stats: unexpected argument '%s'", argv[i]);
        else dir = argv[i];
    }
    if (!dir) return usage_error("%s", "stats needs DIR");
    char **splits;
    int ns;
    levi_status st = levi_benchmark_splits(dir, &splits, &ns);
    if (st != LEVI_OK) return cli_fail(st);
    cJSON *root = cJSON_CreateObject(), *js = cJSON_AddObjectToObject(root, "splits");
    cJSON_AddStringToObject(root, "dir", dir);
    for (int s = 0; s < ns && st == LEVI_OK; s++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, splits[s]);
        char **names;
        int nc, *counts;
        st = levi_folder_counts(path, &names, &nc, &counts);
        if (st != LEVI_OK) break;
        long total = 0;
        const char *label = strcmp(splits[s], ".") ? splits[s] : dir; /* a plain ImageFolder */
        cJSON *one = cJSON_AddObjectToObject(js, label), *jc = cJSON_AddObjectToObject(one, "classes");
        if (!json) printf("%s\n", label);
        for (int c = 0; c < nc; c++) {
            cJSON_AddNumberToObject(jc, names[c], counts[c]);
            if (!json) printf("  %-24s %7d\n", names[c], counts[c]);
            total += counts[c];
        }
        cJSON_AddNumberToObject(one, "total", (double)total);
        if (!json) printf("  %-24s %7ld\n", "total", total);
        free(counts);
        levi_class_names_free(names, nc);
    }
    if (st == LEVI_OK && json) {
        char *text = cJSON_PrintUnformatted(root);
        if (text) puts(text);
        free(text);
    }
    cJSON_Delete(root);
    levi_class_names_free(splits, ns);
    return st == LEVI_OK ? 0 : cli_fail(st);
}

int cmd_data(int argc, char **argv, const cli_env *env) {
    (void)env; /* host work only: no device */
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(k_usage, argc < 2 ? stderr : stdout);
        fputs(data_text_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (cli_wants_help(argc, argv)) {
        fputs(!strcmp(argv[1], "text-shift") ? data_text_usage : k_usage, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "text-shift")) return data_text_shift(argc - 1, argv + 1);
    if (!strcmp(argv[1], "fashion-shift")) return fashion_shift(argc - 1, argv + 1);
    if (!strcmp(argv[1], "show")) return show(argc - 1, argv + 1);
    if (!strcmp(argv[1], "stats")) return stats(argc - 1, argv + 1);
    return usage_error("unknown subcommand '%s' (expected fashion-shift, text-shift, show or stats)", argv[1]);
}
