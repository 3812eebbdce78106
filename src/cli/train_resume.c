/* train --resume: the checkpoint's run must be this run, and the metrics log
 * continues as one run. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train_resume.h"

static void add(train_run_opts *o, const char *name, const char *value) {
    if (o->n >= (int)(sizeof o->name / sizeof o->name[0])) return;
    o->name[o->n] = name;
    snprintf(o->value[o->n], sizeof o->value[0], "%s", value);
    o->n++;
}

void train_opt_str(train_run_opts *o, const char *name, const char *value) {
    add(o, name, value ? value : "(not given)");
}

void train_opt_long(train_run_opts *o, const char *name, long value) {
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", value);
    add(o, name, buf);
}

void train_opt_double(train_run_opts *o, const char *name, double value) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.9g", value);
    add(o, name, buf);
}

void train_opt_path(train_run_opts *o, const char *name, const char *path) {
    char *real = path ? realpath(path, NULL) : NULL;
    train_opt_str(o, name, real ? real : path);
    free(real);
}

char *train_run_json(const train_run_opts *o) {
    cJSON *j = cJSON_CreateObject();
    for (int i = 0; j && i < o->n; i++) cJSON_AddStringToObject(j, o->name[i], o->value[i]);
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return s;
}

levi_status train_resume_check(const char *ckpt, const train_run_opts *o, int epochs, int *epoch, long *steps) {
    levi_safetensors sf;
    LEVI_TRY(levi_safetensors_read(ckpt, &sf));
    levi_status st = LEVI_OK;
    const char *ts = levi_safetensors_meta(&sf, "train_state"), *run = levi_safetensors_meta(&sf, "run");
    cJSON *state = ts ? cJSON_Parse(ts) : NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(state, "epoch"), *s = cJSON_GetObjectItemCaseSensitive(state, "step");
    if (!cJSON_IsNumber(e) || !cJSON_IsNumber(s))
        st = levi_error(LEVI_ERR_FORMAT, "--resume %s: not a training checkpoint (__metadata__ 'train_state' is %s)",
                        ckpt, ts ? "malformed" : "missing");
    else if (!(e->valuedouble >= 1 && e->valuedouble <= epochs && e->valuedouble == (double)(int)e->valuedouble))
        st = levi_error(LEVI_ERR_FORMAT, "--resume %s: the checkpoint says %.17g epochs are done; expected 1..%d "
                        "(--epochs %d)", ckpt, e->valuedouble, epochs, epochs);
    else if (!(s->valuedouble >= 0 && s->valuedouble <= (double)LONG_MAX / 2))
        st = levi_error(LEVI_ERR_FORMAT, "--resume %s: the checkpoint's step %.17g is not a valid count", ckpt,
                        s->valuedouble);
    if (st == LEVI_OK) {
        *epoch = (int)e->valuedouble;
        *steps = (long)s->valuedouble;
    }
    cJSON *r = run ? cJSON_Parse(run) : NULL;
    if (st == LEVI_OK && run && !cJSON_IsObject(r))
        st = levi_error(LEVI_ERR_FORMAT, "--resume %s: __metadata__ 'run' is not a JSON object", ckpt);
    if (st == LEVI_OK && !run)
        LEVI_WARN("--resume %s: written by an earlier levi-cl that did not record its options: they are not checked",
                  ckpt);
    for (int i = 0; st == LEVI_OK && r && i < o->n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, o->name[i]);
        if (cJSON_IsString(v) && strcmp(v->valuestring, o->value[i]))
            st = levi_error(LEVI_ERR_INVALID_ARG,
                            "--resume %s: %s is %s here but %s in the checkpoint's run; resume with the options of "
                            "that run (or start a new one without --resume)",
                            ckpt, o->name[i], o->value[i], v->valuestring);
    }
    cJSON_Delete(r);
    cJSON_Delete(state);
    levi_safetensors_free(&sf);
    return st;
}

levi_status train_log_rewind(const char *log, int epoch) {
    if (!log || access(log, F_OK) != 0) return LEVI_OK;
    char *text;
    size_t len;
    LEVI_TRY(levi_read_file(log, &text, &len));
    size_t keep = 0;
    int found = 0;
    for (size_t pos = 0; pos < len && !found;) {
        char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl) break;
        *nl = '\0';
        cJSON *j = cJSON_Parse(text + pos);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type"), *e = cJSON_GetObjectItemCaseSensitive(j, "epoch");
        found = cJSON_IsString(type) && !strcmp(type->valuestring, "epoch") && cJSON_IsNumber(e) &&
                e->valuedouble == epoch;
        cJSON_Delete(j);
        *nl = '\n';
        pos = (size_t)(nl - text) + 1;
        keep = pos;
    }
    levi_status st = LEVI_OK;
    if (!found) LEVI_WARN("--log %s holds no end of epoch %d: the resumed run's lines follow what it holds", log, epoch);
    else if (keep < len) st = levi_write_file_atomic(log, text, keep); /* the interrupted epoch's lines go */
    free(text);
    return st;
}
