/* levi-cl train's options: the parsing table, the model configuration and
 * the options recorded for --resume (train_args.h). */
#include <stdlib.h>
#include <string.h>

#include "levi/text.h"
#include "train_args.h"

static levi_status parse_list(const char *opt, const char *s, int *out, int max, int *n) {
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 100000 || (*end && *end != ','))
            return levi_error(LEVI_ERR_INVALID_ARG, "%s: '%s' is not a comma-separated list of whole numbers", opt, s);
        if (*n == max) return levi_error(LEVI_ERR_INVALID_ARG, "%s: more than %d values in '%s'", opt, max, s);
        out[(*n)++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (!*n) return levi_error(LEVI_ERR_INVALID_ARG, "%s: empty list", opt);
    return LEVI_OK;
}

levi_status train_parse_args(int argc, char **argv, train_args *a) {
    memset(a, 0, sizeof *a);
    a->argc = argc;
    a->argv = argv;
    a->epochs = 5;
    a->batch = 64;
    a->lr = 1e-3;
    a->wd = 0.01;
    a->clip = 1.0;
    a->image_size = 28;
    a->channels = 1;
    a->log_every = 1;
    /* the model's sizes and weights default to the library's */
    levi_model_config d;
    levi_model_config_default(&d, LEVI_METHOD_LEVI);
    a->lambda = d.lambda;
    a->task_hidden = d.task.hidden;
    a->adapter_hidden = d.adapter_hidden;
    a->lora_rank = d.lora_rank;
    a->ngram_buckets = d.task.buckets;
    a->ngram_embed = d.task.embed;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **sp = NULL;
        long *ip = NULL, lo = 0, hi = 0;
        double *fp = NULL, flo = 0, fhi = 0;
        if (!strcmp(o, "--skip-bad")) {
            a->skip_bad = 1;
            continue;
        }
        if (!strcmp(o, "--method")) sp = &a->method;
        else if (!strcmp(o, "--augment")) sp = &a->augment;
        else if (!strcmp(o, "--workers")) ip = &a->workers, lo = 1, hi = 1024;
        else if (!strcmp(o, "--backbone")) sp = &a->backbone;
        else if (!strcmp(o, "--data")) sp = &a->data;
        else if (!strcmp(o, "--out")) sp = &a->out;
        else if (!strcmp(o, "--val")) sp = &a->val;
        else if (!strcmp(o, "--log")) sp = &a->log;
        else if (!strcmp(o, "--resume")) sp = &a->resume;
        else if (!strcmp(o, "--checkpoint")) sp = &a->ckpt;
        else if (!strcmp(o, "--task-model")) sp = &a->task;
        else if (!strcmp(o, "--taps")) sp = &a->taps;
        else if (!strcmp(o, "--fusion")) sp = &a->fusion;
        else if (!strcmp(o, "--adapter")) sp = &a->adapter;
        else if (!strcmp(o, "--cache-features")) sp = &a->cache;
        else if (!strcmp(o, "--cnn-channels")) sp = &a->cnn;
        else if (!strcmp(o, "--schedule")) sp = &a->schedule;
        else if (!strcmp(o, "--devices")) sp = &a->devices;
        else if (!strcmp(o, "--backbone-device")) sp = &a->backbone_device;
        else if (!strcmp(o, "--tokenizer")) sp = &a->tokenizer;
        else if (!strcmp(o, "--text-column")) sp = &a->text_column;
        else if (!strcmp(o, "--label-column")) sp = &a->label_column;
        else if (!strcmp(o, "--seq-len")) ip = &a->seq_len, lo = 2, hi = 1 << 20;
        else if (!strcmp(o, "--ngram-buckets")) ip = &a->ngram_buckets, lo = 1, hi = 1 << 24;
        else if (!strcmp(o, "--ngram-embed")) ip = &a->ngram_embed, lo = 1, hi = 4096;
        else if (!strcmp(o, "--warmup")) ip = &a->warmup, lo = 0, hi = 100000000;
        else if (!strcmp(o, "--epochs")) ip = &a->epochs, lo = 1, hi = 100000;
        else if (!strcmp(o, "--batch") && v && !strcmp(v, "auto")) a->batch = 0; /* the largest that fits */
        else if (!strcmp(o, "--batch")) ip = &a->batch, lo = 1, hi = 65536;
        else if (!strcmp(o, "--seed")) ip = &a->seed, lo = 0, hi = 2147483647;
        else if (!strcmp(o, "--task-hidden")) ip = &a->task_hidden, lo = 1, hi = 65536;
        else if (!strcmp(o, "--adapter-hidden")) ip = &a->adapter_hidden, lo = 1, hi = 65536;
        else if (!strcmp(o, "--lora-rank")) ip = &a->lora_rank, lo = 1, hi = 1024;
        else if (!strcmp(o, "--limit")) ip = &a->limit, lo = 1, hi = 100000000;
        else if (!strcmp(o, "--image-size")) ip = &a->image_size, lo = 4, hi = 1024;
        else if (!strcmp(o, "--channels")) ip = &a->channels, lo = 1, hi = 3;
        else if (!strcmp(o, "--log-every")) ip = &a->log_every, lo = 1, hi = 1000000;
        else if (!strcmp(o, "--lr")) fp = &a->lr, flo = 0, fhi = 10;
        else if (!strcmp(o, "--wd")) fp = &a->wd, flo = 0, fhi = 10;
        else if (!strcmp(o, "--lambda")) fp = &a->lambda, flo = 0, fhi = 100;
        else if (!strcmp(o, "--distill")) fp = &a->distill, flo = 0, fhi = 100;
        else if (!strcmp(o, "--grad-clip")) fp = &a->clip, flo = 0, fhi = 1e6;
        else return levi_error(LEVI_ERR_INVALID_ARG, "unknown option '%s' (see levi-cl train --help)", o);
        if (!v) return levi_error(LEVI_ERR_INVALID_ARG, "%s needs a value", o);
        i++;
        if (sp) *sp = v;
        if (ip) LEVI_TRY(cli_parse_int(o, v, lo, hi, ip));
        if (fp) LEVI_TRY(cli_parse_float(o, v, flo, fhi, fp));
    }
    if (!a->method) return levi_error(LEVI_ERR_INVALID_ARG, "--method is required");
    if (!a->data) return levi_error(LEVI_ERR_INVALID_ARG, "--data is required");
    if (!a->out) return levi_error(LEVI_ERR_INVALID_ARG, "--out is required");
    return LEVI_OK;
}

levi_status train_build_config(const train_args *a, levi_model_config *c) {
    levi_method m;
    LEVI_TRY(levi_method_parse(a->method, &m));
    levi_model_config_default(c, m);
    c->seed = (unsigned long long)a->seed;
    c->task.hidden = (int)a->task_hidden;
    c->adapter_hidden = (int)a->adapter_hidden;
    c->lambda = (float)a->lambda;
    c->distill = (float)a->distill;
    c->lora_rank = (int)a->lora_rank;
    c->task.buckets = (int)a->ngram_buckets;
    c->task.embed = (int)a->ngram_embed;
    if (a->task && levi_task_parse(a->task, &c->task.kind) != LEVI_OK)
        return levi_error(LEVI_ERR_INVALID_ARG, "--task-model: '%s' is not mlp, cnn or ngram", a->task);
    if (!a->task && levi_text_path_is_text(a->data)) c->task.kind = LEVI_TASK_NGRAM;
    if (a->cnn) {
        int ch[2], n;
        LEVI_TRY(parse_list("--cnn-channels", a->cnn, ch, 2, &n));
        if (n != 2 || ch[0] < 1 || ch[1] < 1)
            return levi_error(LEVI_ERR_INVALID_ARG, "--cnn-channels: expected two positive numbers C1,C2, got '%s'", a->cnn);
        c->task.conv1 = ch[0];
        c->task.conv2 = ch[1];
    }
    if (a->fusion) {
        if (!strcmp(a->fusion, "concat")) c->fusion = LEVI_FUSION_CONCAT;
        else if (!strcmp(a->fusion, "ensemble")) c->fusion = LEVI_FUSION_ENSEMBLE;
        else if (!strcmp(a->fusion, "late")) c->fusion = LEVI_FUSION_LATE;
        else return levi_error(LEVI_ERR_INVALID_ARG, "--fusion: '%s' is not concat, ensemble or late", a->fusion);
    }
    if (a->adapter) {
        if (!strcmp(a->adapter, "mlp")) c->adapter_linear = 0;
        else if (!strcmp(a->adapter, "linear")) c->adapter_linear = 1;
        else return levi_error(LEVI_ERR_INVALID_ARG, "--adapter: '%s' is not mlp or linear", a->adapter);
    }
    if (a->taps) {
        if (m != LEVI_METHOD_LEVI && m != LEVI_METHOD_LEVI_LORA)
            return levi_error(LEVI_ERR_INVALID_ARG, "--taps applies to levi and levi+lora only, not %s", a->method);
        LEVI_TRY(parse_list("--taps", a->taps, c->taps, LEVI_MAX_TAPS, &c->ntaps));
    }
    if ((a->fusion || a->adapter || a->task) && m != LEVI_METHOD_LEVI && m != LEVI_METHOD_LEVI_LORA &&
        !(a->task && m == LEVI_METHOD_SCRATCH) && !(a->adapter && m == LEVI_METHOD_SCRATCH))
        return levi_error(LEVI_ERR_INVALID_ARG, "--fusion/--adapter/--task-model do not apply to method %s", a->method);
    return LEVI_OK;
}


void train_run_opts_of(const train_args *a, train_run_opts *o) {
    memset(o, 0, sizeof *o);
    train_opt_str(o, "--method", a->method);
    train_opt_path(o, "--backbone", a->backbone);
    train_opt_path(o, "--data", a->data);
    train_opt_path(o, "--val", a->val);
    train_opt_long(o, "--limit", a->limit);
    train_opt_long(o, "--seed", a->seed);
    train_opt_double(o, "--lr", a->lr);
    train_opt_double(o, "--wd", a->wd);
    train_opt_long(o, "--batch", a->batch);
    /* a constant schedule may be resumed into more epochs; cosine's curve depends on them */
    if (a->schedule && !strcmp(a->schedule, "cosine")) train_opt_long(o, "--epochs", a->epochs);
    train_opt_double(o, "--grad-clip", a->clip);
    train_opt_str(o, "--schedule", a->schedule ? a->schedule : "constant");
    train_opt_long(o, "--warmup", a->warmup);
    int text = levi_text_path_is_text(a->data);
    train_opt_str(o, "--task-model", a->task ? a->task : text ? "ngram" : "mlp");
    if (text) {
        train_opt_path(o, "--tokenizer", a->tokenizer);
        train_opt_long(o, "--seq-len", a->seq_len);
        train_opt_long(o, "--ngram-buckets", a->ngram_buckets);
        train_opt_long(o, "--ngram-embed", a->ngram_embed);
        train_opt_str(o, "--text-column", a->text_column ? a->text_column : "text");
        train_opt_str(o, "--label-column", a->label_column ? a->label_column : "label");
    }
    train_opt_long(o, "--task-hidden", a->task_hidden);
    train_opt_str(o, "--cnn-channels", a->cnn ? a->cnn : "16,32");
    train_opt_str(o, "--taps", a->taps ? a->taps : "default");
    /* without --fusion: the method's default (late for levi, levi+lora) */
    levi_method m = LEVI_METHOD_SCRATCH;
    levi_model_config d;
    if (a->method) (void)levi_method_parse(a->method, &m);
    levi_model_config_default(&d, m);
    train_opt_str(o, "--fusion", a->fusion ? a->fusion : levi_fusion_name(d.fusion));
    train_opt_str(o, "--adapter", a->adapter ? a->adapter : "mlp");
    train_opt_long(o, "--adapter-hidden", a->adapter_hidden);
    train_opt_double(o, "--lambda", a->lambda);
    train_opt_double(o, "--distill", a->distill);
    train_opt_long(o, "--lora-rank", a->lora_rank);
    train_opt_long(o, "--image-size", a->image_size);
    train_opt_long(o, "--channels", a->channels);
}

