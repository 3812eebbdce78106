/* levi-cl pretrain: train a ViT with a linear classifier (on the CLS token
 * after the final layernorm) on an ImageFolder, with cross-entropy and AdamW
 * (linear warm-up, cosine decay), and write the backbone as a Hugging Face
 * folder (config.json + preprocessor_config.json + model.safetensors) that
 * `train --backbone` and transformers' ViTModel.from_pretrained accept.
 *
 * stdout: one line per epoch, then a JSON summary line:
 *   {"type":"summary","epochs":E,"steps":S,"loss":L,"acc":A,"seconds":SEC,"samples_per_s":X,"out":DIR}
 * Exit status: 0 done, 2 usage error, 1 failure. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "levi/data.h"

static const char *k_usage =
    "usage: levi-cl [--device SEL] pretrain --data DIR --out BACKBONE_DIR [OPTIONS]\n"
    "\n"
    "Train a ViT backbone with a linear classification head on an ImageFolder\n"
    "(DIR/<class>/*.png) and write it as a Hugging Face folder (config.json +\n"
    "model.safetensors) that `levi-cl train --backbone` accepts.\n"
    "\n"
    "options:\n"
    "  --arch vit-tiny        architecture preset (image 28, patch 7, channels 1, dim 64,\n"
    "                         depth 4, heads 4, mlp 128); the options below override it\n"
    "  --image-size N --patch N --channels N --dim N --depth N --heads N --mlp N\n"
    "  --epochs N (2)  --batch N (64)  --lr X (1e-3)  --wd X (0.05)  --seed N (0)\n"
    "  --warmup N             warm-up steps of the learning rate (default: 5% of all steps)\n"
    "  --limit N              at most N images per class\n"
    "  --force                replace BACKBONE_DIR when it already holds a backbone\n"
    "The folder is written whole or not at all (BACKBONE_DIR.tmp-XXXXXX, then renamed).\n";

typedef struct pretrain_args {
    const char *data, *out, *arch;
    long image_size, patch, channels, dim, depth, heads, mlp;
    long epochs, batch, seed, limit, warmup;
    double lr, wd;
    int force;
    char out_buf[4000];
} pretrain_args;

static levi_status parse_args(int argc, char **argv, pretrain_args *a) {
    memset(a, 0, sizeof *a);
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
        else if (!strcmp(o, "--image-size")) ip = &a->image_size, hi = 4096;
        else if (!strcmp(o, "--patch")) ip = &a->patch, hi = 4096;
        else if (!strcmp(o, "--channels")) ip = &a->channels, hi = 3;
        else if (!strcmp(o, "--dim")) ip = &a->dim, hi = 65536;
        else if (!strcmp(o, "--depth")) ip = &a->depth, hi = 64;
        else if (!strcmp(o, "--heads")) ip = &a->heads, hi = 4096;
        else if (!strcmp(o, "--mlp")) ip = &a->mlp, hi = 1 << 20;
        else if (!strcmp(o, "--epochs")) ip = &a->epochs, hi = 100000;
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
    if (strcmp(a->arch, "vit-tiny"))
        return levi_error(LEVI_ERR_INVALID_ARG, "pretrain: --arch '%s' is not known (expected vit-tiny)", a->arch);
    return LEVI_OK;
}

static levi_status make_config(const pretrain_args *a, levi_vit_config *c) {
    levi_vit_config_default(c);
    if (a->image_size) c->image_size = (int)a->image_size;
    if (a->patch) c->patch_size = (int)a->patch;
    if (a->channels) c->num_channels = (int)a->channels;
    if (a->dim) c->hidden_size = (int)a->dim;
    if (a->depth) c->num_hidden_layers = (int)a->depth;
    if (a->heads) c->num_attention_heads = (int)a->heads;
    if (a->mlp) c->intermediate_size = (int)a->mlp;
    return levi_vit_config_validate(c);
}

/* The output folder must be absent, empty, or (with --force) a backbone. */
static levi_status check_out(const pretrain_args *a) {
    struct stat s;
    if (stat(a->out, &s) != 0) return LEVI_OK;
    if (!S_ISDIR(s.st_mode))
        return levi_error(LEVI_ERR_INVALID_ARG, "pretrain: --out %s exists and is not a folder", a->out);
    DIR *d = opendir(a->out);
    int entries = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) entries++;
    if (d) closedir(d);
    if (!entries) return LEVI_OK; /* an empty folder is replaced by rename */
    char p[4096];
    snprintf(p, sizeof p, "%s/config.json", a->out);
    if (!a->force || access(p, F_OK) != 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "pretrain: --out %s exists and is not empty%s", a->out,
                          a->force ? " (and holds no config.json: not replacing it)" : "; add --force to replace it");
    return LEVI_OK;
}

/* Move tmp into place; an old backbone folder (checked by check_out) is
 * removed file by file only after the new one is complete. */
static levi_status publish(const char *tmp, const char *out) {
    if (rename(tmp, out) == 0) return LEVI_OK;
    if (errno != ENOTEMPTY && errno != EEXIST)
        return levi_error(LEVI_ERR_IO, "pretrain: cannot rename %s to %s: %s", tmp, out, strerror(errno));
    char old[4096], p[4200];
    snprintf(old, sizeof old, "%s.old-%ld", out, (long)getpid());
    if (rename(out, old) != 0)
        return levi_error(LEVI_ERR_IO, "pretrain: cannot move %s aside: %s", out, strerror(errno));
    if (rename(tmp, out) != 0) {
        int e = errno;
        rename(old, out);
        return levi_error(LEVI_ERR_IO, "pretrain: cannot rename %s to %s: %s", tmp, out, strerror(e));
    }
    const char *files[3] = {"config.json", "model.safetensors", "preprocessor_config.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", old, files[i]);
        remove(p);
    }
    if (rmdir(old) != 0) LEVI_WARN("pretrain: the previous backbone was kept in %s (it holds other files)", old);
    return LEVI_OK;
}

static void remove_tmp(const char *tmp) {
    const char *files[3] = {"config.json", "model.safetensors", "preprocessor_config.json"};
    char p[4200];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp, files[i]);
        remove(p);
    }
    rmdir(tmp);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The model being pretrained: backbone + head (K,D) and the batch buffers. */
typedef struct pretrainer {
    levi_ctx *ctx;
    levi_vit *vit;
    int K, D, L, max_batch;
    levi_arena head, head_g, head_m, head_v, bufs;
    size_t w, b, pixels, labels, logits, probs, losses, correct, dlogits, dcls;
} pretrainer;

static levi_tensor buf2(const levi_arena *a, size_t off, int n0, int n1) {
    int s[2] = {n0, n1};
    return levi_arena_tensor(a, off, 2, s);
}

static levi_status pt_create(pretrainer *p, levi_ctx *ctx, const levi_vit_config *c, int K, int batch,
                             unsigned long long seed) {
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->K = K;
    p->D = c->hidden_size;
    p->L = c->num_hidden_layers;
    p->max_batch = batch;
    LEVI_TRY(levi_vit_create(&p->vit, ctx, c, batch, LEVI_VIT_FULL, 0));
    LEVI_TRY(levi_vit_init_random(p->vit, seed));
    levi_arena *hs[4] = {&p->head, &p->head_g, &p->head_m, &p->head_v};
    const char *roles[4] = {"head parameters", "head gradients", "head AdamW m", "head AdamW v"};
    for (int i = 0; i < 4; i++) {
        levi_arena_init(hs[i], ctx, roles[i]);
        p->w = levi_arena_reserve(hs[i], (size_t)K * p->D);
        p->b = levi_arena_reserve(hs[i], (size_t)K);
        LEVI_TRY(levi_arena_commit(hs[i]));
    }
    levi_arena_init(&p->bufs, ctx, "pretrain batch buffers");
    const size_t B = (size_t)batch;
    p->pixels = levi_arena_reserve(&p->bufs, B * c->num_channels * c->image_size * c->image_size);
    p->labels = levi_arena_reserve(&p->bufs, B);
    p->logits = levi_arena_reserve(&p->bufs, B * K);
    p->probs = levi_arena_reserve(&p->bufs, B * K);
    p->losses = levi_arena_reserve(&p->bufs, B);
    p->correct = levi_arena_reserve(&p->bufs, B);
    p->dlogits = levi_arena_reserve(&p->bufs, B * K);
    p->dcls = levi_arena_reserve(&p->bufs, B * p->D);
    LEVI_TRY(levi_arena_commit(&p->bufs));
    /* head: normal(0.02) weights (as HF's classifier init), zero bias */
    size_t n = p->head.numel;
    float *h = calloc(n, sizeof(float));
    if (!h) return levi_error(LEVI_ERR_HOST_MEMORY, "pretrain: out of memory");
    unsigned long long s = seed ^ 0x5eedull;
    for (size_t i = 0; i < (size_t)K * p->D; i++) {
        double u1 = ((double)(levi_splitmix64(&s) >> 11) + 0.5) / 9007199254740992.0;
        double u2 = ((double)(levi_splitmix64(&s) >> 11) + 0.5) / 9007199254740992.0;
        h[p->w + i] = (float)(0.02 * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
    levi_tensor all = levi_arena_all(&p->head);
    levi_status st = levi_tensor_write(&all, h);
    free(h);
    return st;
}

static void pt_free(pretrainer *p) {
    levi_vit_free(p->vit);
    levi_arena *as[5] = {&p->head, &p->head_g, &p->head_m, &p->head_v, &p->bufs};
    for (int i = 0; i < 5; i++) levi_arena_free(as[i]);
}

/* One AdamW step on a batch of n images already in p->bufs; returns the mean
 * loss and the number of correct predictions. */
static levi_status pt_step(pretrainer *p, int n, float lr, float wd, int t, float *loss, int *correct) {
    levi_ctx *ctx = p->ctx;
    const int K = p->K, D = p->D;
    int ps[4] = {n, levi_vit_get_config(p->vit)->num_channels, levi_vit_get_config(p->vit)->image_size,
                 levi_vit_get_config(p->vit)->image_size};
    levi_tensor pixels = levi_arena_tensor(&p->bufs, p->pixels, 4, ps);
    LEVI_TRY(levi_vit_forward(p->vit, &pixels, n));
    levi_tensor cls = levi_vit_cls(p->vit, p->L, n);
    levi_tensor w = buf2(&p->head, p->w, K, D), b = buf2(&p->head, p->b, 1, K);
    levi_tensor dw = buf2(&p->head_g, p->w, K, D), db = buf2(&p->head_g, p->b, 1, K);
    levi_tensor logits = buf2(&p->bufs, p->logits, n, K), probs = buf2(&p->bufs, p->probs, n, K);
    levi_tensor labels = buf2(&p->bufs, p->labels, n, 1), losses = buf2(&p->bufs, p->losses, n, 1);
    levi_tensor corr = buf2(&p->bufs, p->correct, n, 1), dlogits = buf2(&p->bufs, p->dlogits, n, K);
    levi_tensor dcls = buf2(&p->bufs, p->dcls, n, D);
    LEVI_TRY(levi_linear_forward(ctx, &logits, &cls, &w, &b, n, D, K));
    LEVI_TRY(levi_crossentropy_forward(ctx, &probs, &losses, &corr, &logits, &labels, n, K, loss, correct));
    if (!isfinite(*loss)) return levi_error(LEVI_ERR_NOT_FINITE, "pretrain: the loss is %g at step %d", *loss, t);
    LEVI_TRY(levi_vit_zero_grad(p->vit));
    levi_tensor hg = levi_arena_all(&p->head_g);
    LEVI_TRY(levi_tensor_zero(&hg));
    LEVI_TRY(levi_tensor_zero(&dlogits));
    LEVI_TRY(levi_tensor_zero(&dcls));
    LEVI_TRY(levi_crossentropy_backward(ctx, &dlogits, &probs, &labels, n, K, 1.0f / (float)n));
    LEVI_TRY(levi_linear_backward(ctx, &dcls, &dw, &db, &dlogits, &cls, &w, n, D, K));
    const levi_tensor *dp = &dcls;
    const int tap = p->L;
    LEVI_TRY(levi_vit_backward(p->vit, &dp, &tap, 1, n));
    levi_adamw_cfg oc = {lr, 0.9f, 0.999f, 1e-8f, wd};
    levi_tensor vp, vg, vm, vv;
    levi_vit_trainable(p->vit, &vp, &vg, &vm, &vv);
    LEVI_TRY(levi_adamw_update(ctx, &vp, &vg, &vm, &vv, vp.numel, &oc, t));
    levi_tensor hp = levi_arena_all(&p->head), hm = levi_arena_all(&p->head_m), hv = levi_arena_all(&p->head_v);
    return levi_adamw_update(ctx, &hp, &hg, &hm, &hv, hp.numel, &oc, t);
}

static float lr_at(double base, long step, long warmup, long total) {
    if (step < warmup) return (float)(base * (double)(step + 1) / (double)warmup);
    double f = total > warmup ? (double)(step - warmup) / (double)(total - warmup) : 1.0;
    return (float)(base * 0.5 * (1.0 + cos(3.141592653589793 * f)));
}

static levi_status run(const pretrain_args *a, const cli_env *env, char *tmp, size_t tmp_len) {
    levi_vit_config c;
    LEVI_TRY(make_config(a, &c));
    LEVI_TRY(check_out(a));
    levi_dataset ds;
    LEVI_TRY(levi_dataset_load_folder(&ds, a->data, c.num_channels, c.image_size, c.image_size, (int)a->limit));
    if (ds.num_classes < 2 || ds.n < 1) {
        levi_dataset_free(&ds);
        return levi_error(LEVI_ERR_INVALID_ARG, "pretrain: %s has %d classes; at least 2 are needed", a->data,
                          ds.num_classes);
    }
    const int batch = (int)(a->batch < ds.n ? a->batch : ds.n);
    levi_ctx *ctx = NULL;
    levi_status st = cli_open(env, &ctx);
    pretrainer p;
    memset(&p, 0, sizeof p);
    levi_loader ld;
    memset(&ld, 0, sizeof ld);
    float *img = NULL, *lab = NULL;
    if (st == LEVI_OK) st = pt_create(&p, ctx, &c, ds.num_classes, batch, (unsigned long long)a->seed);
    if (st == LEVI_OK) st = levi_loader_init(&ld, &ds, batch, (unsigned long long)a->seed, 1);
    const size_t px = (size_t)c.num_channels * c.image_size * c.image_size;
    if (st == LEVI_OK) {
        img = malloc((size_t)batch * px * sizeof(float));
        lab = malloc((size_t)batch * sizeof(float));
        if (!img || !lab) st = levi_error(LEVI_ERR_HOST_MEMORY, "pretrain: out of memory");
    }
    size_t nl = 0;
    if (st == LEVI_OK)
        fprintf(stderr, "pretrain: %d images, %d classes, ViT %dx%d/%d dim %d depth %d heads %d mlp %d (%zu parameters), "
                        "batch %d, %ld epochs on %s\n",
                ds.n, ds.num_classes, c.image_size, c.image_size, c.patch_size, c.hidden_size, c.num_hidden_layers,
                c.num_attention_heads, c.intermediate_size, levi_vit_num_params(p.vit, &nl), batch, a->epochs,
                ctx->info.name);
    const long steps_per_epoch = (ds.n + batch - 1) / batch, total = steps_per_epoch * a->epochs;
    const long warmup = a->warmup >= 0 ? a->warmup : total / 20;
    const int tty = isatty(fileno(stderr));
    double t0 = now_s(), loss_sum = 0;
    long step = 0, seen_total = 0;
    int correct_sum = 0, seen = 0;
    for (int e = 0; e < a->epochs && st == LEVI_OK; e++) {
        levi_loader_epoch(&ld, e);
        loss_sum = 0;
        correct_sum = seen = 0;
        double te = now_s(), last_print = te;
        int n;
        while (st == LEVI_OK && (n = levi_loader_next(&ld, img, lab, c.image_mean, c.image_std)) > 0) {
            int ps[4] = {n, c.num_channels, c.image_size, c.image_size};
            levi_tensor tp = levi_arena_tensor(&p.bufs, p.pixels, 4, ps), tl = buf2(&p.bufs, p.labels, n, 1);
            st = levi_tensor_write(&tp, img);
            if (st == LEVI_OK) st = levi_tensor_write(&tl, lab);
            float loss = 0;
            int corr = 0;
            if (st == LEVI_OK) st = pt_step(&p, n, lr_at(a->lr, step, warmup, total), (float)a->wd, (int)step + 1, &loss, &corr);
            if (st != LEVI_OK) break;
            step++;
            seen += n;
            seen_total += n;
            loss_sum += (double)loss * n;
            correct_sum += corr;
            double t = now_s();
            long in_epoch = step - (long)e * steps_per_epoch;
            if (tty && (t - last_print > 0.2 || in_epoch == steps_per_epoch)) {
                fprintf(stderr, "\r  epoch %d/%ld  step %ld/%ld  loss %.4f  acc %.3f  %.0f samples/s   ", e + 1,
                        a->epochs, in_epoch, steps_per_epoch, loss_sum / seen, (double)correct_sum / seen,
                        seen / (t - te));
                last_print = t;
            } else if (!tty && (t - last_print > 10.0)) {
                fprintf(stderr, "  epoch %d/%ld step %ld/%ld loss %.4f acc %.3f %.0f samples/s\n", e + 1, a->epochs,
                        in_epoch, steps_per_epoch, loss_sum / seen, (double)correct_sum / seen, seen / (t - te));
                last_print = t;
            }
        }
        if (st != LEVI_OK) break;
        if (tty) fputc('\n', stderr);
        double dt = now_s() - te;
        printf("epoch %d/%ld: loss %.4f, train accuracy %.2f%% (%d images, %.1f s, %.0f samples/s)\n", e + 1, a->epochs,
               loss_sum / seen, 100.0 * correct_sum / seen, seen, dt, seen / dt);
        fflush(stdout);
    }
    double secs = now_s() - t0;
    if (st == LEVI_OK) {
        snprintf(tmp, tmp_len, "%s.tmp-XXXXXX", a->out);
        if (!mkdtemp(tmp)) {
            st = levi_error(LEVI_ERR_IO, "pretrain: cannot create %s: %s", tmp, strerror(errno));
            tmp[0] = '\0';
        }
    }
    if (st == LEVI_OK) st = levi_vit_save(p.vit, tmp, 0);
    if (st == LEVI_OK) st = publish(tmp, a->out);
    if (st == LEVI_OK) {
        tmp[0] = '\0';
        printf("{\"type\":\"summary\",\"epochs\":%ld,\"steps\":%ld,\"loss\":%.6f,\"acc\":%.6f,\"seconds\":%.3f,"
               "\"samples_per_s\":%.1f,\"out\":\"%s\"}\n",
               a->epochs, step, seen ? loss_sum / seen : 0.0, seen ? (double)correct_sum / seen : 0.0, secs,
               secs > 0 ? seen_total / secs : 0.0, a->out);
    }
    free(img);
    free(lab);
    levi_loader_free(&ld);
    pt_free(&p);
    if (ctx) levi_ctx_destroy(ctx);
    levi_dataset_free(&ds);
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
    if (st != LEVI_OK) {
        if (tmp[0]) remove_tmp(tmp);
        return cli_fail(st);
    }
    return 0;
}
