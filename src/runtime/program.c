/* Runtime compilation of cl/ kernels with a persistent program-binary cache.
 *
 * Cache entry: magic "LEVIBIN1", u32 format version, u32 reserved, 16-byte key,
 * u64 binary size, binary, u64 FNV checksum of the binary. Key = hash(source,
 * options, device name, driver, platform version, format version). Any
 * mismatch or short read means "not cached": rebuild from source. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "levi/log.h"
#include "levi/runtime.h"

#define CACHE_MAGIC "LEVIBIN1"
#define CACHE_FORMAT 1u

extern const char *const levi_cl_embedded_names[];
extern const char *const levi_cl_embedded_sources[];

const char *const *levi_cl_files(void) { return levi_cl_embedded_names; }

levi_status levi_cl_source(const char *file, char **src, size_t *len) {
    const char *dir = getenv("LEVI_CL_DIR");
    if (dir && *dir) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s.cl", dir, file);
        levi_status st = levi_read_file(path, src, len);
        if (st != LEVI_OK)
            return levi_error(st, "LEVI_CL_DIR is set but %s", levi_last_error());
        return LEVI_OK;
    }
    for (int i = 0; levi_cl_embedded_names[i]; i++) {
        if (strcmp(levi_cl_embedded_names[i], file) != 0) continue;
        *len = strlen(levi_cl_embedded_sources[i]);
        *src = malloc(*len + 1);
        if (!*src) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        memcpy(*src, levi_cl_embedded_sources[i], *len + 1);
        return LEVI_OK;
    }
    return levi_error(LEVI_ERR_NOT_FOUND, "no kernel file cl/%s.cl in this build", file);
}

static void cache_key(const levi_ctx *ctx, const char *src, size_t len, unsigned char key[16], char hex[33]) {
    levi_hash128 h;
    levi_hash_init(&h);
    unsigned fmt = CACHE_FORMAT;
    levi_hash_update(&h, &fmt, sizeof fmt);
    levi_hash_update(&h, src, len);
    levi_hash_str(&h, ctx->build_options);
    levi_hash_str(&h, ctx->info.name);
    levi_hash_str(&h, ctx->info.driver_version);
    levi_hash_str(&h, ctx->info.platform_version);
    memcpy(key, &h.a, 8);
    memcpy(key + 8, &h.b, 8);
    levi_hash_hex(&h, hex);
}

static uint64_t checksum(const unsigned char *p, size_t n) {
    levi_hash128 h;
    levi_hash_init(&h);
    levi_hash_update(&h, p, n);
    return h.a;
}

/* Try to create a program from a cache entry; NULL when absent or broken. */
static cl_program load_cached(levi_ctx *ctx, const char *path, const unsigned char key[16]) {
    char *data = NULL;
    size_t len = 0;
    if (levi_read_file(path, &data, &len) != LEVI_OK) {
        levi_error_clear();
        return NULL;
    }
    const size_t head = 8 + 4 + 4 + 16 + 8;
    cl_program prog = NULL;
    uint32_t fmt;
    uint64_t bin_len, sum;
    if (len < head + 8 || memcmp(data, CACHE_MAGIC, 8) != 0) goto broken;
    memcpy(&fmt, data + 8, 4);
    if (fmt != CACHE_FORMAT || memcmp(data + 16, key, 16) != 0) goto broken;
    memcpy(&bin_len, data + 32, 8);
    if (bin_len == 0 || bin_len != len - head - 8) goto broken;
    memcpy(&sum, data + head + bin_len, 8);
    if (sum != checksum((unsigned char *)data + head, bin_len)) goto broken;
    const unsigned char *bin = (unsigned char *)data + head;
    size_t blen = (size_t)bin_len;
    cl_int bin_status = 0, rc = 0;
    prog = clCreateProgramWithBinary(ctx->context, 1, &ctx->info.device, &blen, &bin, &bin_status, &rc);
    if (rc != CL_SUCCESS || bin_status != CL_SUCCESS) {
        if (prog) clReleaseProgram(prog);
        prog = NULL;
        goto broken;
    }
    if (clBuildProgram(prog, 1, &ctx->info.device, ctx->build_options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(prog);
        prog = NULL;
        goto broken;
    }
    free(data);
    return prog;
broken:
    LEVI_DEBUG("program cache entry %s is unusable; rebuilding from source", path);
    free(data);
    return NULL;
}

static void store_cached(levi_ctx *ctx, const char *path, const unsigned char key[16], cl_program prog) {
    size_t bin_len = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bin_len, &bin_len, NULL) != CL_SUCCESS || !bin_len)
        return;
    const size_t head = 8 + 4 + 4 + 16 + 8;
    unsigned char *buf = malloc(head + bin_len + 8);
    if (!buf) return;
    unsigned char *bin = buf + head;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        free(buf);
        return;
    }
    uint32_t fmt = CACHE_FORMAT, zero = 0;
    uint64_t n = bin_len, sum = checksum(bin, bin_len);
    memcpy(buf, CACHE_MAGIC, 8);
    memcpy(buf + 8, &fmt, 4);
    memcpy(buf + 12, &zero, 4);
    memcpy(buf + 16, key, 16);
    memcpy(buf + 32, &n, 8);
    memcpy(buf + head + bin_len, &sum, 8);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/programs", ctx->cache_dir);
    if (levi_mkdirs(dir) != LEVI_OK || levi_write_file_atomic(path, buf, head + bin_len + 8) != LEVI_OK) {
        LEVI_DEBUG("cannot write program cache (%s); continuing without it", levi_last_error());
        levi_error_clear();
    }
    free(buf);
}

static levi_status build_from_source(levi_ctx *ctx, const char *file, const char *src, size_t len,
                                     cl_program *out) {
    cl_int rc;
    cl_program prog = clCreateProgramWithSource(ctx->context, 1, &src, &len, &rc);
    if (rc != CL_SUCCESS)
        return levi_error(rc, "clCreateProgramWithSource(cl/%s.cl): %s", file, levi_status_name(rc));
    rc = clBuildProgram(prog, 1, &ctx->info.device, ctx->build_options, NULL, NULL);
    if (rc != CL_SUCCESS) {
        size_t log_len = 0;
        clGetProgramBuildInfo(prog, ctx->info.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_len);
        char *log = malloc(log_len + 1);
        if (log) {
            log[0] = '\0';
            clGetProgramBuildInfo(prog, ctx->info.device, CL_PROGRAM_BUILD_LOG, log_len, log, NULL);
            log[log_len] = '\0';
        }
        levi_error(LEVI_ERR_BUILD, "building cl/%s.cl for '%s' with '%s' failed (%s):\n%s", file,
                   ctx->info.name, ctx->build_options, levi_status_name(rc), log ? log : "(no log)");
        free(log);
        clReleaseProgram(prog);
        return LEVI_ERR_BUILD;
    }
    *out = prog;
    return LEVI_OK;
}

static levi_status get_program(levi_ctx *ctx, const char *file, cl_program *out) {
    for (int i = 0; i < ctx->n_programs; i++)
        if (!strcmp(ctx->programs[i].file, file)) {
            *out = ctx->programs[i].program;
            return LEVI_OK;
        }
    if (ctx->n_programs == LEVI_MAX_PROGRAMS)
        return levi_error(LEVI_ERR_UNSUPPORTED, "too many kernel files (max %d)", LEVI_MAX_PROGRAMS);
    if (strlen(file) >= sizeof ctx->programs[0].file)
        return levi_error(LEVI_ERR_INVALID_ARG, "kernel file name '%s' is too long", file);
    char *src = NULL;
    size_t len = 0;
    LEVI_TRY(levi_cl_source(file, &src, &len));
    unsigned char key[16];
    char hex[33], path[1200];
    cache_key(ctx, src, len, key, hex);
    cl_program prog = NULL;
    if (ctx->cache_dir[0]) {
        snprintf(path, sizeof path, "%s/programs/%s-%s.bin", ctx->cache_dir, file, hex);
        prog = load_cached(ctx, path, key);
        if (prog) {
            ctx->programs_from_cache++;
            LEVI_DEBUG("cl/%s.cl: program cache hit (%s)", file, path);
        }
    }
    if (!prog) {
        levi_status st = build_from_source(ctx, file, src, len, &prog);
        if (st != LEVI_OK) {
            free(src);
            return st;
        }
        ctx->programs_compiled++;
        LEVI_DEBUG("cl/%s.cl: compiled from source for '%s'", file, ctx->info.name);
        if (ctx->cache_dir[0]) store_cached(ctx, path, key, prog);
    }
    free(src);
    levi_program_slot *slot = &ctx->programs[ctx->n_programs++];
    snprintf(slot->file, sizeof slot->file, "%s", file);
    slot->program = prog;
    *out = prog;
    return LEVI_OK;
}

levi_status levi_kernel_get(levi_ctx *ctx, const char *file, const char *name, cl_kernel *out) {
    for (int i = 0; i < ctx->n_kernels; i++)
        if (!strcmp(ctx->kernels[i].name, name)) {
            *out = ctx->kernels[i].kernel;
            return LEVI_OK;
        }
    if (ctx->n_kernels == LEVI_MAX_KERNELS)
        return levi_error(LEVI_ERR_UNSUPPORTED, "too many kernels (max %d)", LEVI_MAX_KERNELS);
    if (strlen(name) >= sizeof ctx->kernels[0].name)
        return levi_error(LEVI_ERR_INVALID_ARG, "kernel name '%s' is too long", name);
    cl_program prog;
    LEVI_TRY(get_program(ctx, file, &prog));
    cl_int rc;
    cl_kernel k = clCreateKernel(prog, name, &rc);
    if (rc != CL_SUCCESS)
        return levi_error(rc, "kernel '%s' in cl/%s.cl: %s", name, file, levi_status_name(rc));
    levi_kernel_slot *slot = &ctx->kernels[ctx->n_kernels++];
    snprintf(slot->name, sizeof slot->name, "%s", name);
    slot->kernel = k;
    *out = k;
    return LEVI_OK;
}
