/* levi/status.h — one status code for the whole API.
 *
 * OpenCL's own codes keep their values (0, -1 .. -72), CLBlast's codes pass
 * through unchanged (-1024 .. -2048 range), and levi's own codes live in the
 * range -9000 .. -9099. levi_status_name() names any of them. */
#ifndef LEVI_STATUS_H
#define LEVI_STATUS_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int levi_status;

enum {
    LEVI_OK = 0,
    LEVI_ERR_INVALID_ARG = -9001,   /* a caller passed a bad value (size, pointer, option) */
    LEVI_ERR_IO = -9002,            /* a file could not be opened, read, written or renamed */
    LEVI_ERR_FORMAT = -9003,        /* a file's contents are malformed */
    LEVI_ERR_HOST_MEMORY = -9004,   /* malloc failed or a size would overflow */
    LEVI_ERR_NO_PLATFORM = -9005,   /* the ICD loader found no OpenCL platform */
    LEVI_ERR_NO_MATCH = -9006,      /* a device selection matched nothing */
    LEVI_ERR_AMBIGUOUS = -9007,     /* a device selection matched several devices */
    LEVI_ERR_BUILD = -9008,         /* an OpenCL program failed to build; log attached */
    LEVI_ERR_UNSUPPORTED = -9009,   /* valid input that this version does not handle */
    LEVI_ERR_CHECK_FAILED = -9010,  /* a self-check result differed from its reference */
    LEVI_ERR_NOT_FINITE = -9011,    /* a NaN or Inf appeared where a number was expected */
    LEVI_ERR_DEVICE_MEMORY = -9012, /* a device allocation failed or exceeds the device's limit */
    LEVI_ERR_NOT_FOUND = -9013,     /* a named thing (kernel, tensor, file, class) is absent */
    LEVI_ERR_INTERRUPTED = -9014,   /* the user interrupted the work (SIGINT) */
    LEVI_ERR_SHAPE = -9015,         /* tensor shapes do not fit together */
    LEVI_ERR_COMM = -9016,          /* another rank of the run failed, died or did not answer in time */
    LEVI_ERR_BUSY = -9017,          /* an output is being written by another process (advisory lock) */
};

/* A readable name for any status: "CL_OUT_OF_RESOURCES", "CLBlastInvalidDimension",
 * "LEVI_ERR_FORMAT", or "unknown status N". Never NULL. */
const char *levi_status_name(levi_status status);

/* The message attached to the last error set on this thread ("" if none). */
const char *levi_last_error(void);

/* Record a message for this thread and return `status`, so callers can write
 * `return levi_error(LEVI_ERR_FORMAT, "%s: bad magic %08x", path, magic);`
 * An argument may be levi_last_error() itself, to put context in front of
 * the current message: levi_error(st, "%s: %s", path, levi_last_error()). */
levi_status levi_error(levi_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
levi_status levi_verror(levi_status status, const char *fmt, va_list ap);

/* Clear the thread's message. */
void levi_error_clear(void);

/* Check an OpenCL or CLBlast call; on failure record expression, file and line
 * and return the status to the caller. Never aborts. */
#define LEVI_CL_CHECK(expr)                                                        \
    do {                                                                           \
        int levi_rc_ = (int)(expr);                                                \
        if (levi_rc_ != 0)                                                         \
            return levi_error(levi_rc_, "%s failed: %s (%s:%d)", #expr,            \
                              levi_status_name(levi_rc_), __FILE__, __LINE__);     \
    } while (0)

/* Propagate a levi_status without touching the message. */
#define LEVI_TRY(expr)                                                             \
    do {                                                                           \
        levi_status levi_st_ = (expr);                                             \
        if (levi_st_ != LEVI_OK) return levi_st_;                                  \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
