/* levi-cl data text-shift: the text shift benchmark from Debian's package
 * list (`apt-cache dumpavail`, or a Packages file given with --source). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "data_text.h"

const char data_text_usage[] =
    "usage: levi-cl data text-shift --out DIR [--source FILE|-] [--classes S,S,...] [--train-per-class N]\n"
    "                               [--test-per-class N] [--rho P] [--seed N] [--force]\n"
    "text-shift     write the text shift benchmark: Debian package descriptions labelled by section,\n"
    "               \"<package>: <description>\", DIR/{train,test-id,test-ood,test-noname}.jsonl and\n"
    "               DIR/manifest.json. The package name is a shortcut in train and test-id (own name with\n"
    "               probability rho), shuffled in test-ood, absent in test-noname.\n"
    "  --source F       a Packages file, or - for standard input (default: runs apt-cache dumpavail);\n"
    "                   package lists differ between machines and dates: the manifest records the\n"
    "                   SHA-256 of the source and of the records used\n"
    "  --classes S,...  Debian sections (default " LEVI_TEXT_SHIFT_CLASSES ")\n"
    "  --train-per-class N, --test-per-class N   rows per class (default 150 and 100)\n"
    "  --rho P          P(the package's own name) in train and test-id (default 0.9)\n"
    "  --seed N         picks the packages and the shown names (default 0)\n";

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "levi-cl data text-shift: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", data_text_usage);
    return 2;
}

/* All of a stream (a file or apt-cache's output). */
static levi_status slurp(FILE *f, const char *name, char **data, size_t *len) {
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *nb = cap < ((size_t)1 << 32) ? realloc(buf, cap * 2) : NULL;
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                free(buf);
                return levi_error(LEVI_ERR_IO, "reading %s failed", name);
            }
            *data = buf;
            *len = n;
            return LEVI_OK;
        }
    }
    free(buf);
    return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory reading %s", name);
}

static levi_status read_source(const char *source, char **data, size_t *len) {
    if (source && strcmp(source, "-")) return levi_read_file(source, data, len);
    if (source) return slurp(stdin, "standard input", data, len);
    FILE *f = popen("apt-cache dumpavail 2>/dev/null", "r");
    if (!f) return levi_error(LEVI_ERR_IO, "cannot run apt-cache dumpavail (pass --source FILE, a Packages file)");
    levi_status st = slurp(f, "the output of apt-cache dumpavail", data, len);
    int rc = pclose(f);
    if (st == LEVI_OK && (rc != 0 || *len == 0)) {
        free(*data);
        *data = NULL;
        st = levi_error(LEVI_ERR_IO, "apt-cache dumpavail failed or printed nothing (is this a Debian system with "
                        "package lists? run apt-get update, or pass --source FILE)");
    }
    return st;
}

int data_text_shift(int argc, char **argv) {
    levi_text_shift_params p;
    levi_text_shift_defaults(&p);
    const char *source = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        levi_status st = LEVI_OK;
        long n;
        if (!strcmp(a, "--force")) {
            p.force = 1;
            continue;
        }
        if (!strcmp(a, "--out") || !strcmp(a, "--source") || !strcmp(a, "--classes")) {
            if (!v || !*v) return usage_error("%s needs a value", a);
            if (a[2] == 'o') p.out = v;
            else if (a[2] == 's') source = v;
            else p.classes = v;
        } else if (!strcmp(a, "--train-per-class") || !strcmp(a, "--test-per-class")) {
            st = cli_parse_int(a, v, 1, 100000, &n);
            if (a[3] == 'r') p.train_per_class = (int)n;
            else p.test_per_class = (int)n;
        } else if (!strcmp(a, "--rho")) {
            st = cli_parse_float(a, v, 0.0, 1.0, &p.rho);
        } else if (!strcmp(a, "--seed")) {
            st = cli_parse_int(a, v, 0, 0x7fffffffL, &n);
            p.seed = (unsigned long long)n;
        } else {
            return usage_error("unexpected argument '%s'", a);
        }
        if (st != LEVI_OK) return cli_fail(st);
        i++;
    }
    if (!p.out) return usage_error("%s", "needs --out DIR");
    /* one writer per output folder; then repair what a killed writer left */
    levi_output_lock lock;
    levi_status st = levi_output_check_dir("--out", p.out);
    if (st == LEVI_OK) st = levi_output_lock_take(&lock, p.out);
    if (st != LEVI_OK) return cli_fail(st);
    char *data = NULL;
    st = levi_output_recover(p.out, NULL);
    if (st == LEVI_OK) st = read_source(source, &data, &p.len);
    p.data = data;
    p.source_name = !source ? "apt-cache dumpavail" : strcmp(source, "-") ? source : "standard input";
    if (st == LEVI_OK) st = levi_text_shift(&p);
    free(data);
    levi_output_lock_release(&lock);
    if (st != LEVI_OK) return cli_fail(st);
    printf("wrote %s (classes %s, rho %g, seed %llu; see %s/manifest.json for the counts and the source's SHA-256)\n",
           p.out, p.classes, p.rho, p.seed, p.out);
    return 0;
}
