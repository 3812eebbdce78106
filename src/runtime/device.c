/* Platform and device enumeration; device descriptions as text and JSON. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "levi/log.h"
#include "levi/runtime.h"

static void query_str(cl_device_id d, cl_device_info what, char *buf, size_t len) {
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, len, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[len - 1] = '\0';
}

static void query_platform_str(cl_platform_id p, cl_platform_info what, char *buf, size_t len) {
    buf[0] = '\0';
    if (clGetPlatformInfo(p, what, len, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[len - 1] = '\0';
}

static void fill_info(levi_device_info *d) {
    query_str(d->device, CL_DEVICE_NAME, d->name, sizeof d->name);
    query_str(d->device, CL_DEVICE_VENDOR, d->vendor, sizeof d->vendor);
    query_str(d->device, CL_DRIVER_VERSION, d->driver_version, sizeof d->driver_version);
    query_str(d->device, CL_DEVICE_VERSION, d->device_version, sizeof d->device_version);
    query_str(d->device, CL_DEVICE_OPENCL_C_VERSION, d->opencl_c_version, sizeof d->opencl_c_version);
    cl_uint u = 0;
    cl_ulong ul = 0;
    size_t sz = 0;
    clGetDeviceInfo(d->device, CL_DEVICE_TYPE, sizeof d->type, &d->type, NULL);
    if (clGetDeviceInfo(d->device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL) == CL_SUCCESS)
        d->compute_units = u;
    if (clGetDeviceInfo(d->device, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL) == CL_SUCCESS)
        d->max_clock_mhz = u;
    if (clGetDeviceInfo(d->device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
        d->global_mem = ul;
    if (clGetDeviceInfo(d->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
        d->max_alloc = ul;
    if (clGetDeviceInfo(d->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
        d->local_mem = ul;
    if (clGetDeviceInfo(d->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof sz, &sz, NULL) == CL_SUCCESS)
        d->max_work_group = sz;
    size_t ext_len = 0;
    if (clGetDeviceInfo(d->device, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_len) == CL_SUCCESS && ext_len) {
        char *ext = malloc(ext_len + 1);
        if (ext && clGetDeviceInfo(d->device, CL_DEVICE_EXTENSIONS, ext_len, ext, NULL) == CL_SUCCESS) {
            ext[ext_len] = '\0';
            d->fp16 = strstr(ext, "cl_khr_fp16") != NULL;
            d->fp64 = strstr(ext, "cl_khr_fp64") != NULL;
        }
        free(ext);
    }
    cl_device_fp_config dcfg = 0;
    if (clGetDeviceInfo(d->device, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dcfg, &dcfg, NULL) == CL_SUCCESS && dcfg)
        d->fp64 = 1;
}

int levi_device_default(const levi_device_info *devices, int n) {
    for (int i = 0; i < n; i++)
        if (devices[i].type & CL_DEVICE_TYPE_GPU) return i;
    return n > 0 ? 0 : -1;
}

levi_status levi_device_list_query(levi_device_list *out) {
    memset(out, 0, sizeof *out);
    out->default_index = -1;
    cl_uint np = 0;
    cl_int rc = clGetPlatformIDs(0, NULL, &np);
    if ((rc != CL_SUCCESS && rc != -1001) || np == 0)
        return levi_error(LEVI_ERR_NO_PLATFORM,
                          "no OpenCL platform found (the ICD loader libOpenCL.so.1 reports %s, "
                          "%u platforms); install a driver for your device, or "
                          "'apt-get install pocl-opencl-icd' for the CPU",
                          levi_status_name(rc), np);
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory listing platforms");
    rc = clGetPlatformIDs(np, plats, NULL);
    if (rc != CL_SUCCESS) {
        free(plats);
        return levi_error(LEVI_ERR_NO_PLATFORM, "clGetPlatformIDs failed: %s", levi_status_name(rc));
    }
    int cap = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        rc = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        char pname[128];
        query_platform_str(plats[p], CL_PLATFORM_NAME, pname, sizeof pname);
        if (rc != CL_SUCCESS || nd == 0) {
            if (rc != CL_DEVICE_NOT_FOUND)
                LEVI_WARN("skipping OpenCL platform %u (%s): %s", p, pname, levi_status_name(rc));
            continue;
        }
        cl_device_id *ids = calloc(nd, sizeof *ids);
        if (!ids || clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, ids, NULL) != CL_SUCCESS) {
            LEVI_WARN("skipping OpenCL platform %u (%s): device query failed", p, pname);
            free(ids);
            continue;
        }
        if (out->count + (int)nd > cap) {
            cap = out->count + (int)nd + 4;
            levi_device_info *grown = realloc(out->devices, (size_t)cap * sizeof *grown);
            if (!grown) {
                free(ids);
                free(plats);
                levi_device_list_free(out);
                return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory listing devices");
            }
            out->devices = grown;
        }
        for (cl_uint i = 0; i < nd; i++) {
            levi_device_info *d = &out->devices[out->count];
            memset(d, 0, sizeof *d);
            d->index = out->count;
            d->platform_index = (int)p;
            d->device_index = (int)i;
            d->platform = plats[p];
            d->device = ids[i];
            memcpy(d->platform_name, pname, sizeof pname);
            query_platform_str(plats[p], CL_PLATFORM_VENDOR, d->platform_vendor, sizeof d->platform_vendor);
            query_platform_str(plats[p], CL_PLATFORM_VERSION, d->platform_version, sizeof d->platform_version);
            fill_info(d);
            out->count++;
        }
        free(ids);
    }
    free(plats);
    if (out->count == 0) {
        levi_device_list_free(out);
        return levi_error(LEVI_ERR_NO_PLATFORM,
                          "OpenCL platforms exist but none has a usable device; install a driver "
                          "for your device, or 'apt-get install pocl-opencl-icd' for the CPU");
    }
    out->default_index = levi_device_default(out->devices, out->count);
    return LEVI_OK;
}

void levi_device_list_free(levi_device_list *list) {
    if (!list) return;
    free(list->devices);
    list->devices = NULL;
    list->count = 0;
}

const char *levi_device_type_name(cl_device_type type) {
    if (type & CL_DEVICE_TYPE_GPU) return "gpu";
    if (type & CL_DEVICE_TYPE_CPU) return "cpu";
    if (type & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

static double mib(unsigned long long b) { return (double)b / (1024.0 * 1024.0); }

void levi_device_print(FILE *f, const levi_device_info *d, int is_default) {
    fprintf(f, "[%d] %d:%d  %s%s\n", d->index, d->platform_index, d->device_index, d->name,
            is_default ? "  (default)" : "");
    fprintf(f, "    type             %s\n", levi_device_type_name(d->type));
    fprintf(f, "    vendor           %s\n", d->vendor);
    fprintf(f, "    platform         %s (%s)\n", d->platform_name, d->platform_version);
    fprintf(f, "    driver           %s\n", d->driver_version);
    fprintf(f, "    OpenCL C         %s\n", d->opencl_c_version);
    fprintf(f, "    compute units    %u\n", d->compute_units);
    fprintf(f, "    max clock        %u MHz\n", d->max_clock_mhz);
    fprintf(f, "    global memory    %.0f MiB\n", mib(d->global_mem));
    fprintf(f, "    max allocation   %.0f MiB\n", mib(d->max_alloc));
    fprintf(f, "    local memory     %.0f KiB\n", (double)d->local_mem / 1024.0);
    fprintf(f, "    max work-group   %zu\n", d->max_work_group);
    fprintf(f, "    fp16 / fp64      %s / %s\n", d->fp16 ? "yes" : "no", d->fp64 ? "yes" : "no");
}

char *levi_device_list_json(const levi_device_list *list, const int *tuned) {
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return NULL;
    for (int i = 0; i < list->count; i++) {
        const levi_device_info *d = &list->devices[i];
        cJSON *o = cJSON_CreateObject();
        char pd[32];
        snprintf(pd, sizeof pd, "%d:%d", d->platform_index, d->device_index);
        cJSON_AddNumberToObject(o, "index", d->index);
        cJSON_AddStringToObject(o, "id", pd);
        cJSON_AddNumberToObject(o, "platform_index", d->platform_index);
        cJSON_AddNumberToObject(o, "device_index", d->device_index);
        cJSON_AddStringToObject(o, "type", levi_device_type_name(d->type));
        cJSON_AddStringToObject(o, "name", d->name);
        cJSON_AddStringToObject(o, "vendor", d->vendor);
        cJSON_AddStringToObject(o, "platform", d->platform_name);
        cJSON_AddStringToObject(o, "platform_version", d->platform_version);
        cJSON_AddStringToObject(o, "driver_version", d->driver_version);
        cJSON_AddStringToObject(o, "device_version", d->device_version);
        cJSON_AddStringToObject(o, "opencl_c_version", d->opencl_c_version);
        cJSON_AddNumberToObject(o, "compute_units", d->compute_units);
        cJSON_AddNumberToObject(o, "max_clock_mhz", d->max_clock_mhz);
        cJSON_AddNumberToObject(o, "global_mem_bytes", (double)d->global_mem);
        cJSON_AddNumberToObject(o, "max_alloc_bytes", (double)d->max_alloc);
        cJSON_AddNumberToObject(o, "local_mem_bytes", (double)d->local_mem);
        cJSON_AddNumberToObject(o, "max_work_group_size", (double)d->max_work_group);
        cJSON_AddBoolToObject(o, "fp16", d->fp16);
        cJSON_AddBoolToObject(o, "fp64", d->fp64);
        cJSON_AddBoolToObject(o, "default", i == list->default_index);
        if (tuned) cJSON_AddBoolToObject(o, "gemm_tuned", tuned[i]);
        cJSON_AddItemToArray(arr, o);
    }
    char *s = cJSON_Print(arr);
    cJSON_Delete(arr);
    return s;
}
