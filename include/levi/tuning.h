/* levi/tuning.h — tuned CLBlast GEMM parameters, stored per device + driver.
 *
 * `levi-cl tune gemm` searches CLBlast 1.5.3's Xgemm and XgemmDirect kernel
 * parameters and the GemmRoutine direct/indirect threshold; the best set is
 * written (atomically, as JSON) to <cache folder>/tuning/gemm-<key>.json,
 * where the key hashes the device name, vendor, driver and platform version.
 * levi_ctx_create applies a stored set with CLBlastOverrideParameters; a
 * corrupt or foreign file is ignored with a warning, never fatal. */
#ifndef LEVI_TUNING_H
#define LEVI_TUNING_H

#include "levi/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parameter names exactly as CLBlast 1.5.3 expects them, in this order. */
enum { LEVI_XGEMM_NPARAMS = 16, LEVI_XGEMM_DIRECT_NPARAMS = 10 };
extern const char *const levi_xgemm_param_names[LEVI_XGEMM_NPARAMS];
extern const char *const levi_xgemm_direct_param_names[LEVI_XGEMM_DIRECT_NPARAMS];

/* Indices into levi_tuning.xgemm[] / .direct[] (same order as the names). */
enum {
    LEVI_XG_GEMMK, LEVI_XG_KREG, LEVI_XG_KWG, LEVI_XG_KWI, LEVI_XG_MDIMA, LEVI_XG_MDIMC, LEVI_XG_MWG,
    LEVI_XG_NDIMB, LEVI_XG_NDIMC, LEVI_XG_NWG, LEVI_XG_SA, LEVI_XG_SB, LEVI_XG_STRM, LEVI_XG_STRN,
    LEVI_XG_VWM, LEVI_XG_VWN
};
enum {
    LEVI_XD_KWID, LEVI_XD_MDIMAD, LEVI_XD_MDIMCD, LEVI_XD_NDIMBD, LEVI_XD_NDIMCD, LEVI_XD_PADA, LEVI_XD_PADB,
    LEVI_XD_VWMD, LEVI_XD_VWND, LEVI_XD_WGD
};

typedef struct levi_tuning {
    int has_xgemm;
    size_t xgemm[LEVI_XGEMM_NPARAMS];
    int has_direct;
    size_t direct[LEVI_XGEMM_DIRECT_NPARAMS];
    int has_min_indirect;
    size_t min_indirect; /* GemmRoutine XGEMM_MIN_INDIRECT_SIZE */
    double gflops_default; /* informational: score of CLBlast's defaults during the search */
    double gflops_tuned;   /* informational: score of this set */
} levi_tuning;

/* Check an Xgemm set against CLBlast 1.5.3's constraints (divisibility between
 * tile sizes, vector widths and thread counts; GEMMK=0 needs KREG=1 (found
 * miscomputing otherwise); GEMMK=1 needs MDIMC=MDIMA,
 * NDIMC=NDIMB, KREG % VWN = 0, SA=SB=0 and MWG=NWG — the last one because of a
 * 1.5.3 bug). With d non-NULL, also the work-group size (MDIMC*NDIMC) and
 * local memory (4*(SA*KWG*MWG + SB*KWG*NWG) bytes) against the device.
 * Returns LEVI_ERR_INVALID_ARG naming the violated rule. */
levi_status levi_tuning_check_xgemm(const size_t p[LEVI_XGEMM_NPARAMS], const levi_device_info *d);
/* The same for XgemmDirect (WGD tiles, KWID, vector widths, padding). */
levi_status levi_tuning_check_direct(const size_t p[LEVI_XGEMM_DIRECT_NPARAMS], const levi_device_info *d);

/* JSON text of a set for device d (caller frees), and its parser. The parser
 * validates every field and every constraint; a file written for another
 * device or driver gives LEVI_ERR_FORMAT. */
char *levi_tuning_to_json(const levi_tuning *t, const levi_device_info *d);
levi_status levi_tuning_from_json(const char *text, const char *what, const levi_device_info *d,
                                  levi_tuning *t);

/* <cache folder>/tuning/gemm-<key>.json; LEVI_ERR_UNSUPPORTED when the cache
 * folder is off (LEVI_CACHE_DIR=off). */
levi_status levi_tuning_path(const levi_device_info *d, char *buf, size_t len);

/* Store (atomically) / load / remove the set of device d. Load returns
 * LEVI_ERR_NOT_FOUND when none is stored, LEVI_ERR_FORMAT when the file is
 * corrupt. *removed (may be NULL) tells whether a file was deleted. */
levi_status levi_tuning_save(const levi_device_info *d, const levi_tuning *t);
levi_status levi_tuning_load(const levi_device_info *d, levi_tuning *t);
levi_status levi_tuning_reset(const levi_device_info *d, int *removed);
/* 1 when a readable, valid set is stored for d. */
int levi_tuning_exists(const levi_device_info *d);

/* Hand a set to CLBlast (CLBlastOverrideParameters, single precision) for
 * device d; the next GEMM on d recompiles with it. Parts with has_* = 0 are
 * left alone. */
levi_status levi_tuning_apply(const levi_device_info *d, const levi_tuning *t);

/* Load and apply the stored set of d, if any. Never fails: a corrupt file or
 * a rejected set is logged as a warning. Returns 1 when a set was applied. */
int levi_tuning_apply_stored(const levi_device_info *d);

/* A valid, middle-of-the-road starting set (close to CLBlast 1.5.3's generic
 * defaults): the tuner's first candidate and the tests' known-good set. */
void levi_tuning_defaults(levi_tuning *t);

#ifdef __cplusplus
}
#endif
#endif
