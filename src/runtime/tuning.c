/* Tuned CLBlast GEMM parameters: constraints, JSON, storage per device and
 * driver in the cache folder, and CLBlastOverrideParameters. */
#include <clblast_c.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "levi/log.h"
#include "levi/tuning.h"

#define TUNING_FORMAT "levi-cl gemm tuning"
#define TUNING_VERSION 1

const char *const levi_xgemm_param_names[LEVI_XGEMM_NPARAMS] = {
    "GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
    "NDIMC", "NWG",  "SA",  "SB",  "STRM",  "STRN",  "VWM", "VWN"};
const char *const levi_xgemm_direct_param_names[LEVI_XGEMM_DIRECT_NPARAMS] = {
    "KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD", "PADA", "PADB", "VWMD", "VWND", "WGD"};

void levi_tuning_defaults(levi_tuning *t) {
    memset(t, 0, sizeof *t);
    static const size_t xg[LEVI_XGEMM_NPARAMS] = {0, 1, 16, 2, 8, 8, 32, 8, 8, 64, 0, 0, 0, 0, 4, 4};
    static const size_t xd[LEVI_XGEMM_DIRECT_NPARAMS] = {2, 8, 8, 8, 8, 1, 1, 1, 1, 32};
    memcpy(t->xgemm, xg, sizeof xg);
    memcpy(t->direct, xd, sizeof xd);
    t->has_xgemm = t->has_direct = t->has_min_indirect = 1;
    t->min_indirect = 384;
}

/* --- constraints ------------------------------------------------------------ */

static int pow2_in(size_t v, size_t lo, size_t hi) { return v >= lo && v <= hi && (v & (v - 1)) == 0; }

#define RULE(cond, ...)                                                                                      \
    do {                                                                                                     \
        if (!(cond)) return levi_error(LEVI_ERR_INVALID_ARG, __VA_ARGS__);                                 \
    } while (0)

levi_status levi_tuning_check_xgemm(const size_t p[LEVI_XGEMM_NPARAMS], const levi_device_info *d) {
    size_t gemmk = p[LEVI_XG_GEMMK], kreg = p[LEVI_XG_KREG], kwg = p[LEVI_XG_KWG], kwi = p[LEVI_XG_KWI];
    size_t mdima = p[LEVI_XG_MDIMA], mdimc = p[LEVI_XG_MDIMC], mwg = p[LEVI_XG_MWG];
    size_t ndimb = p[LEVI_XG_NDIMB], ndimc = p[LEVI_XG_NDIMC], nwg = p[LEVI_XG_NWG];
    size_t sa = p[LEVI_XG_SA], sb = p[LEVI_XG_SB], vwm = p[LEVI_XG_VWM], vwn = p[LEVI_XG_VWN];
    RULE(gemmk <= 1, "Xgemm GEMMK=%zu: expected 0 or 1", gemmk);
    RULE(sa <= 1 && sb <= 1 && p[LEVI_XG_STRM] <= 1 && p[LEVI_XG_STRN] <= 1,
         "Xgemm SA, SB, STRM, STRN must be 0 or 1");
    RULE(pow2_in(vwm, 1, 16) && pow2_in(vwn, 1, 16), "Xgemm VWM=%zu VWN=%zu: expected 1, 2, 4, 8 or 16", vwm, vwn);
    RULE(pow2_in(mwg, 1, 512) && pow2_in(nwg, 1, 512) && pow2_in(kwg, 1, 512),
         "Xgemm MWG=%zu NWG=%zu KWG=%zu: expected powers of two up to 512", mwg, nwg, kwg);
    RULE(pow2_in(mdimc, 1, 256) && pow2_in(ndimc, 1, 256) && pow2_in(mdima, 1, 256) && pow2_in(ndimb, 1, 256),
         "Xgemm MDIMC, NDIMC, MDIMA, NDIMB must be powers of two up to 256");
    RULE(kwi >= 1 && kwg % kwi == 0, "Xgemm KWG=%zu is not a multiple of KWI=%zu", kwg, kwi);
    RULE(kreg >= 1 && kreg <= 64, "Xgemm KREG=%zu: expected 1..64", kreg);
    RULE(mwg % (mdimc * vwm) == 0, "Xgemm MWG=%zu is not a multiple of MDIMC*VWM=%zu", mwg, mdimc * vwm);
    RULE(nwg % (ndimc * vwn) == 0, "Xgemm NWG=%zu is not a multiple of NDIMC*VWN=%zu", nwg, ndimc * vwn);
    RULE(mwg % (mdima * vwm) == 0, "Xgemm MWG=%zu is not a multiple of MDIMA*VWM=%zu", mwg, mdima * vwm);
    RULE(nwg % (ndimb * vwn) == 0, "Xgemm NWG=%zu is not a multiple of NDIMB*VWN=%zu", nwg, ndimb * vwn);
    if (gemmk == 0) {
        /* KREG belongs to kernel 1; 1.5.3's kernel 0 miscomputes with KREG > 1
         * (measured: relative error 2.3 on 67x45x33) and its tuner never tries it */
        RULE(kreg == 1, "Xgemm GEMMK=0 needs KREG=1 (got %zu)", kreg);
        size_t threads = mdimc * ndimc;
        RULE(threads % mdima == 0 && threads % ndimb == 0,
             "Xgemm MDIMC*NDIMC=%zu is not a multiple of MDIMA=%zu and NDIMB=%zu", threads, mdima, ndimb);
        RULE(kwg % (threads / mdima) == 0, "Xgemm KWG=%zu is not a multiple of (MDIMC*NDIMC)/MDIMA=%zu", kwg,
             threads / mdima);
        RULE(kwg % (threads / ndimb) == 0, "Xgemm KWG=%zu is not a multiple of (MDIMC*NDIMC)/NDIMB=%zu", kwg,
             threads / ndimb);
    } else {
        RULE(mwg == nwg, "Xgemm GEMMK=1 with MWG=%zu != NWG=%zu (miscomputes in CLBlast 1.5.3)", mwg, nwg);
        RULE(mdimc == mdima && ndimc == ndimb, "Xgemm GEMMK=1 needs MDIMC=MDIMA and NDIMC=NDIMB");
        RULE(kreg % vwn == 0, "Xgemm GEMMK=1: KREG=%zu is not a multiple of VWN=%zu", kreg, vwn);
        RULE(sa == 0 && sb == 0, "Xgemm GEMMK=1 has no local-memory caching: SA and SB must be 0");
    }
    if (d) {
        size_t wg = mdimc * ndimc;
        RULE(wg <= d->max_work_group, "Xgemm work-group MDIMC*NDIMC=%zu exceeds the device's maximum %zu", wg,
             d->max_work_group);
        unsigned long long local = 4ull * (sa * kwg * mwg + sb * kwg * nwg);
        RULE(local <= d->local_mem, "Xgemm needs %llu bytes of local memory; the device has %llu", local,
             d->local_mem);
    }
    return LEVI_OK;
}

levi_status levi_tuning_check_direct(const size_t p[LEVI_XGEMM_DIRECT_NPARAMS], const levi_device_info *d) {
    size_t kwid = p[LEVI_XD_KWID], mdimad = p[LEVI_XD_MDIMAD], mdimcd = p[LEVI_XD_MDIMCD];
    size_t ndimbd = p[LEVI_XD_NDIMBD], ndimcd = p[LEVI_XD_NDIMCD], pada = p[LEVI_XD_PADA], padb = p[LEVI_XD_PADB];
    size_t vwmd = p[LEVI_XD_VWMD], vwnd = p[LEVI_XD_VWND], wgd = p[LEVI_XD_WGD];
    RULE(pada <= 1 && padb <= 1, "XgemmDirect PADA, PADB must be 0 or 1");
    RULE(pow2_in(wgd, 1, 256), "XgemmDirect WGD=%zu: expected a power of two up to 256", wgd);
    RULE(pow2_in(vwmd, 1, 16) && pow2_in(vwnd, 1, 16), "XgemmDirect VWMD=%zu VWND=%zu: expected 1..16", vwmd,
         vwnd);
    RULE(pow2_in(mdimcd, 1, 256) && pow2_in(ndimcd, 1, 256) && pow2_in(mdimad, 1, 256) && pow2_in(ndimbd, 1, 256),
         "XgemmDirect MDIMCD, NDIMCD, MDIMAD, NDIMBD must be powers of two up to 256");
    RULE(kwid >= 1 && wgd % kwid == 0, "XgemmDirect WGD=%zu is not a multiple of KWID=%zu", wgd, kwid);
    RULE(wgd % (mdimcd * vwmd) == 0, "XgemmDirect WGD=%zu is not a multiple of MDIMCD*VWMD=%zu", wgd,
         mdimcd * vwmd);
    RULE(wgd % (ndimcd * vwnd) == 0, "XgemmDirect WGD=%zu is not a multiple of NDIMCD*VWND=%zu", wgd,
         ndimcd * vwnd);
    RULE(wgd % (mdimad * vwmd) == 0, "XgemmDirect WGD=%zu is not a multiple of MDIMAD*VWMD=%zu", wgd,
         mdimad * vwmd);
    RULE(wgd % (ndimbd * vwnd) == 0, "XgemmDirect WGD=%zu is not a multiple of NDIMBD*VWND=%zu", wgd,
         ndimbd * vwnd);
    size_t threads = mdimcd * ndimcd;
    RULE(threads % mdimad == 0 && threads % ndimbd == 0,
         "XgemmDirect MDIMCD*NDIMCD=%zu is not a multiple of MDIMAD and NDIMBD", threads);
    RULE(wgd % (threads / mdimad) == 0, "XgemmDirect WGD=%zu is not a multiple of (MDIMCD*NDIMCD)/MDIMAD=%zu",
         wgd, threads / mdimad);
    RULE(wgd % (threads / ndimbd) == 0, "XgemmDirect WGD=%zu is not a multiple of (MDIMCD*NDIMCD)/NDIMBD=%zu",
         wgd, threads / ndimbd);
    if (d) {
        RULE(threads <= d->max_work_group, "XgemmDirect work-group %zu exceeds the device's maximum %zu", threads,
             d->max_work_group);
        unsigned long long local = 4ull * (wgd * (wgd + pada) + wgd * (wgd + padb));
        RULE(local <= d->local_mem, "XgemmDirect needs %llu bytes of local memory; the device has %llu", local,
             d->local_mem);
    }
    return LEVI_OK;
}

/* --- JSON ------------------------------------------------------------------------ */

static cJSON *params_obj(const char *const *names, const size_t *v, int n) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < n; i++) cJSON_AddNumberToObject(o, names[i], (double)v[i]);
    return o;
}

char *levi_tuning_to_json(const levi_tuning *t, const levi_device_info *d) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "format", TUNING_FORMAT);
    cJSON_AddNumberToObject(root, "version", TUNING_VERSION);
    cJSON *dev = cJSON_AddObjectToObject(root, "device");
    if (dev) {
        cJSON_AddStringToObject(dev, "name", d->name);
        cJSON_AddStringToObject(dev, "vendor", d->vendor);
        cJSON_AddStringToObject(dev, "driver", d->driver_version);
        cJSON_AddStringToObject(dev, "platform", d->platform_name);
        cJSON_AddStringToObject(dev, "platform_version", d->platform_version);
    }
    if (t->has_xgemm)
        cJSON_AddItemToObject(root, "Xgemm", params_obj(levi_xgemm_param_names, t->xgemm, LEVI_XGEMM_NPARAMS));
    if (t->has_direct)
        cJSON_AddItemToObject(root, "XgemmDirect",
                              params_obj(levi_xgemm_direct_param_names, t->direct, LEVI_XGEMM_DIRECT_NPARAMS));
    if (t->has_min_indirect) {
        cJSON *r = cJSON_AddObjectToObject(root, "GemmRoutine");
        if (r) cJSON_AddNumberToObject(r, "XGEMM_MIN_INDIRECT_SIZE", (double)t->min_indirect);
    }
    cJSON_AddNumberToObject(root, "gflops_default", t->gflops_default);
    cJSON_AddNumberToObject(root, "gflops_tuned", t->gflops_tuned);
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}

static levi_status read_params(const cJSON *o, const char *what, const char *group, const char *const *names,
                               size_t *v, int n) {
    if (!cJSON_IsObject(o)) return levi_error(LEVI_ERR_FORMAT, "%s: \"%s\" is not an object", what, group);
    if (cJSON_GetArraySize(o) != n)
        return levi_error(LEVI_ERR_FORMAT, "%s: \"%s\" has %d parameters, expected %d", what, group,
                          cJSON_GetArraySize(o), n);
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, names[i]);
        if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 65536 ||
            x->valuedouble != (double)(long)x->valuedouble)
            return levi_error(LEVI_ERR_FORMAT, "%s: %s.%s is missing or not a whole number in 0..65536", what,
                              group, names[i]);
        v[i] = (size_t)x->valuedouble;
    }
    return LEVI_OK;
}

static levi_status check_str(const cJSON *dev, const char *key, const char *want, const char *what) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(dev, key);
    if (!cJSON_IsString(x)) return levi_error(LEVI_ERR_FORMAT, "%s: device.%s is missing", what, key);
    if (strcmp(x->valuestring, want))
        return levi_error(LEVI_ERR_FORMAT, "%s: written for device.%s '%s', this device has '%s'", what, key,
                          x->valuestring, want);
    return LEVI_OK;
}

/* The constraint checker's message, re-raised as a format error of the file. */
static levi_status rethrow_format(const char *what) {
    return levi_error(LEVI_ERR_FORMAT, "%s: %s", what, levi_last_error());
}

static levi_status parse_root(const cJSON *root, const char *what, const levi_device_info *d, levi_tuning *t) {
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, TUNING_FORMAT))
        return levi_error(LEVI_ERR_FORMAT, "%s: \"format\" is not \"%s\"", what, TUNING_FORMAT);
    if (!cJSON_IsNumber(ver) || ver->valueint != TUNING_VERSION)
        return levi_error(LEVI_ERR_FORMAT, "%s: \"version\" is not %d", what, TUNING_VERSION);
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(root, "device");
    if (!cJSON_IsObject(dev)) return levi_error(LEVI_ERR_FORMAT, "%s: \"device\" is missing", what);
    LEVI_TRY(check_str(dev, "name", d->name, what));
    LEVI_TRY(check_str(dev, "driver", d->driver_version, what));
    LEVI_TRY(check_str(dev, "platform_version", d->platform_version, what));
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "Xgemm");
    if (x) {
        LEVI_TRY(read_params(x, what, "Xgemm", levi_xgemm_param_names, t->xgemm, LEVI_XGEMM_NPARAMS));
        if (levi_tuning_check_xgemm(t->xgemm, d) != LEVI_OK) return rethrow_format(what);
        t->has_xgemm = 1;
    }
    x = cJSON_GetObjectItemCaseSensitive(root, "XgemmDirect");
    if (x) {
        LEVI_TRY(read_params(x, what, "XgemmDirect", levi_xgemm_direct_param_names, t->direct,
                             LEVI_XGEMM_DIRECT_NPARAMS));
        if (levi_tuning_check_direct(t->direct, d) != LEVI_OK) return rethrow_format(what);
        t->has_direct = 1;
    }
    x = cJSON_GetObjectItemCaseSensitive(root, "GemmRoutine");
    if (x) {
        static const char *const name[] = {"XGEMM_MIN_INDIRECT_SIZE"};
        LEVI_TRY(read_params(x, what, "GemmRoutine", name, &t->min_indirect, 1));
        t->has_min_indirect = 1;
    }
    if (!t->has_xgemm && !t->has_direct && !t->has_min_indirect)
        return levi_error(LEVI_ERR_FORMAT, "%s: no Xgemm, XgemmDirect or GemmRoutine parameters", what);
    x = cJSON_GetObjectItemCaseSensitive(root, "gflops_default");
    if (cJSON_IsNumber(x)) t->gflops_default = x->valuedouble;
    x = cJSON_GetObjectItemCaseSensitive(root, "gflops_tuned");
    if (cJSON_IsNumber(x)) t->gflops_tuned = x->valuedouble;
    return LEVI_OK;
}

levi_status levi_tuning_from_json(const char *text, const char *what, const levi_device_info *d,
                                  levi_tuning *t) {
    memset(t, 0, sizeof *t);
    cJSON *root = cJSON_Parse(text);
    if (!root) return levi_error(LEVI_ERR_FORMAT, "%s: not valid JSON", what);
    levi_status st = parse_root(root, what, d, t);
    cJSON_Delete(root);
    if (st != LEVI_OK) memset(t, 0, sizeof *t);
    return st;
}

/* --- storage ----------------------------------------------------------------------- */

levi_status levi_tuning_path(const levi_device_info *d, char *buf, size_t len) {
    char dir[1024];
    int enabled = 0;
    LEVI_TRY(levi_cache_dir(dir, sizeof dir, &enabled));
    if (!enabled)
        return levi_error(LEVI_ERR_UNSUPPORTED, "LEVI_CACHE_DIR=off: tuned parameters need the cache folder");
    levi_hash128 h;
    levi_hash_init(&h);
    levi_hash_str(&h, "gemm-tuning-v1");
    levi_hash_str(&h, d->name);
    levi_hash_str(&h, d->vendor);
    levi_hash_str(&h, d->driver_version);
    levi_hash_str(&h, d->platform_name);
    levi_hash_str(&h, d->platform_version);
    char hex[33];
    levi_hash_hex(&h, hex);
    int n = snprintf(buf, len, "%s/tuning/gemm-%s.json", dir, hex);
    if (n < 0 || (size_t)n >= len) return levi_error(LEVI_ERR_INVALID_ARG, "tuning file path is too long");
    return LEVI_OK;
}

levi_status levi_tuning_save(const levi_device_info *d, const levi_tuning *t) {
    if (t->has_xgemm) LEVI_TRY(levi_tuning_check_xgemm(t->xgemm, d));
    if (t->has_direct) LEVI_TRY(levi_tuning_check_direct(t->direct, d));
    char path[1200];
    LEVI_TRY(levi_tuning_path(d, path, sizeof path));
    char *slash = strrchr(path, '/');
    *slash = '\0';
    levi_status st = levi_mkdirs(path);
    *slash = '/';
    LEVI_TRY(st);
    char *s = levi_tuning_to_json(t, d);
    if (!s) return levi_error(LEVI_ERR_HOST_MEMORY, "out of memory writing %s", path);
    st = levi_write_file_atomic(path, s, strlen(s));
    free(s);
    return st;
}

levi_status levi_tuning_load(const levi_device_info *d, levi_tuning *t) {
    memset(t, 0, sizeof *t);
    char path[1200];
    LEVI_TRY(levi_tuning_path(d, path, sizeof path));
    if (access(path, F_OK) != 0) {
        /* Earlier versions moved the set to "<path>.previous" while tuning;
         * a kill -9 left it there. Put it back. */
        char prev[1300];
        snprintf(prev, sizeof prev, "%s.previous", path);
        if (access(prev, F_OK) == 0 && rename(prev, path) == 0)
            LEVI_WARN("restored the tuned GEMM parameters from '%s' (left by an interrupted tune)", prev);
    }
    if (access(path, F_OK) != 0)
        return levi_error(LEVI_ERR_NOT_FOUND, "no tuned GEMM parameters for '%s' (%s)", d->name, path);
    char *text = NULL;
    size_t len = 0;
    LEVI_TRY(levi_read_file(path, &text, &len));
    levi_status st = levi_tuning_from_json(text, path, d, t);
    free(text);
    return st;
}

levi_status levi_tuning_reset(const levi_device_info *d, int *removed) {
    if (removed) *removed = 0;
    char path[1200];
    LEVI_TRY(levi_tuning_path(d, path, sizeof path));
    if (unlink(path) == 0) {
        if (removed) *removed = 1;
        return LEVI_OK;
    }
    if (errno == ENOENT) return LEVI_OK;
    return levi_error(LEVI_ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
}

int levi_tuning_exists(const levi_device_info *d) {
    levi_tuning t;
    return levi_tuning_load(d, &t) == LEVI_OK;
}

/* --- CLBlast ------------------------------------------------------------------------ */

static levi_status override(const levi_device_info *d, const char *kernel, const char *const *names,
                            const size_t *values, size_t n) {
    CLBlastStatusCode rc =
        CLBlastOverrideParameters(d->device, kernel, CLBlastPrecisionSingle, n, (const char **)names, values);
    if (rc != CLBlastSuccess)
        return levi_error(rc, "CLBlastOverrideParameters(%s) on '%s': %s", kernel, d->name, levi_status_name(rc));
    return LEVI_OK;
}

levi_status levi_tuning_apply(const levi_device_info *d, const levi_tuning *t) {
    if (t->has_xgemm) {
        LEVI_TRY(levi_tuning_check_xgemm(t->xgemm, d));
        LEVI_TRY(override(d, "Xgemm", levi_xgemm_param_names, t->xgemm, LEVI_XGEMM_NPARAMS));
    }
    if (t->has_direct) {
        LEVI_TRY(levi_tuning_check_direct(t->direct, d));
        LEVI_TRY(override(d, "XgemmDirect", levi_xgemm_direct_param_names, t->direct, LEVI_XGEMM_DIRECT_NPARAMS));
    }
    if (t->has_min_indirect) {
        static const char *const name[] = {"XGEMM_MIN_INDIRECT_SIZE"};
        LEVI_TRY(override(d, "GemmRoutine", name, &t->min_indirect, 1));
    }
    return LEVI_OK;
}

int levi_tuning_apply_stored(const levi_device_info *d) {
    levi_tuning t;
    levi_status st = levi_tuning_load(d, &t);
    if (st == LEVI_ERR_NOT_FOUND || st == LEVI_ERR_UNSUPPORTED) return 0;
    if (st != LEVI_OK) {
        LEVI_WARN("ignoring tuned GEMM parameters: %s (run levi-cl tune --reset or tune again)", levi_last_error());
        levi_error_clear();
        return 0;
    }
    if (levi_tuning_apply(d, &t) != LEVI_OK) {
        LEVI_WARN("ignoring tuned GEMM parameters for '%s': %s", d->name, levi_last_error());
        levi_error_clear();
        return 0;
    }
    LEVI_DEBUG("applied tuned GEMM parameters for '%s'", d->name);
    return 1;
}
