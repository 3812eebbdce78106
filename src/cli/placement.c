/* Devices and ranks of a run (see placement.h). */
#include <stdlib.h>
#include <string.h>

#include "placement.h"

/* Resolve one selector against the list, with the candidates in the error. */
static levi_status select_one(const levi_device_list *list, const char *opt, const char *sel, int *index) {
    char why[160] = "";
    levi_status st = levi_device_select(list->devices, list->count, sel, index, why, sizeof why);
    if (st != LEVI_OK) {
        char msg[2048];
        int used = snprintf(msg, sizeof msg, "%s %s: %s\ncandidates (levi-cl --device list):", opt, sel,
                            levi_last_error());
        for (int i = 0; i < list->count && used > 0 && (size_t)used < sizeof msg; i++)
            used += snprintf(msg + used, sizeof msg - (size_t)used, "\n  [%d] %s (%s)", i, list->devices[i].name,
                             list->devices[i].platform_name);
        return levi_error(st, "%s", msg);
    }
    return LEVI_OK;
}

static levi_status parse_devices(const levi_device_list *list, const char *devices, int *idx, int *n) {
    *n = 0;
    char *copy = strdup(devices), *save = NULL;
    if (!copy) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    levi_status st = LEVI_OK;
    for (char *tok = strtok_r(copy, ",", &save); st == LEVI_OK && tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == CLI_MAX_DEVICES) {
            st = levi_error(LEVI_ERR_INVALID_ARG, "--devices %s: at most %d devices", devices, CLI_MAX_DEVICES);
            break;
        }
        st = select_one(list, "--devices", tok, &idx[*n]);
        for (int i = 0; st == LEVI_OK && i < *n; i++)
            if (idx[i] == idx[*n])
                st = levi_error(LEVI_ERR_INVALID_ARG, "--devices %s: device [%d] %s is named twice", devices, idx[i],
                                list->devices[idx[i]].name);
        if (st == LEVI_OK) (*n)++;
    }
    if (st == LEVI_OK && *n == 0)
        st = levi_error(LEVI_ERR_INVALID_ARG, "--devices '%s': expected SEL,SEL,... (levi-cl --device list)", devices);
    free(copy);
    return st;
}

/* Local rank r of an MPI run: the r-th GPU (else the r-th device), modulo
 * their count. */
static int rank_device(const levi_device_list *list, int r) {
    int gpus = 0;
    for (int i = 0; i < list->count; i++) gpus += list->devices[i].type == CL_DEVICE_TYPE_GPU;
    int k = r % (gpus ? gpus : list->count);
    for (int i = 0; i < list->count; i++)
        if (!gpus || list->devices[i].type == CL_DEVICE_TYPE_GPU) {
            if (k-- == 0) return i;
        }
    return 0;
}

static levi_status open_index(const levi_device_list *list, int i, const char *role, const char *why,
                              levi_ctx **out) {
    const levi_device_info *d = &list->devices[i];
    LEVI_INFO("%s device [%d] %d:%d %s (%s, driver %s): %s", role, d->index, d->platform_index, d->device_index,
              d->name, d->platform_name, d->driver_version, why);
    return levi_ctx_create(out, d);
}

levi_status cli_placement_open(cli_placement *p, const cli_env *env, const char *devices, const char *backbone) {
    memset(p, 0, sizeof *p);
    if (devices && env->device)
        return levi_error(LEVI_ERR_INVALID_ARG, "give either --device or --devices, not both");
    if (devices && backbone)
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "--devices with --backbone-device is not supported: each device of --devices runs a "
                          "whole replica");
    LEVI_TRY(levi_comm_open(&p->comm, NULL));
    levi_comm_quiet_others(p->comm);
    levi_device_list list;
    levi_status st = levi_device_list_query(&list);
    if (st != LEVI_OK) {
        cli_placement_close(p, 0);
        return st;
    }
    int idx[CLI_MAX_DEVICES], n = 0;
    char why[96] = "selected";
    if (devices) {
        st = parse_devices(&list, devices, idx, &n);
        snprintf(why, sizeof why, "--devices");
    } else if (!env->device && !getenv("LEVI_DEVICE") && levi_comm_size(p->comm) > 1) {
        idx[n++] = rank_device(&list, levi_comm_local_rank(p->comm));
        snprintf(why, sizeof why, "rank %d of %d (local rank %d)", levi_comm_rank(p->comm), levi_comm_size(p->comm),
                 levi_comm_local_rank(p->comm));
    }
    if (st == LEVI_OK && n > 0) {
        for (int i = 0; st == LEVI_OK && i < n; i++) {
            char role[32];
            snprintf(role, sizeof role, n > 1 ? "replica %d:" : "", i);
            st = open_index(&list, idx[i], role, why, &p->ctx[i]);
            if (st == LEVI_OK) p->n = i + 1;
        }
    } else if (st == LEVI_OK) {
        st = cli_open(env, &p->ctx[0]);
        if (st == LEVI_OK) p->n = 1;
    }
    if (st == LEVI_OK && backbone) {
        int b = -1;
        st = select_one(&list, "--backbone-device", backbone, &b);
        if (st == LEVI_OK && b != p->ctx[0]->info.index)
            st = open_index(&list, b, "backbone stage:", "--backbone-device", &p->backbone_ctx);
        else if (st == LEVI_OK)
            LEVI_INFO("--backbone-device %s is the head's device: one stage, one context", backbone);
    }
    levi_device_list_free(&list);
    if (st != LEVI_OK) cli_placement_close(p, 0);
    return st;
}

void cli_placement_close(cli_placement *p, int clean) {
    /* LEVI_PROFILE=1: how long both stages computed at the same time */
    if (clean && p->backbone_ctx && p->backbone_ctx->profiling && p->ctx[0]->profiling)
        levi_profile_print_overlap(stderr, p->backbone_ctx, "backbone stage", p->ctx[0], "head stage");
    levi_ctx_destroy(p->backbone_ctx);
    for (int i = 0; i < p->n; i++) levi_ctx_destroy(p->ctx[i]);
    levi_comm_close(p->comm, clean);
    memset(p, 0, sizeof *p);
}

/* Append s to the JSON text as a string (the names are plain device names,
 * but quote and backslash are escaped all the same). */
static void json_string(char *out, size_t len, const char *s) {
    size_t u = strlen(out);
    if (u + 1 < len) out[u++] = '"';
    for (; *s && u + 3 < len; s++) {
        if (*s == '"' || *s == '\\') out[u++] = '\\';
        out[u++] = (unsigned char)*s < 0x20 ? ' ' : *s;
    }
    if (u + 1 < len) out[u++] = '"';
    out[u] = '\0';
}

char *cli_placement_json(const cli_placement *p) {
    size_t len = 64 + (size_t)(p->n + 1) * 2 * 260;
    char *s = malloc(len);
    if (!s) return NULL;
    snprintf(s, len, "\"world_size\":%d,\"devices\":[", levi_comm_size(p->comm));
    int k = 0;
    if (p->backbone_ctx) json_string(s, len, p->backbone_ctx->info.name), k++;
    for (int i = 0; i < p->n; i++) {
        if (k++) strncat(s, ",", len - strlen(s) - 1);
        json_string(s, len, p->ctx[i]->info.name);
    }
    strncat(s, "]", len - strlen(s) - 1);
    return s;
}

static int per_rank_option(const char *a) {
    static const char *const k[] = {"--device", "--devices", "--backbone-device"};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        size_t n = strlen(k[i]);
        if (!strncmp(a, k[i], n) && (a[n] == '\0' || a[n] == '=')) return 1;
    }
    return 0;
}

levi_status cli_placement_check(cli_placement *p, int argc, char **argv, const char *const *extra, int n_extra) {
    if (levi_comm_size(p->comm) == 1) return LEVI_OK;
    /* argv as pairs: an option with its value ("--lr", "0.002"), or a lone
     * word with an empty name. */
    const char **kv = malloc(((size_t)argc + (size_t)n_extra + 2) * 2 * sizeof *kv);
    if (!kv) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    int n = 0;
    kv[2 * n] = "levi-cl version";
    kv[2 * n++ + 1] = LEVI_VERSION;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = a[0] == '-' && a[1] == '-' && !strchr(a, '=') && i + 1 < argc && strncmp(argv[i + 1], "--", 2);
        if (per_rank_option(a)) {
            i += has_value;
            continue;
        }
        kv[2 * n] = a[0] == '-' ? a : "argument";
        kv[2 * n++ + 1] = a[0] != '-' ? a : has_value ? argv[++i] : "";
    }
    for (int i = 0; i < n_extra; i++) {
        kv[2 * n] = extra[2 * i];
        kv[2 * n++ + 1] = extra[2 * i + 1];
    }
    levi_status st = levi_comm_check_config(p->comm, kv, n);
    free(kv);
    return st;
}
