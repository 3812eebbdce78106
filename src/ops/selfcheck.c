/* levi-cl info's self-check: one cl/ kernel and one SGEMM (ctx's GEMM path) against
 * host results with double accumulation. */
#include <math.h>
#include <stdlib.h>

#include "levi/gemm.h"
#include "levi/ops.h"

static levi_status check_scale(levi_ctx *ctx, FILE *report) {
    enum { N = 1000 };
    float host[N], got[N];
    for (int i = 0; i < N; i++) host[i] = (float)((i * 37) % 101) / 13.0f - 3.0f;
    levi_tensor a, b;
    LEVI_TRY(levi_tensor_alloc1(&a, ctx, N));
    levi_status st = levi_tensor_alloc1(&b, ctx, N);
    if (st != LEVI_OK) {
        levi_tensor_free(&a);
        return st;
    }
    if ((st = levi_tensor_write(&a, host)) == LEVI_OK && (st = levi_scale_forward(ctx, &b, &a, 2.5f, N)) == LEVI_OK)
        st = levi_tensor_read(&b, got);
    levi_tensor_free(&a);
    levi_tensor_free(&b);
    LEVI_TRY(st);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        const double d = fabs((double)got[i] - 2.5 * (double)host[i]);
        if (!(d <= worst)) worst = isfinite(d) ? d : INFINITY; /* NaN or Inf: the worst */
    }
    int ok = worst <= 1e-6;
    if (report) fprintf(report, "  kernel scale_forward (cl/elementwise.cl, n=%d): max |diff| %.3g  %s\n", N, worst,
                        ok ? "ok" : "FAILED");
    return ok ? LEVI_OK : levi_error(LEVI_ERR_CHECK_FAILED, "scale_forward differs from the host by %g", worst);
}

static levi_status check_gemm(levi_ctx *ctx, FILE *report) {
    enum { M = 33, N = 47, K = 71 };
    float *ha = malloc(sizeof(float) * M * K), *hb = malloc(sizeof(float) * K * N),
          *hc = malloc(sizeof(float) * M * N);
    levi_tensor a = {0}, b = {0}, c = {0};
    levi_status st = (ha && hb && hc) ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    for (int i = 0; st == LEVI_OK && i < M * K; i++) ha[i] = (float)((i * 7) % 19) / 9.0f - 1.0f;
    for (int i = 0; st == LEVI_OK && i < K * N; i++) hb[i] = (float)((i * 11) % 23) / 11.0f - 1.0f;
    if (st == LEVI_OK) st = levi_tensor_alloc2(&a, ctx, M, K);
    if (st == LEVI_OK) st = levi_tensor_alloc2(&b, ctx, K, N);
    if (st == LEVI_OK) st = levi_tensor_alloc2(&c, ctx, M, N);
    if (st == LEVI_OK) st = levi_tensor_write(&a, ha);
    if (st == LEVI_OK) st = levi_tensor_write(&b, hb);
    if (st == LEVI_OK) st = levi_gemm(ctx, 0, 0, M, N, K, 1.0f, &a, &b, 0.0f, &c);
    if (st == LEVI_OK) st = levi_tensor_read(&c, hc);
    double worst = 0;
    for (int i = 0; st == LEVI_OK && i < M; i++)
        for (int j = 0; j < N; j++) {
            double ref = 0;
            for (int k = 0; k < K; k++) ref += (double)ha[i * K + k] * hb[k * N + j];
            const double d = fabs(ref - hc[i * N + j]) / fmax(1.0, fabs(ref));
            if (!(d <= worst)) worst = isfinite(d) ? d : INFINITY; /* NaN or Inf: the worst */
        }
    levi_tensor_free(&a);
    levi_tensor_free(&b);
    levi_tensor_free(&c);
    free(ha);
    free(hb);
    free(hc);
    LEVI_TRY(st);
    int ok = worst <= 1e-4;
    if (report)
        fprintf(report, "  SGEMM (%s) %dx%dx%d: max rel diff %.3g  %s\n", levi_gemm_path_name(levi_gemm_get_path(ctx)),
                M, N, K, worst, ok ? "ok" : "FAILED");
    return ok ? LEVI_OK : levi_error(LEVI_ERR_CHECK_FAILED, "SGEMM differs from the host by %g", worst);
}

levi_status levi_self_check(levi_ctx *ctx, FILE *report) {
    LEVI_TRY(check_scale(ctx, report));
    return check_gemm(ctx, report);
}
