#include "testutil.h"

#include <clblast_c.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int test_have_device(void) {
    levi_device_list list;
    if (levi_device_list_query(&list) != LEVI_OK) return 0;
    int n = list.count;
    levi_device_list_free(&list);
    return n > 0;
}

levi_ctx *test_ctx(void) {
    levi_ctx *ctx = NULL;
    levi_status st = levi_ctx_open(&ctx, NULL);
    ck_assert_msg(st == LEVI_OK, "opening a device: %s", levi_last_error());
    return ctx;
}

void test_fill_uniform(float *x, size_t n, unsigned seed, float lo, float hi) {
    unsigned long long s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(s >> 11) / 9007199254740992.0;
        x[i] = (float)(lo + (hi - lo) * u);
    }
}

int test_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    /* OpenCL runtimes (PoCL's worker threads) do not survive fork(): run
     * tests in this process. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    /* CLBlast keeps compiled programs in a static cache that is released at
     * exit, after an OpenCL runtime such as Oclgrind may be gone (a crash
     * there): release it while the runtime is alive. */
    CLBlastClearCache();
    return failed == 0 ? 0 : 1;
}

int test_finish(Suite *s, int device) {
    int rc = test_run(s);
    if (rc == 0 && !device) {
        fprintf(stderr, "no OpenCL device: device tests skipped\n");
        return TEST_SKIP;
    }
    return rc;
}

char *test_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/levi-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    ck_assert_msg(d != NULL, "mkdtemp failed");
    return strdup(d);
}
