/* levi-cl eval: accuracy of a trained model on one or more ImageFolders (or
 * text files, for a model trained on texts), with
 * per-class accuracy and the confusion matrix.
 *
 * Stable output of --json (one JSON object on stdout, nothing else there):
 *   {"model":PATH,"method":M,"num_classes":K,"class_names":[...],
 *    "datasets":[{"data":DIR,"n":N,"correct":C,"accuracy":A,"loss":L,
 *                 "per_class":[{"class":NAME,"n":N,"accuracy":A|null},...],
 *                 "confusion":[[...K ints...],...]}   (row = true class, column = predicted;
 *               ,...]}                               null above 1000 classes: see --confusion)
 * Exit status: 0 done, 2 usage error, 1 failure (the message names the input). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "levi/data.h"
#include "levi/train.h"
#include "placement.h"
#include "text_cli.h"

static const char *k_usage =
    "usage: levi-cl [--device SEL] eval --model MODEL.safetensors --data DIR|FILE [--data DIR|FILE ...]\n"
    "                                   [--json] [--limit N] [--batch N] [--workers N] [--skip-bad]\n"
    "                                   [--confusion FILE.csv]\n"
    "\n"
    "Evaluate a model written by `levi-cl train` on ImageFolders (DIR/<class>/*.png|jpg,\n"
    "the same classes as in training), or, for a model trained on texts, on text files\n"
    "(FILE.jsonl, .csv or .tsv, tokenised by the model file's own tokenizer): accuracy per\n"
    "data set, per-class accuracy and the confusion matrix (rows: true class, columns: predicted).\n"
    "\n"
    "  --json      print one JSON object (format at the top of src/cli/cmd_eval.c)\n"
    "  --limit N   at most N images (texts) per class\n"
    "  --text-column NAME (text)  --label-column NAME (label)   columns of text files\n"
    "  --batch N   images per forward pass (default 64)\n"
    "  --backbone-device SEL  the backbone stage on this device, the rest on --device\n"
    "              (the backbone's forward of the next batch overlaps the head's work)\n"
    "  --workers N threads decoding and preparing images (default: one per core)\n"
    "  --skip-bad  leave out unreadable images with a warning instead of failing\n"
    "  --confusion FILE.csv  write every data set's confusion matrix as CSV (data,true,\n"
    "              then one column per predicted class). Printed only up to 32 classes,\n"
    "              in --json up to 1000: a model with many classes never floods the output.\n"
    "Images are preprocessed as in training (the model file's preprocessor), without augmentation.\n";

/* Above these, the confusion matrix (K x K) is left out of the text / JSON
 * output: 10,000 classes would print 700 MB (and --json needs 8 GB). */
#define PRINT_CONFUSION_MAX 32
#define JSON_CONFUSION_MAX 1000

#define MAX_DATA 64

static void print_text(const char *dir, const levi_eval_result *r, const char *const *names) {
    int K = r->num_classes;
    printf("%s: accuracy %.4f (%d/%d), loss %.4f\n", dir, r->acc, r->correct, r->n, r->loss);
    printf("  per class:\n");
    for (int k = 0; k < K; k++) {
        long n = 0;
        for (int j = 0; j < K; j++) n += r->confusion[(size_t)k * K + j];
        if (r->class_acc[k] >= 0) printf("    %-20s %.4f (%ld images)\n", names[k], r->class_acc[k], n);
        else printf("    %-20s -      (no images)\n", names[k]);
    }
    if (K > PRINT_CONFUSION_MAX) {
        printf("  confusion: %d classes, not printed (more than %d; --confusion FILE.csv writes it)\n", K,
               PRINT_CONFUSION_MAX);
        return;
    }
    printf("  confusion (rows: true, columns: predicted):\n      ");
    for (int j = 0; j < K; j++) printf(" %6d", j);
    printf("\n");
    for (int k = 0; k < K; k++) {
        printf("  %3d ", k);
        for (int j = 0; j < K; j++) printf(" %6d", r->confusion[(size_t)k * K + j]);
        printf("\n");
    }
}

static cJSON *json_result(const char *dir, const levi_eval_result *r, const char *const *names) {
    int K = r->num_classes;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data", dir);
    cJSON_AddNumberToObject(o, "n", r->n);
    cJSON_AddNumberToObject(o, "correct", r->correct);
    cJSON_AddNumberToObject(o, "accuracy", r->acc);
    cJSON_AddNumberToObject(o, "loss", r->loss);
    cJSON *pc = cJSON_AddArrayToObject(o, "per_class");
    cJSON *cm = K <= JSON_CONFUSION_MAX ? cJSON_AddArrayToObject(o, "confusion") : NULL;
    if (!cm) cJSON_AddNullToObject(o, "confusion");
    for (int k = 0; k < K; k++) {
        cJSON *c = cJSON_CreateObject();
        long n = 0;
        for (int j = 0; j < K; j++) n += r->confusion[(size_t)k * K + j];
        cJSON_AddStringToObject(c, "class", names[k]);
        cJSON_AddNumberToObject(c, "n", (double)n);
        if (r->class_acc[k] >= 0) cJSON_AddNumberToObject(c, "accuracy", r->class_acc[k]);
        else cJSON_AddNullToObject(c, "accuracy");
        cJSON_AddItemToArray(pc, c);
        if (cm) cJSON_AddItemToArray(cm, cJSON_CreateIntArray(r->confusion + (size_t)k * K, K));
    }
    return o;
}

/* One data set's matrix as CSV rows: data,true class,count per predicted class. */
static levi_status write_confusion(FILE *f, const char *path, const char *dir, const levi_eval_result *r,
                                   const char *const *names, int header) {
    int K = r->num_classes;
    if (header) {
        fprintf(f, "data,true");
        for (int j = 0; j < K; j++) fprintf(f, ",%s", names[j]);
        fputc('\n', f);
    }
    for (int k = 0; k < K; k++) {
        fprintf(f, "%s,%s", dir, names[k]);
        for (int j = 0; j < K; j++) fprintf(f, ",%d", r->confusion[(size_t)k * K + j]);
        fputc('\n', f);
    }
    return ferror(f) ? levi_error(LEVI_ERR_IO, "writing '%s' failed", path) : LEVI_OK;
}

int cmd_eval(int argc, char **argv, const cli_env *env) {
    if (cli_wants_help(argc, argv)) {
        fputs(k_usage, stdout);
        return 0;
    }
    const char *model = NULL, *data[MAX_DATA], *backbone_device = NULL, *confusion = NULL;
    const char *text_column = NULL, *label_column = NULL;
    int ndata = 0, json = 0;
    long limit = 0, batch = 64, workers = 0;
    int skip_bad = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        levi_status st = LEVI_OK;
        if (!strcmp(o, "--json") || !strcmp(o, "--skip-bad")) {
            if (o[2] == 'j') json = 1;
            else skip_bad = 1;
            continue;
        }
        if (strcmp(o, "--model") && strcmp(o, "--data") && strcmp(o, "--limit") && strcmp(o, "--batch") &&
            strcmp(o, "--backbone-device") && strcmp(o, "--workers") && strcmp(o, "--confusion") &&
            strcmp(o, "--text-column") && strcmp(o, "--label-column")) {
            fprintf(stderr, "levi-cl eval: unknown option '%s'\n\n%s", o, k_usage);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "levi-cl eval: %s needs a value\n", o);
            return 2;
        }
        i++;
        if (!strcmp(o, "--model")) model = v;
        else if (!strcmp(o, "--backbone-device")) backbone_device = v;
        else if (!strcmp(o, "--confusion")) confusion = v;
        else if (!strcmp(o, "--text-column")) text_column = v;
        else if (!strcmp(o, "--label-column")) label_column = v;
        else if (!strcmp(o, "--data")) {
            if (ndata == MAX_DATA) {
                fprintf(stderr, "levi-cl eval: more than %d --data folders\n", MAX_DATA);
                return 2;
            }
            data[ndata++] = v;
        } else if (!strcmp(o, "--limit")) st = cli_parse_int(o, v, 1, 100000000, &limit);
        else if (!strcmp(o, "--workers")) st = cli_parse_int(o, v, 1, 1024, &workers);
        else st = cli_parse_int(o, v, 1, 65536, &batch);
        if (st != LEVI_OK) return cli_fail(st);
    }
    if (!model || !ndata) {
        fprintf(stderr, "levi-cl eval: --model and at least one --data are required\n\n%s", k_usage);
        return 2;
    }
    /* the CSV goes to a temporary file, renamed into place when complete */
    levi_status st = confusion ? levi_output_check_file("--confusion", confusion) : LEVI_OK;
    if (st != LEVI_OK) return cli_fail(st);
    levi_atomic_file cf = {.fd = -1};
    FILE *cfp = NULL;
    if (confusion) {
        st = levi_atomic_open(&cf, confusion);
        if (st == LEVI_OK && !(cfp = fdopen(dup(cf.fd), "w")))
            st = levi_error(LEVI_ERR_IO, "cannot write '%s': %s", confusion, strerror(errno));
        if (st != LEVI_OK) {
            if (cf.path) levi_atomic_abort(&cf);
            return cli_fail(st);
        }
    }
    cli_placement pl;
    levi_model *m = NULL;
    st = cli_placement_open(&pl, env, NULL, backbone_device);
    if (st != LEVI_OK) {
        if (cfp) fclose(cfp);
        levi_atomic_abort(&cf);
        return cli_fail(st);
    }
    st = levi_model_load_placed(&m, pl.ctx[0], pl.backbone_ctx ? pl.backbone_ctx : pl.ctx[0], model, (int)batch, 0);
    cJSON *out = NULL, *arr = NULL;
    /* a model trained on texts reads text files with its own tokenizer */
    cli_text tx;
    memset(&tx, 0, sizeof tx);
    int text = st == LEVI_OK && levi_model_input_spec(m)->kind == LEVI_INPUT_TOKENS;
    if (text) st = cli_text_from_model(&tx, m, model, text_column, label_column);
    else if (st == LEVI_OK && (text_column || label_column))
        st = levi_error(LEVI_ERR_INVALID_ARG, "--text-column and --label-column apply to text models; %s reads images",
                        model);
    if (st == LEVI_OK && json) {
        const levi_model_config *c = levi_model_get_config(m);
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "model", model);
        cJSON_AddStringToObject(out, "method", levi_method_name(c->method));
        cJSON_AddNumberToObject(out, "num_classes", c->num_classes);
        cJSON_AddItemToObject(out, "class_names",
                              cJSON_CreateStringArray(levi_model_class_names(m), c->num_classes));
        arr = cJSON_AddArrayToObject(out, "datasets");
    }
    for (int d = 0; st == LEVI_OK && d < ndata; d++) {
        const levi_model_config *c = levi_model_get_config(m);
        levi_dataset ds;
        levi_preprocess pre;
        levi_load_options lo = {.limit_per_class = (int)limit, .skip_bad = skip_bad, .workers = (int)workers};
        if (text) st = cli_text_load(&tx, &ds, data[d], (int)limit);
        else {
            st = levi_preprocess_for_model(&pre, levi_model_preprocessor(m), model, c->channels, c->height, c->width,
                                           c->image_mean, c->image_std);
            if (st == LEVI_OK) st = levi_dataset_load(&ds, data[d], &pre, c->height, c->width, &lo);
        }
        if (st != LEVI_OK) break;
        ds.workers = (int)workers;
        char what[4200];
        snprintf(what, sizeof what, "%s %s", text ? "text file" : "data folder", data[d]);
        levi_eval_result r;
        st = levi_train_check_dataset(m, &ds, what);
        const char *const *mn = levi_model_class_names(m);
        for (int k = 0; st == LEVI_OK && k < ds.num_classes; k++)
            if (strcmp(mn[k], ds.class_names[k])) {
                fprintf(stderr, "levi-cl eval: warning: class %d is '%s' in %s but '%s' in the model\n", k,
                        ds.class_names[k], data[d], mn[k]);
                break;
            }
        if (st == LEVI_OK) st = levi_evaluate(m, &ds, &r);
        if (st == LEVI_OK) {
            if (json) cJSON_AddItemToArray(arr, json_result(data[d], &r, levi_model_class_names(m)));
            else print_text(data[d], &r, levi_model_class_names(m));
            if (cfp) st = write_confusion(cfp, confusion, data[d], &r, levi_model_class_names(m), d == 0);
            levi_eval_result_free(&r);
        }
        levi_dataset_free(&ds);
    }
    if (st == LEVI_OK && json) {
        char *s = cJSON_Print(out);
        if (s) puts(s);
        free(s);
    }
    cJSON_Delete(out);
    if (cfp && fclose(cfp) != 0 && st == LEVI_OK)
        st = levi_error(LEVI_ERR_IO, "writing '%s' failed: %s", confusion, strerror(errno));
    if (confusion && cf.path) {
        if (st == LEVI_OK) st = levi_atomic_commit(&cf);
        else levi_atomic_abort(&cf);
    }
    int rc = st == LEVI_OK ? 0 : cli_fail(st);
    cli_text_close(&tx);
    levi_model_free(m);
    cli_placement_close(&pl, st == LEVI_OK);
    return rc;
}
