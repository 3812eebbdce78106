/* The benchmarks `levi-cl study` runs on (study.h): fashion-shift (one
 * subdomain, images, the demo's pretrained ViT) and text-shift (Debian
 * package descriptions, all-MiniLM-L6-v2): their sizes, test splits and how
 * the validation split is carved from `train`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "levi/files.h"
#include "study.h"

static const study_size k_fashion_sizes[] = {
    {"full", 500, 100, 0, 6, "3e-4,1e-3,3e-3", "0.01,0.1", 64},
    {"quick", 100, 50, 100, 4, "3e-4,1e-3,3e-3", "0.01,0.1", 64},
    {"tiny", 6, 3, 4, 2, "1e-3", "0.01", 64},
};

const study_bench study_fashion_shift = {
    .name = "fashion-shift",
    .ext = "",
    .rows = "images",
    .ntests = 2,
    .tests = {"test-id", "test-ood"},
    .labels = {"ID", "OOD"},
    .keys = {"id", "ood"},
    .sizes = k_fashion_sizes,
    .nsizes = 3,
    .carve = study_carve_images,
};

/* text-shift holds the text demo's rows per class in `train` (150, 60, 8):
 * about a third of them select. One grid for the pre-trained transformer
 * (whose weights train in ft and lora: ~1e-4) and for what trains from
 * scratch on frozen or no features (~3e-3); one weight decay, since a full
 * fine-tune of MiniLM is the cost of the study. */
static const study_size k_text_sizes[] = {
    {"full", 110, 40, 0, 6, "3e-5,3e-4,3e-3", "0.01", 32},
    {"quick", 40, 20, 0, 6, "3e-5,3e-4,3e-3", "0.01", 32},
    {"tiny", 5, 3, 0, 2, "1e-3", "0.01", 16},
};

#define TEXT_MAX_CLASSES 256

/* The "label" of one JSON line, or NULL. */
static char *line_label(const char *line) {
    cJSON *o = cJSON_Parse(line);
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "label");
    char *r = cJSON_IsString(l) ? strdup(l->valuestring) : NULL;
    cJSON_Delete(o);
    return r;
}

static levi_status carve_texts(const char *train, const char *fit, const char *val, int fit_per_class,
                               int val_per_class) {
    char src[1400], fit_path[1400], val_path[1400];
    snprintf(src, sizeof src, "%s.jsonl", train);
    snprintf(fit_path, sizeof fit_path, "%s.jsonl", fit);
    snprintf(val_path, sizeof val_path, "%s.jsonl", val);
    char *text = NULL;
    size_t len = 0;
    LEVI_TRY(levi_read_file(src, &text, &len));
    char *labels[TEXT_MAX_CLASSES];
    int count[TEXT_MAX_CLASSES], nc = 0, line_no = 0;
    FILE *ff = fopen(fit_path, "w"), *fv = fopen(val_path, "w");
    levi_status st = ff && fv ? LEVI_OK
                              : levi_error(LEVI_ERR_IO, "cannot write '%s': %s", ff ? val_path : fit_path,
                                           strerror(errno));
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); st == LEVI_OK && line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        if (!line[strspn(line, " \t\r")]) continue;
        char *label = line_label(line);
        if (!label) {
            st = levi_error(LEVI_ERR_FORMAT, "%s line %d: expected a JSON object with a string \"label\"", src,
                            line_no);
            break;
        }
        int c = 0;
        while (c < nc && strcmp(labels[c], label)) c++;
        if (c == nc) {
            if (nc == TEXT_MAX_CLASSES) {
                free(label);
                st = levi_error(LEVI_ERR_FORMAT, "%s: more than %d classes", src, TEXT_MAX_CLASSES);
                break;
            }
            labels[nc] = label;
            count[nc++] = 0;
        } else free(label);
        int i = count[c]++;
        FILE *to = i < fit_per_class ? ff : i < fit_per_class + val_per_class ? fv : NULL;
        if (to && fprintf(to, "%s\n", line) < 0) st = levi_error(LEVI_ERR_IO, "writing the splits failed");
    }
    for (int c = 0; c < nc && st == LEVI_OK; c++)
        if (count[c] < fit_per_class + val_per_class)
            st = levi_error(LEVI_ERR_INVALID_ARG,
                            "'%s' holds %d texts of class '%s'; the study needs %d (--fit plus --val texts per "
                            "class)",
                            src, count[c], labels[c], fit_per_class + val_per_class);
    if (st == LEVI_OK && !nc) st = levi_error(LEVI_ERR_FORMAT, "'%s' holds no texts", src);
    if (ff && fclose(ff) != 0 && st == LEVI_OK) st = levi_error(LEVI_ERR_IO, "cannot write '%s'", fit_path);
    if (fv && fclose(fv) != 0 && st == LEVI_OK) st = levi_error(LEVI_ERR_IO, "cannot write '%s'", val_path);
    for (int c = 0; c < nc; c++) free(labels[c]);
    free(text);
    return st;
}

const study_bench study_text_shift = {
    .name = "text-shift",
    .ext = ".jsonl",
    .rows = "texts",
    .ntests = 3,
    .tests = {"test-id", "test-ood", "test-noname"},
    .labels = {"ID", "OOD", "no-name"},
    .keys = {"id", "ood", "noname"},
    .sizes = k_text_sizes,
    .nsizes = 3,
    .carve = carve_texts,
};
