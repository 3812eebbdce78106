/* levi-cl train: fine-tune with one of the six methods (scratch, lp, ft, lora,
 * levi, levi+lora) and write a self-contained model file.
 *
 * Stable outputs (other tools read them):
 *   --log FILE   JSON lines, one per step (every --log-every steps) and one per epoch:
 *     {"type":"step","step":S,"epoch":E,"loss":L,"acc":A,"lr":LR,"samples_per_s":X,"elapsed":SEC}
 *     {"type":"epoch","step":S,"epoch":E,"loss":L,"acc":A,"lr":LR,"samples_per_s":X,"elapsed":SEC,
 *      "epoch_s":SEC,"data_wait_s":SEC,"loader_img_per_s":X,"device_img_per_s":X,
 *      ["val_acc":V,"val_loss":L,]"cached_features":0|1}
 *     {"type":"summary",...} the summary line below, last, once (a resumed run's log reads as one run)
 *     data_wait_s: time the loop waited for a batch from the data loader.
 *     epoch counts from 1; an epoch line's loss/acc are means over that epoch; a step line's
 *     loss/acc are that step's batch's, written in batches (every 32 steps and at the end of each
 *     epoch: the device's metrics are read that often; see levi/train.h).
 *   stdout, last line on success (and the --log file's last line):
 *     {"type":"summary","method":M,"epochs":E,"steps":S,"loss":L,"acc":A,"val_acc":V|null,
 *      "seconds":SEC,"samples_per_s":X,"cached_features":0|1,"cache_build_s":SEC,
 *      "first_epoch_s":SEC,"last_epoch_s":SEC,"last_epoch_data_wait_s":SEC,"out":PATH,"world_size":N,"devices":[NAME,...]}
 *     (world_size: MPI ranks, 1 without mpirun; devices: this process's devices,
 *     the backbone stage's first when --backbone-device puts it apart)
 *     (seconds and samples_per_s include the one-time feature-cache build.)
 *   OUT.ckpt     checkpoint written atomically after every epoch (for --resume).
 * Exit status: 0 done, 2 usage error, 1 failure (the message names the input),
 * 130 interrupted by Ctrl-C (between steps; OUT.ckpt holds the last finished epoch). */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "levi/data.h"
#include "levi/parallel.h"
#include "levi/train.h"
#include "memory.h"
#include "placement.h"
#include "text_cli.h"
#include "train_args.h"
#include "train_resume.h"

static const char *k_usage =
    "usage: levi-cl [--device SEL] train --method M --data DIR|FILE --out MODEL.safetensors\n"
    "                                    [--backbone BACKBONE_DIR] [OPTIONS]\n"
    "\n"
    "Train a classifier on an ImageFolder (DIR/<class>/*.png|jpg) or on texts (FILE.jsonl,\n"
    ".csv or .tsv with a text and a label column) and write a self-contained model file\n"
    "(backbone, task model, adapters, config, class names; for texts the tokenizer).\n"
    "\n"
    "methods: scratch    task model g + linear head (no backbone)\n"
    "         lp         linear probe on the backbone's last tap (frozen)\n"
    "         ft         full fine-tuning of backbone + linear head\n"
    "         lora       LoRA (rank --lora-rank) on query/value + linear head\n"
    "         levi       frozen backbone taps + task model g + adapters (LEVI)\n"
    "         levi+lora  LEVI with LoRA on the backbone\n"
    "\n"
    "options:\n"
    "  --backbone DIR         Hugging Face folder (config.json + model.safetensors): a ViT for\n"
    "                         images, a BERT (model_type bert, with vocab.txt) for texts;\n"
    "                         required except for scratch\n"
    "  --val DIR|FILE         validation ImageFolder or texts, evaluated after every epoch\n"
    "  --epochs N (5)  --batch N|auto (64)  --lr X (1e-3)  --wd X (0.01)  --seed N (0)\n"
    "                         (the memory a run needs is checked before anything is allocated;\n"
    "                         auto: the largest batch that fits the device)\n"
    "  --grad-clip X (1.0, 0 = off)\n"
    "  --schedule constant|cosine (constant)  --warmup N (0 steps of linear warm-up)\n"
    "  --task-model mlp|cnn|ngram (mlp; ngram for texts)  --task-hidden N (128)\n"
    "  --cnn-channels C1,C2 (16,32)  --ngram-buckets N (32768)  --ngram-embed N (64)\n"
    "                         ngram: a bag of hashed unigrams and bigrams of the token ids, its own\n"
    "                         embeddings trained from scratch, then a ReLU layer of --task-hidden\n"
    "  --taps L1,L2,...       backbone taps, 0..depth (depth = after the final layernorm);\n"
    "                         default: depth/2-1,depth\n"
    "  --fusion late|concat|ensemble (late)  --adapter mlp|linear (mlp)  --adapter-hidden N (128)\n"
    "                         late: the backbone's and the task model's predictions, each trained on\n"
    "                         its own loss, mixed by learned weights (the adapter applies to the backbone's);\n"
    "                         concat: the paper's, one adapter on the taps and z side by side\n"
    "  --lambda X (0.5)       ensemble: auxiliary loss weight; late: weight of the per-view losses\n"
    "  --distill X (0)        late: the task model also learns the backbone view's predictions\n"
    "                         (soft labels, weight X; distillation of the backbone into the task model)\n"
    "  --lora-rank R (4)\n"
    "  --limit N              at most N images (texts) per class\n"
    "texts:\n"
    "  --seq-len N            tokens per text, [CLS] and [SEP] included (default: the tokenizer's\n"
    "                         limit, at most 128); longer texts are cut (counted on stderr)\n"
    "  --tokenizer DIR        scratch on texts: a model folder whose vocab.txt tokenises them\n"
    "                         (the other methods use the --backbone's)\n"
    "  --text-column NAME (text)  --label-column NAME (label)\n"
    "images:\n"
    "  --workers N            threads decoding and preparing batches (default: one per core)\n"
    "  --augment flip,crop    random horizontal flip / random resized crop of training images\n"
    "                         (seeded; never applied to --val or evaluation; turns the feature cache off)\n"
    "  --skip-bad             leave out unreadable images with a warning instead of failing\n"
    "                         (images are preprocessed as the backbone's preprocessor_config.json says)\n"
    "  --image-size N --channels C   input size for scratch (default 28, 1; else the backbone's)\n"
    "  --cache-features on|off  reuse frozen-backbone tap features across epochs (on when possible)\n"
    "  --log FILE             JSON lines metrics (see the top of src/cli/cmd_train.c)\n"
    "  --log-every K (1)      a step line every K steps\n"
    "  --checkpoint FILE      per-epoch checkpoint (default MODEL.safetensors.ckpt)\n"
    "  --resume CKPT          continue from a checkpoint written by an earlier run with the\n"
    "                         same options (checked: a differing option is an error); the\n"
    "                         result and --log equal an uninterrupted run's\n"
    "  --backbone-device SEL  the backbone stage on this device, the rest on --device;\n"
    "                         without a feature cache the two form a pipeline\n"
    "  --devices SEL,SEL,...  data parallel: each device computes a shard of every batch\n"
    "                         (under mpirun: the devices of each rank; default one per rank)\n";

/* The summary line, last in the --log file too: appended once the run is
 * done; an earlier run's summary in the file (a resumed run after one that
 * finished, when the log was not rewound past it) is dropped, so the log
 * reads as one run with one summary, last. */
static levi_status log_summary(const char *log, const char *line) {
    char *text = NULL;
    size_t len = 0;
    levi_status st = access(log, F_OK) == 0 ? levi_read_file(log, &text, &len) : LEVI_OK;
    if (st != LEVI_OK) return st;
    if (!text || !strstr(text, "\"type\":\"summary\"")) {
        free(text);
        FILE *f = fopen(log, "a");
        if (!f) return levi_error(LEVI_ERR_IO, "--log %s: cannot append the summary line", log);
        int bad = fprintf(f, "%s\n", line) < 0;
        if (fclose(f) != 0 || bad) return levi_error(LEVI_ERR_IO, "--log %s: writing the summary line failed", log);
        return LEVI_OK;
    }
    size_t keep = 0, n = strlen(line);
    char *out = malloc(len + n + 2);
    if (!out) {
        free(text);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    }
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) + 1 : len;
        if (!memmem(text + pos, end - pos, "\"type\":\"summary\"", 16)) {
            memcpy(out + keep, text + pos, end - pos);
            keep += end - pos;
        }
        pos = end;
    }
    if (keep && out[keep - 1] != '\n') out[keep++] = '\n';
    memcpy(out + keep, line, n);
    keep += n;
    out[keep++] = '\n';
    st = levi_write_file_atomic(log, out, keep);
    free(out);
    free(text);
    return st;
}

/* The summary line on stdout and, with --log, last in the log. */
static levi_status print_summary(const train_args *a, const levi_train_result *r, const cli_placement *pl) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "summary");
    cJSON_AddStringToObject(o, "method", a->method);
    cJSON_AddNumberToObject(o, "epochs", r->epochs_done);
    cJSON_AddNumberToObject(o, "steps", (double)r->steps);
    cJSON_AddNumberToObject(o, "loss", r->loss);
    cJSON_AddNumberToObject(o, "acc", r->acc);
    if (r->val_acc >= 0) cJSON_AddNumberToObject(o, "val_acc", r->val_acc);
    else cJSON_AddNullToObject(o, "val_acc");
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
    cJSON_AddNumberToObject(o, "samples_per_s", r->samples_per_s);
    cJSON_AddNumberToObject(o, "cached_features", r->cached_features);
    cJSON_AddNumberToObject(o, "cache_build_s", r->cache_build_s);
    cJSON_AddNumberToObject(o, "first_epoch_s", r->first_epoch_s);
    cJSON_AddNumberToObject(o, "last_epoch_s", r->last_epoch_s);
    cJSON_AddNumberToObject(o, "last_epoch_data_wait_s", r->last_epoch_data_wait_s);
    cJSON_AddStringToObject(o, "out", a->out);
    char *s = cJSON_PrintUnformatted(o), *where = cli_placement_json(pl);
    cJSON_Delete(o);
    char *line = s && where ? malloc(strlen(s) + strlen(where) + 2) : NULL;
    levi_status st = line ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for the summary");
    if (line) { /* the placement's fields before the closing brace */
        s[strlen(s) - 1] = '\0';
        sprintf(line, "%s,%s}", s, where);
        puts(line);
    }
    if (line && a->log) st = log_summary(a->log, line);
    free(line);
    free(where);
    free(s);
    return st;
}

/* Ctrl-C stops training cleanly between steps (the per-epoch checkpoint
 * stays valid; exit status 130). The handler replaces any other one (the
 * OpenCL runtime's, levi-cl demo's) while training runs, then is restored. */
static volatile sig_atomic_t g_interrupted;
static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

static int run(const train_args *a, const cli_env *env) {
    levi_model_config mc;
    levi_status st = train_build_config(a, &mc);
    /* outputs and the checkpoint to resume from are checked before any work */
    if (st == LEVI_OK) st = levi_output_check_file("--out", a->out);
    if (st == LEVI_OK && a->ckpt) st = levi_output_check_file("--checkpoint", a->ckpt);
    if (st == LEVI_OK && a->log) st = levi_output_check_file("--log", a->log);
    train_run_opts ro;
    train_run_opts_of(a, &ro);
    int done_epoch = 0;
    long done_steps = 0;
    if (st == LEVI_OK && a->resume) st = train_resume_check(a->resume, &ro, (int)a->epochs, &done_epoch, &done_steps);
    if (st != LEVI_OK) return cli_fail(st);
    int mode = levi_method_backbone_mode(mc.method);
    if (mode >= 0 && !a->backbone) {
        fprintf(stderr, "levi-cl train: method %s needs --backbone DIR\n", a->method);
        return 2;
    }
    if (mode < 0 && (a->backbone || a->backbone_device)) {
        fprintf(stderr, "levi-cl train: method scratch takes no %s\n", a->backbone ? "--backbone" : "--backbone-device");
        return 2;
    }
    const int text = levi_text_path_is_text(a->data);
    if (!text && (a->tokenizer || a->seq_len || a->text_column || a->label_column)) {
        fprintf(stderr, "levi-cl train: --tokenizer, --seq-len and the column options apply to texts (--data "
                        "FILE.jsonl|.csv|.tsv), not to the image folder %s\n", a->data);
        return 2;
    }
    if (text && (a->tokenizer ? a->backbone != NULL : !a->backbone)) {
        fprintf(stderr, "levi-cl train: texts need a tokenizer: %s\n",
                a->backbone ? "the --backbone's vocab.txt tokenises them (no --tokenizer)"
                            : "--tokenizer DIR, a model folder with a vocab.txt (e.g. the BERT of the other methods)");
        return 2;
    }
    int cosine = 0;
    if (a->schedule) {
        if (!strcmp(a->schedule, "cosine")) cosine = 1;
        else if (strcmp(a->schedule, "constant")) {
            fprintf(stderr, "levi-cl train: --schedule: '%s' is not constant or cosine\n", a->schedule);
            return 2;
        }
    }
    int cache = -1;
    if (a->cache) {
        if (!strcmp(a->cache, "on")) cache = 1;
        else if (!strcmp(a->cache, "off")) cache = 0;
        else {
            fprintf(stderr, "levi-cl train: --cache-features: '%s' is not on or off\n", a->cache);
            return 2;
        }
    }
    cli_placement pl;
    levi_model *m[CLI_MAX_DEVICES] = {NULL};
    levi_parallel *par = NULL;
    levi_dataset train, val;
    memset(&train, 0, sizeof train);
    memset(&val, 0, sizeof val);
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", a->out);
    st = cli_placement_open(&pl, env, a->devices, a->backbone_device);
    if (st != LEVI_OK) return cli_fail(st);
    int root = levi_comm_is_root(pl.comm);
    /* one writer of --out (and its checkpoint): the rank that writes them */
    levi_output_lock lock = {.fd = -1};
    if (root) st = levi_output_lock_take(&lock, a->out);
    levi_ctx *ctx = pl.ctx[0], *bctx = pl.backbone_ctx ? pl.backbone_ctx : ctx;
    levi_vit_config vcfg;
    levi_bert_config bcfg;
    levi_preprocess pre;
    unsigned augment = 0;
    cli_text tx;
    memset(&tx, 0, sizeof tx);
    const char *kind = NULL;
    if (st == LEVI_OK && a->backbone) st = cli_backbone_kind(a->backbone, &kind);
    if (st == LEVI_OK && kind && (strcmp(kind, "bert") == 0) != text)
        st = levi_error(LEVI_ERR_INVALID_ARG, "--backbone %s is a %s, which reads %s; --data %s holds %s", a->backbone,
                        kind, text ? "images" : "texts", a->data, text ? "texts" : "images");
    if (st == LEVI_OK && text) {
        /* a BERT reads at most max_position_embeddings tokens */
        int cap = 0;
        if (a->backbone) st = cli_read_bert_config(a->backbone, &bcfg);
        if (st == LEVI_OK && a->backbone) cap = bcfg.max_position_embeddings;
        if (st == LEVI_OK && cap && a->seq_len > cap)
            st = levi_error(LEVI_ERR_INVALID_ARG, "--seq-len %ld is above the %d positions of --backbone %s",
                            a->seq_len, cap, a->backbone);
        if (st == LEVI_OK)
            st = cli_text_open(&tx, a->backbone ? a->backbone : a->tokenizer,
                               a->backbone ? "--backbone" : "--tokenizer", (int)(a->seq_len ? a->seq_len : -cap),
                               a->text_column, a->label_column);
        mc.input = LEVI_INPUT_TOKENS;
        mc.seq_len = tx.seq_len;
    } else if (st == LEVI_OK && a->backbone) {
        st = cli_read_vit_config(a->backbone, &vcfg);
        if (st == LEVI_OK) {
            mc.channels = vcfg.num_channels;
            mc.height = mc.width = vcfg.image_size;
            st = levi_preprocess_load(&pre, a->backbone, mc.channels, mc.height, mc.width, vcfg.image_mean,
                                      vcfg.image_std);
        }
    } else if (st == LEVI_OK) {
        mc.channels = (int)a->channels;
        mc.height = mc.width = (int)a->image_size;
        levi_preprocess_default(&pre, mc.channels, mc.height, mc.width, mc.image_mean, mc.image_std);
    }
    levi_load_options lo = {.limit_per_class = (int)a->limit, .skip_bad = a->skip_bad, .workers = (int)a->workers,
                            .progress = 1};
    if (st == LEVI_OK) st = levi_augment_parse(a->augment, &augment);
    if (st == LEVI_OK && text && augment)
        st = levi_error(LEVI_ERR_INVALID_ARG, "--augment applies to images, not to the texts of %s", a->data);
    if (st == LEVI_OK && text) st = cli_text_load(&tx, &train, a->data, (int)a->limit);
    else if (st == LEVI_OK) st = levi_dataset_load(&train, a->data, &pre, mc.height, mc.width, &lo);
    if (st == LEVI_OK && text && a->val) {
        /* the validation labels must be the training classes, in their order */
        tx.opt.classes = (const char *const *)train.class_names;
        tx.opt.num_classes = train.num_classes;
        st = cli_text_load(&tx, &val, a->val, (int)a->limit);
    } else if (st == LEVI_OK && a->val) st = levi_dataset_load(&val, a->val, &pre, mc.height, mc.width, &lo);
    train.augment = augment;
    train.workers = val.workers = (int)a->workers;
    if (st == LEVI_OK && train.num_classes < 2)
        st = levi_error(LEVI_ERR_INVALID_ARG, "--data %s holds %d class%s%s; training needs at least 2", a->data,
                        train.num_classes, text ? "" : " folder", train.num_classes == 1 ? "" : text ? "es" : "s");
    if (st == LEVI_OK && a->val && val.num_classes != train.num_classes)
        st = levi_error(LEVI_ERR_SHAPE, "--val %s has %d classes, --data %s has %d", a->val, val.num_classes, a->data,
                        train.num_classes);
    if (st == LEVI_OK) {
        char n_img[32], n_cls[32], n_val[32];
        snprintf(n_img, sizeof n_img, "%d", train.n);
        snprintf(n_cls, sizeof n_cls, "%d", train.num_classes);
        snprintf(n_val, sizeof n_val, "%d", a->val ? val.n : 0);
        const char *extra[] = {text ? "training texts" : "training images", n_img, "classes", n_cls,
                               text ? "validation texts" : "validation images", n_val};
        st = cli_placement_check(&pl, a->argc, a->argv, extra, 3);
    }
    /* the memory of the run, before anything that depends on the batch is allocated */
    int batch = (int)a->batch;
    if (st == LEVI_OK) {
        cli_recipe r = {a->backbone && !text ? &vcfg : NULL, mode, mode == LEVI_VIT_LORA ? (int)a->lora_rank : 0, mc,
                        a->backbone && text ? &bcfg : NULL};
        r.mc.num_classes = train.num_classes;
        int hidden = !a->backbone ? 0 : text ? bcfg.hidden_size : vcfg.hidden_size;
        int cacheable = mode == LEVI_VIT_FROZEN, taps = mc.ntaps ? mc.ntaps
                                                         : (mc.method == LEVI_METHOD_LEVI ? 2 : 1);
        double cache_floats = cacheable && cache != 0 && a->backbone
                                  ? (double)taps * hidden * (train.n + (a->val ? val.n : 0))
                                  : 0;
        /* a cache above a quarter of the device stays on the host */
        if (cache_floats * sizeof(float) > ctx->info.global_mem / 4.0) cache_floats = 0;
        char what[96];
        snprintf(what, sizeof what, "train --method %s", a->method);
        int maxb = train.n < 65536 ? train.n : 65536;
        st = cli_memory_check(&r, ctx, bctx, pl.ctx + 1, pl.n - 1, &batch, maxb, cache_floats, what);
    }
    /* One replica per device of this process; the first holds the placement. */
    for (int r = 0; st == LEVI_OK && r < pl.n; r++) {
        mc.num_classes = train.num_classes;
        levi_backbone *bb = NULL;
        if (a->backbone)
            st = cli_backbone_load(&bb, r ? pl.ctx[r] : bctx, a->backbone, kind, batch, tx.seq_len, mode,
                                   (int)a->lora_rank);
        if (st == LEVI_OK) st = levi_model_create(&m[r], pl.ctx[r], &mc, bb, batch);
        if (st == LEVI_OK)
            st = levi_model_set_class_names(m[r], (const char *const *)train.class_names, train.num_classes);
        /* what turns a file into the model's input: the tokenizer, or the image preprocessing */
        char *js = st != LEVI_OK ? NULL : text ? levi_tokenizer_json(tx.tok) : levi_preprocess_json(&pre);
        if (st == LEVI_OK && !js) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        if (st == LEVI_OK) st = text ? levi_model_set_tokenizer(m[r], js) : levi_model_set_preprocessor(m[r], js);
        free(js);
    }
    if (st == LEVI_OK && (pl.n > 1 || levi_comm_size(pl.comm) > 1))
        st = levi_parallel_create(&par, pl.comm, m, pl.n);
    levi_train_result res;
    if (st == LEVI_OK) {
        if (root)
            fprintf(stderr, "train: method %s, %d %s in %d classes, %zu trainable parameters\n", a->method,
                    train.n, text ? "texts" : "images", train.num_classes, levi_model_num_trainable(m[0]));
        if (root && par)
            fprintf(stderr, "train: data parallel over %d devices (%d ranks), %zu floats summed per step\n",
                    levi_parallel_participants(par), levi_comm_size(pl.comm), levi_parallel_grad_floats(par));
        levi_train_config tc;
        levi_train_config_default(&tc);
        tc.epochs = (int)a->epochs;
        tc.batch = batch;
        tc.lr = (float)a->lr;
        tc.wd = (float)a->wd;
        tc.grad_clip = (float)a->clip;
        tc.cosine = cosine;
        tc.warmup = (int)a->warmup;
        tc.seed = (unsigned long long)a->seed;
        tc.cache_features = cache;
        tc.log_every = (int)a->log_every;
        /* logs, checkpoints and the model come from rank 0 only */
        tc.log_path = root ? a->log : NULL;
        tc.checkpoint_path = root ? (a->ckpt ? a->ckpt : ckpt) : NULL;
        tc.resume_path = a->resume;
        tc.val = a->val ? &val : NULL;
        tc.progress = !root ? 0 : isatty(2) ? 1 : 2;
        tc.parallel = par;
        struct sigaction old, sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        g_interrupted = 0;
        char *run = train_run_json(&ro);
        const char *meta[2] = {"run", run ? run : "{}"};
        tc.extra_meta_kv = meta;
        tc.n_extra_meta = 1;
        if (root && a->resume && a->log) st = train_log_rewind(a->log, done_epoch);
        if (st == LEVI_OK && a->resume && done_epoch == (int)a->epochs) {
            /* killed after the last checkpoint, before the model was written */
            levi_safetensors sf;
            if (root) fprintf(stderr, "train: %s holds all %d epochs: writing the model\n", a->resume, done_epoch);
            st = levi_safetensors_read(a->resume, &sf);
            for (int r = 0; st == LEVI_OK && r < pl.n; r++) st = levi_model_read_weights(m[r], &sf, a->resume, 0);
            if (st == LEVI_OK) levi_safetensors_free(&sf);
            memset(&res, 0, sizeof res);
            res.epochs_done = done_epoch;
            res.steps = done_steps;
            res.loss = res.acc = NAN; /* nothing trained in this run: null in the summary */
            res.val_acc = -1;
        } else if (st == LEVI_OK) {
            if (sigaction(SIGINT, &sa, &old) == 0) tc.stop = &g_interrupted;
            st = levi_train(m[0], &train, &tc, &res);
            if (tc.stop) sigaction(SIGINT, &old, NULL);
        }
        free(run);
    }
    if (st == LEVI_OK && root) st = levi_model_save(m[0], a->out, NULL, 0, 0);
    if (st == LEVI_OK && root) st = print_summary(a, &res, &pl);
    int rc = st == LEVI_OK ? 0 : cli_fail(st);
    if (st == LEVI_ERR_INTERRUPTED) rc = 130;
    levi_parallel_free(par);
    for (int r = 0; r < pl.n; r++) levi_model_free(m[r]);
    cli_text_close(&tx);
    levi_dataset_free(&train);
    if (a->val) levi_dataset_free(&val);
    cli_placement_close(&pl, st == LEVI_OK);
    levi_output_lock_release(&lock);
    return rc;
}

int cmd_train(int argc, char **argv, const cli_env *env) {
    if (cli_wants_help(argc, argv)) {
        fputs(k_usage, stdout);
        return 0;
    }
    train_args a;
    levi_status st = train_parse_args(argc, argv, &a);
    if (st != LEVI_OK) {
        fprintf(stderr, "levi-cl train: %s\n\n%s", levi_last_error(), k_usage);
        return 2;
    }
    return run(&a, env);
}
