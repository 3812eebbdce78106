/* levi-cl pretrain: train a ViT with a linear classifier (on the CLS token
 * after the final layernorm) on an ImageFolder, with cross-entropy and AdamW
 * (linear warm-up, cosine decay), and write the backbone as a Hugging Face
 * folder (config.json + preprocessor_config.json + model.safetensors) that
 * `train --backbone` and transformers' ViTModel.from_pretrained accept.
 *
 * It is the trainer's `ft` method (levi_train) on a freshly initialised ViT,
 * without gradient clipping: one model, loop, schedule and optimizer for
 * both commands.
 *
 * stdout: one line per epoch, then a JSON summary line:
 *   {"type":"summary","epochs":E,"steps":S,"loss":L,"acc":A,"seconds":SEC,"samples_per_s":X,"out":DIR,
 *    "world_size":N,"devices":[NAME,...]}
 * (under mpirun from rank 0 only, which alone writes the folder). 
 * Exit status: 0 done, 2 usage error, 1 failure. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "memory.h"
#include "levi/data.h"
#include "levi/parallel.h"
#include "levi/train.h"
#include "placement.h"

static const char *k_usage =
    "usage: levi-cl [--device SEL] pretrain --data DIR --out BACKBONE_DIR [OPTIONS]\n"
    "\n"
    "Train a ViT backbone with a linear classification head on an ImageFolder\n"
    "(DIR/<class>/*.png) and write it as a Hugging Face folder (config.json +\n"
    "model.safetensors) that `levi-cl train --backbone` accepts.\n"
    "\n"
    "options:\n"
    "  --arch A               architecture preset: vit-tiny (image 28, patch 7, channels 1,\n"
    "                         dim 64, depth 4, heads 4, mlp 128), vit-small (the same images, dim 192,\n"
    "                         depth 6, heads 3, mlp 768: about 13 times the compute, for GPUs),\n"
    "                         vit-s16 or vit-b16 (image 224, patch 16, channels 3, depth 12,\n"
    "                         dim 384/768); the options below override it\n"
    "  --image-size N --patch N --channels N --dim N --depth N --heads N --mlp N\n"
    "  --epochs N (2)  --batch N|auto (64)  --lr X (1e-3)  --wd X (0.05)  --seed N (0)\n"
    "                         (memory is checked before anything is allocated; auto: the\n"
    "                         largest batch that fits the device)\n"
    "  --warmup N             warm-up steps of the learning rate (default: 5% of all steps)\n"
    "  --limit N              at most N images per class\n"
    "  --force                replace BACKBONE_DIR when it already holds a backbone\n"
    "  --devices SEL,SEL,...  data parallel: each device computes a shard of every batch\n"
    "                         (under mpirun: the devices of each rank; rank 0 writes)\n"
    "The folder is written whole or not at all (BACKBONE_DIR.tmp.PID, then renamed into\n"
    "place); a second pretrain into the same BACKBONE_DIR fails while this one runs.\n";

typedef struct pretrain_args {
    const char *data, *out, *arch, *devices;
    int argc; /* the command line, for the ranks' configuration check */
    char **argv;
    long image_size, patch, channels, dim, depth, heads, mlp;
    long epochs, batch, seed, limit, warmup;
    double lr, wd;
    int force;
    char out_buf[4000];
} pretrain_args;

static levi_status parse_args(int argc, char **argv, pretrain_args *a) {
    memset(a, 0, sizeof *a);
    a->argc = argc;
    a->argv = argv;
    a->arch = "vit-tiny";
    a->epochs = 2;
    a->batch = 64;
    a->lr = 1e-3;
    a->wd = 0.05;
    a->warmup = -1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **sp = NULL;
        long *ip = NULL, lo = 1, hi = 0;
        double *fp = NULL;
        if (!strcmp(o, "--force")) {
            a->force = 1;
            continue;
        }
        if (!strcmp(o, "--data")) sp = &a->data;
        else if (!strcmp(o, "--out")) sp = &a->out;
        else if (!strcmp(o, "--arch")) sp = &a->arch;
        else if (!strcmp(o, "--devices")) sp = &a->devices;
        else if (!strcmp(o, "--image-size")) ip = &a->image_size, hi = 4096;
        else if (!strcmp(o, "--patch")) ip = &a->patch, hi = 4096;
        else if (!strcmp(o, "--channels")) ip = &a->channels, hi = 3;
        else if (!strcmp(o, "--dim")) ip = &a->dim, hi = 65536;
        else if (!strcmp(o, "--depth")) ip = &a->depth, hi = 64;
        else if (!strcmp(o, "--heads")) ip = &a->heads, hi = 4096;
        else if (!strcmp(o, "--mlp")) ip = &a->mlp, hi = 1 << 20;
        else if (!strcmp(o, "--epochs")) ip = &a->epochs, hi = 100000;
        else if (!strcmp(o, "--batch") && v && !strcmp(v, "auto")) a->batch = 0; /* the largest that fits */
        else if (!strcmp(o, "--batch")) ip = &a->batch, hi = 65536;
        else if (!strcmp(o, "--seed")) ip = &a->seed, lo = 0, hi = 2147483647;
        else if (!strcmp(o, "--limit")) ip = &a->limit, hi = 100000000;
        else if (!strcmp(o, "--warmup")) ip = &a->warmup, lo = 0, hi = 100000000;
        else if (!strcmp(o, "--lr")) fp = &a->lr;
        else if (!strcmp(o, "--wd")) fp = &a->wd;
        else return levi_error(LEVI_ERR_INVALID_ARG, "pretrain: unknown option '%s' (see levi-cl pretrain --help)", o);
        if (!v) return levi_error(LEVI_ERR_INVALID_ARG, "pretrain: %s needs a value", o);
        i++;
        if (sp) *sp = v;
        if (ip) LEVI_TRY(cli_parse_int(o, v, lo, hi, ip));
        if (fp) LEVI_TRY(cli_parse_float(o, v, 0, 10, fp));
    }
    if (!a->data) return levi_error(LEVI_ERR_INVALID_ARG, "pretrain: --data is required");
    if (!a->out) return levi_error(LEVI_ERR_INVALID_ARG, "pretrain: --out is required");
    /* "dir/" → "dir": the temporary folder is a sibling, never a child */
    size_t n = strlen(a->out);
    if (n >= sizeof a->out_buf) return levi_error(LEVI_ERR_INVALID_ARG, "pretrain: --out path is too long");
    memcpy(a->out_buf, a->out, n + 1);
    while (n > 1 && a->out_buf[n - 1] == '/') a->out_buf[--n] = '\0';
    a->out = a->out_buf;
    levi_vit_config probe;
    if (cli_vit_preset(a->arch, &probe) != LEVI_OK)
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "pretrain: --arch '%s' is not known (expected vit-tiny, vit-small, vit-s16 or vit-b16)",
                          a->arch);
    return LEVI_OK;
}

static levi_status make_config(const pretrain_args *a, levi_vit_config *c) {
    LEVI_TRY(cli_vit_preset(a->arch, c));
    if (a->image_size) c->image_size = (int)a->image_size;
    if (a->patch) c->patch_size = (int)a->patch;
    if (a->channels) c->num_channels = (int)a->channels;
    if (a->dim) c->hidden_size = (int)a->dim;
    if (a->depth) c->num_hidden_layers = (int)a->depth;
    if (a->heads) c->num_attention_heads = (int)a->heads;
    if (a->mlp) c->intermediate_size = (int)a->mlp;
    return levi_vit_config_validate(c);
}

/* The output folder must be absent, empty, or (with --force) a backbone
 * folder holding nothing else: replacing it removes the old one whole. */
static levi_status check_out(const pretrain_args *a) {
    struct stat s;
    if (stat(a->out, &s) != 0) return LEVI_OK;
    if (!S_ISDIR(s.st_mode))
        return levi_error(LEVI_ERR_INVALID_ARG, "pretrain: --out %s exists and is not a folder", a->out);
    DIR *d = opendir(a->out);
    int entries = 0, others = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        entries++;
        others += strcmp(e->d_name, "config.json") && strcmp(e->d_name, "model.safetensors") &&
                  strcmp(e->d_name, "preprocessor_config.json");
    }
    if (d) closedir(d);
    if (!entries) return LEVI_OK; /* an empty folder is replaced by rename */
    char p[4096];
    snprintf(p, sizeof p, "%s/config.json", a->out);
    if (!a->force || access(p, F_OK) != 0 || others)
        return levi_error(LEVI_ERR_INVALID_ARG, "pretrain: --out %s exists and is not empty%s", a->out,
                          !a->force ? "; add --force to replace it"
                          : others  ? " (and holds other files than a backbone's: not replacing it)"
                                    : " (and holds no config.json: not replacing it)");
    return LEVI_OK;
}


/* stdout: one line per finished epoch */
typedef struct epoch_print {
    long epochs;
    int images;
} epoch_print;

static void on_epoch(void *user, int epoch, const levi_train_result *r) {
    const epoch_print *p = user;
    double dt = r->last_epoch_s > 0 ? r->last_epoch_s : 1e-9;
    printf("epoch %d/%ld: loss %.4f, train accuracy %.2f%% (%d images, %.1f s, %.0f samples/s)\n", epoch, p->epochs,
           r->loss, 100.0 * r->acc, p->images, r->last_epoch_s, p->images / dt);
    fflush(stdout);
}

/* A ViT of config c with random weights (seed) under the `ft` method's linear head. */
static levi_status make_model(levi_ctx *ctx, const levi_vit_config *c, int classes, int batch,
                              unsigned long long seed, levi_model **out) {
    *out = NULL;
    levi_vit *vit = NULL;
    LEVI_TRY(levi_vit_create(&vit, ctx, c, batch, LEVI_VIT_FULL, 0));
    levi_status st = levi_vit_init_random(vit, seed);
    if (st != LEVI_OK) {
        levi_vit_free(vit);
        return st;
    }
    levi_backbone *bb = NULL;
    LEVI_TRY(levi_backbone_from_vit(&bb, ctx, vit));
    levi_model_config mc;
    levi_model_config_default(&mc, LEVI_METHOD_FT);
    mc.num_classes = classes;
    mc.channels = c->num_channels;
    mc.height = mc.width = c->image_size;
    mc.seed = seed;
    return levi_model_create(out, ctx, &mc, bb, batch);
}

static levi_status run(const pretrain_args *a, const cli_env *env, char *tmp, size_t tmp_len) {
    levi_vit_config c;
    LEVI_TRY(make_config(a, &c));
    cli_placement pl;
    LEVI_TRY(cli_placement_open(&pl, env, a->devices, NULL));
    int root = levi_comm_is_root(pl.comm);
    /* rank 0 alone writes: one writer per --out, then repair what a killed writer left */
    levi_output_lock lock = {.fd = -1};
    levi_status st = root ? levi_output_check_dir("--out", a->out) : LEVI_OK;
    if (st == LEVI_OK && root) st = levi_output_lock_take(&lock, a->out);
    if (st == LEVI_OK && root) st = levi_output_recover(a->out, NULL);
    if (st == LEVI_OK && root) st = check_out(a);
    levi_dataset ds;
    memset(&ds, 0, sizeof ds);
    if (st == LEVI_OK)
        st = levi_dataset_load_folder(&ds, a->data, c.num_channels, c.image_size, c.image_size, (int)a->limit);
    if (st == LEVI_OK && (ds.num_classes < 2 || ds.n < 1))
        st = levi_error(LEVI_ERR_INVALID_ARG, "pretrain: %s has %d classes; at least 2 are needed", a->data,
                        ds.num_classes);
    int batch = (int)(a->batch < ds.n ? a->batch : ds.n);
    if (st == LEVI_OK) {
        char n_img[32], n_cls[32];
        snprintf(n_img, sizeof n_img, "%d", ds.n);
        snprintf(n_cls, sizeof n_cls, "%d", ds.num_classes);
        const char *extra[] = {"training images", n_img, "classes", n_cls};
        st = cli_placement_check(&pl, a->argc, a->argv, extra, 2);
    }
    if (st == LEVI_OK) {
        /* the memory of the run, before anything is allocated */
        cli_recipe r = {&c, LEVI_VIT_FULL, 0, {0}, NULL};
        levi_model_config_default(&r.mc, LEVI_METHOD_FT);
        r.mc.num_classes = ds.num_classes;
        r.mc.channels = c.num_channels;
        r.mc.height = r.mc.width = c.image_size;
        st = cli_memory_check(&r, pl.ctx[0], pl.ctx[0], pl.ctx + 1, pl.n - 1, &batch, ds.n < 65536 ? ds.n : 65536, 0,
                              "pretrain");
    }
    /* one replica per device of this process, each from the same seed */
    levi_model *m[CLI_MAX_DEVICES] = {NULL};
    levi_parallel *par = NULL;
    for (int i = 0; st == LEVI_OK && i < pl.n; i++)
        st = make_model(pl.ctx[i], &c, ds.num_classes, batch, (unsigned long long)a->seed, &m[i]);
    if (st == LEVI_OK && (pl.n > 1 || levi_comm_size(pl.comm) > 1)) st = levi_parallel_create(&par, pl.comm, m, pl.n);
    size_t nl = 0;
    if (st == LEVI_OK && root)
        fprintf(stderr, "pretrain: %d images, %d classes, ViT %dx%d/%d dim %d depth %d heads %d mlp %d (%zu parameters), "
                        "batch %d, %ld epochs on %s%s\n",
                ds.n, ds.num_classes, c.image_size, c.image_size, c.patch_size, c.hidden_size, c.num_hidden_layers,
                c.num_attention_heads, c.intermediate_size,
                levi_backbone_num_params(levi_model_backbone(m[0]), &nl), batch, a->epochs, pl.ctx[0]->info.name,
                par ? " (data parallel)" : "");
    const long steps_per_epoch = (ds.n + batch - 1) / batch, total = steps_per_epoch * a->epochs;
    levi_train_config tc;
    levi_train_config_default(&tc);
    tc.epochs = (int)a->epochs;
    tc.batch = batch;
    tc.lr = (float)a->lr;
    tc.wd = (float)a->wd;
    tc.grad_clip = 0.0f;
    tc.cosine = 1;
    tc.warmup = (int)(a->warmup >= 0 ? a->warmup : total / 20);
    tc.seed = (unsigned long long)a->seed;
    tc.cache_features = 0;
    tc.progress = root && isatty(fileno(stderr)) ? 1 : 0;
    tc.parallel = par;
    epoch_print ep = {a->epochs, ds.n};
    tc.on_epoch = root ? on_epoch : NULL;
    tc.on_epoch_user = &ep;
    levi_train_result r;
    memset(&r, 0, sizeof r);
    if (st == LEVI_OK) st = levi_train(m[0], &ds, &tc, &r);
    if (st == LEVI_OK && root) {
        st = levi_output_tmpdir(a->out, tmp, tmp_len); /* <out>.tmp.<pid>, mode 0755 */
        if (st != LEVI_OK) tmp[0] = '\0';
        if (st == LEVI_OK) st = levi_vit_save(levi_backbone_vit(levi_model_backbone(m[0])), tmp, 0);
        if (st == LEVI_OK) st = levi_dir_publish(tmp, a->out); /* never leaves --out missing */
        if (st == LEVI_OK) {
            tmp[0] = '\0';
            printf("{\"type\":\"summary\",\"epochs\":%ld,\"steps\":%ld,\"loss\":%.6f,\"acc\":%.6f,\"seconds\":%.3f,"
                   "\"samples_per_s\":%.1f,\"out\":\"%s\",",
                   a->epochs, r.steps, r.loss, r.acc, r.seconds, r.samples_per_s, a->out);
            char *where = cli_placement_json(&pl);
            printf("%s}\n", where ? where : "\"world_size\":1");
            free(where);
        }
    }
    levi_parallel_free(par);
    for (int i = 0; i < pl.n; i++) levi_model_free(m[i]);
    cli_placement_close(&pl, st == LEVI_OK);
    levi_dataset_free(&ds);
    if (st != LEVI_OK && tmp[0]) levi_rmtree(tmp);
    tmp[0] = '\0';
    levi_output_lock_release(&lock);
    return st;
}

int cmd_pretrain(int argc, char **argv, const cli_env *env) {
    if (cli_wants_help(argc, argv)) {
        fputs(k_usage, stdout);
        return 0;
    }
    pretrain_args a;
    levi_status st = parse_args(argc, argv, &a);
    if (st != LEVI_OK) {
        fprintf(stderr, "levi-cl: error: %s\nsee levi-cl pretrain --help\n", levi_last_error());
        return 2;
    }
    char tmp[4096] = "";
    st = run(&a, env, tmp, sizeof tmp);
    return st != LEVI_OK ? cli_fail(st) : 0;
}
