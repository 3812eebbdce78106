/* The comm layer in one process: world 1, the configuration comparison,
 * rank-0 output, and gradient sums over several device contexts against a
 * host sum (two PoCL devices with POCL_DEVICES="pthread pthread"; one
 * device serves as two contexts otherwise). The ranks' side runs under
 * mpirun in comm_mpi_check.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

START_TEST(world_one) {
    levi_comm *c = NULL;
    levi_comm_options o = {0, 0};
    ck_assert_levi_ok(levi_comm_open(&c, &o));
    ck_assert_int_eq(levi_comm_rank(c), 0);
    ck_assert_int_eq(levi_comm_size(c), 1);
    ck_assert_int_eq(levi_comm_local_rank(c), 0);
    ck_assert(levi_comm_is_root(c));
    ck_assert_str_eq(levi_comm_backend(c), "single");
    float x[3] = {1, 2, 3};
    double d[2] = {4, 5};
    ck_assert_levi_ok(levi_comm_sum_f32(c, x, 3, "a test sum"));
    ck_assert_levi_ok(levi_comm_sum_f64(c, d, 2, "a test sum"));
    ck_assert(x[0] == 1 && x[1] == 2 && x[2] == 3 && d[0] == 4 && d[1] == 5);
    int mine = 7, all = 0;
    ck_assert_levi_ok(levi_comm_allgather(c, &mine, &all, sizeof mine, "a gather"));
    ck_assert_int_eq(all, 7);
    ck_assert_levi_ok(levi_comm_barrier(c, "a barrier"));
    ck_assert_int_eq(levi_comm_bcast(c, x, 4, 1, "a broadcast"), LEVI_ERR_INVALID_ARG);
    const char *kv[] = {"method", "levi", "lr", "0.001"};
    ck_assert_levi_ok(levi_comm_check_config(c, kv, 2));
    ck_assert_int_eq(levi_comm_check_config(c, kv, -1), LEVI_ERR_INVALID_ARG);
    levi_comm_close(c, 1);
}
END_TEST

START_TEST(timeout_from_env) {
    levi_comm *c = NULL;
    setenv("LEVI_COMM_TIMEOUT", "2.5", 1);
    ck_assert_levi_ok(levi_comm_open(&c, NULL));
    ck_assert(levi_comm_timeout(c) == 2.5);
    levi_comm_close(c, 1);
    setenv("LEVI_COMM_TIMEOUT", "soon", 1);
    ck_assert_int_eq(levi_comm_open(&c, NULL), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "LEVI_COMM_TIMEOUT=soon"));
    ck_assert_ptr_null(c);
    unsetenv("LEVI_COMM_TIMEOUT");
    levi_comm_options o = {0, 30};
    ck_assert_levi_ok(levi_comm_open(&c, &o));
    ck_assert(levi_comm_timeout(c) == 30);
    levi_comm_close(c, 1);
}
END_TEST

/* A launcher that announces several ranks, in a build without MPI: an error
 * that says how to build with it, rather than N copies of one run. */
START_TEST(launcher_without_mpi) {
    if (levi_comm_have_mpi()) return; /* would really join an MPI run */
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    ck_assert_int_eq(levi_comm_launcher_size(), 2);
    levi_comm *c = NULL;
    ck_assert_int_eq(levi_comm_open(&c, NULL), LEVI_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "-Dmpi=enabled"));
    levi_comm_options o = {1, 0};
    ck_assert_int_eq(levi_comm_open(&c, &o), LEVI_ERR_UNSUPPORTED);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    ck_assert_int_eq(levi_comm_launcher_size(), 0);
}
END_TEST

START_TEST(config_difference) {
    const char *a[] = {"method", "levi", "lr", "0.001", "batch", "64"};
    const char *b[] = {"method", "levi", "lr", "0.002", "batch", "64"};
    const char *c[] = {"method", "levi", "rate", "0.001"};
    ck_assert_int_eq(levi_config_first_difference(a, 3, a, 3), -1);
    ck_assert_int_eq(levi_config_first_difference(a, 3, b, 3), 1);
    ck_assert_int_eq(levi_config_first_difference(a, 3, c, 2), 1);
    ck_assert_int_eq(levi_config_first_difference(a, 3, a, 2), 2);
    ck_assert_int_eq(levi_config_first_difference(a, 0, b, 0), -1);
}
END_TEST

START_TEST(shards) {
    /* Consecutive, covering, sizes within one; more parts than rows too. */
    const int cases[][2] = {{64, 1}, {64, 2}, {65, 2}, {7, 3}, {2, 3}, {0, 2}, {100, 7}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int n = cases[k][0], parts = cases[k][1], next = 0, lo = n, hi = 0;
        for (int p = 0; p < parts; p++) {
            int start, count;
            levi_comm_shard(n, p, parts, &start, &count);
            ck_assert_int_eq(start, next);
            next += count;
            lo = count < lo ? count : lo;
            hi = count > hi ? count : hi;
        }
        ck_assert_int_eq(next, n);
        ck_assert_int_le(hi - lo, 1);
    }
}
END_TEST

START_TEST(output_on_root) {
    levi_comm *c = NULL;
    ck_assert_levi_ok(levi_comm_open(&c, NULL));
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(levi_comm_printf(c, f, "step %d\n", 3), 7);
    levi_comm_quiet_others(c); /* rank 0: nothing changes */
    ck_assert_int_eq(levi_log_get_level(), LEVI_LOG_INFO);
    fclose(f);
    levi_comm_close(c, 1);
}
END_TEST

/* --- gradient sums over device contexts ------------------------------------ */

enum { REPLICAS = 3, GROUPS = 3 };
static const int k_sizes[GROUPS] = {1000, 37, 4099};

/* Contexts on devices 0, 1, 0, ... of the list (the same device serves
 * several replicas when there are fewer devices). */
static void open_replicas(levi_ctx **ctx, int n) {
    levi_device_list list;
    ck_assert_levi_ok(levi_device_list_query(&list));
    for (int r = 0; r < n; r++) ck_assert_levi_ok(levi_ctx_create(&ctx[r], &list.devices[r % list.count]));
    levi_device_list_free(&list);
}

START_TEST(grad_sum_devices) {
    levi_ctx *ctx[REPLICAS];
    open_replicas(ctx, REPLICAS);
    levi_comm *c = NULL;
    ck_assert_levi_ok(levi_comm_open(&c, NULL));
    /* Each replica's groups are views into one arena, as a model's are. */
    levi_arena arena[REPLICAS];
    levi_tensor t[REPLICAS * GROUPS];
    size_t total = 0;
    for (int g = 0; g < GROUPS; g++) total += (size_t)k_sizes[g];
    for (int r = 0; r < REPLICAS; r++) {
        levi_arena_init(&arena[r], ctx[r], "gradients");
        size_t off[GROUPS];
        levi_arena_reserve(&arena[r], 5); /* the groups do not start at 0 */
        for (int g = 0; g < GROUPS; g++) off[g] = levi_arena_reserve(&arena[r], (size_t)k_sizes[g]);
        ck_assert_levi_ok(levi_arena_commit(&arena[r]));
        for (int g = 0; g < GROUPS; g++) t[r * GROUPS + g] = levi_arena_tensor(&arena[r], off[g], 1, &k_sizes[g]);
    }
    levi_grad_sum *s = NULL;
    ck_assert_levi_ok(levi_grad_sum_create(&s, c, REPLICAS, GROUPS, t));
    ck_assert_uint_eq(levi_grad_sum_floats(s), total);
    float *host = malloc(REPLICAS * total * sizeof *host), *want = malloc(total * sizeof *want),
          *got = malloc(total * sizeof *got);
    ck_assert(host && want && got);
    /* Twice, with new values: the second run's reads follow the first's writes. */
    for (int round = 0; round < 2; round++) {
        test_fill_uniform(host, REPLICAS * total, 17 + round, -1, 1);
        for (int r = 0; r < REPLICAS; r++) {
            size_t off = 0;
            for (int g = 0; g < GROUPS; g++) {
                ck_assert_levi_ok(levi_tensor_write(&t[r * GROUPS + g], host + r * total + off));
                off += (size_t)k_sizes[g];
            }
        }
        for (size_t i = 0; i < total; i++) {
            float v = host[i];
            for (int r = 1; r < REPLICAS; r++) v += host[r * total + i];
            want[i] = v;
        }
        ck_assert_levi_ok(levi_grad_sum_run(s));
        for (int r = 0; r < REPLICAS; r++) {
            size_t off = 0;
            for (int g = 0; g < GROUPS; g++) {
                ck_assert_levi_ok(levi_tensor_read(&t[r * GROUPS + g], got + off));
                off += (size_t)k_sizes[g];
            }
            for (size_t i = 0; i < total; i++)
                ck_assert_msg(isfinite(got[i]) && got[i] == want[i], "round %d replica %d float %zu: %g, expected %g",
                              round, r, i, got[i], want[i]);
        }
    }
    levi_grad_sum_destroy(s);
    /* One replica, world 1: the sum is the identity and touches nothing. */
    ck_assert_levi_ok(levi_grad_sum_create(&s, c, 1, GROUPS, t));
    ck_assert_levi_ok(levi_grad_sum_run(s));
    levi_grad_sum_destroy(s);
    ck_assert_levi_ok(levi_tensor_read(&t[0], got));
    ck_assert(got[0] == want[0]);
    free(host);
    free(want);
    free(got);
    for (int r = 0; r < REPLICAS; r++) {
        levi_arena_free(&arena[r]);
        levi_ctx_destroy(ctx[r]);
    }
    levi_comm_close(c, 1);
}
END_TEST

START_TEST(grad_sum_bad_layout) {
    levi_ctx *ctx[2];
    open_replicas(ctx, 2);
    levi_tensor t[4];
    ck_assert_levi_ok(levi_tensor_alloc1(&t[0], ctx[0], 10));
    ck_assert_levi_ok(levi_tensor_alloc1(&t[1], ctx[0], 20));
    ck_assert_levi_ok(levi_tensor_alloc1(&t[2], ctx[1], 10));
    ck_assert_levi_ok(levi_tensor_alloc1(&t[3], ctx[1], 21));
    levi_grad_sum *s = NULL;
    ck_assert_int_eq(levi_grad_sum_create(&s, NULL, 2, 2, t), LEVI_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "group 1 has 21 floats on replica 1 but 20"));
    levi_tensor u[4] = {t[0], t[1], t[0], t[1]};
    ck_assert_int_eq(levi_grad_sum_create(&s, NULL, 2, 2, u), LEVI_ERR_INVALID_ARG);
    ck_assert_int_eq(levi_grad_sum_create(&s, NULL, 0, 2, t), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_null(s);
    for (int i = 0; i < 4; i++) levi_tensor_free(&t[i]);
    levi_ctx_destroy(ctx[0]);
    levi_ctx_destroy(ctx[1]);
}
END_TEST

/* Busy time of two profiling contexts: each busy, the overlap no longer than
 * either, both within the span; a ctx against itself overlaps fully. */
START_TEST(busy_overlap) {
    levi_ctx *ctx[2];
    open_replicas(ctx, 2);
    levi_tensor x[2], y[2];
    enum { N = 1 << 18 };
    for (int i = 0; i < 2; i++) {
        ck_assert_levi_ok(levi_ctx_set_profiling(ctx[i], 1));
        ck_assert_levi_ok(levi_tensor_alloc1(&x[i], ctx[i], N));
        ck_assert_levi_ok(levi_tensor_alloc1(&y[i], ctx[i], N));
    }
    for (int k = 0; k < 20; k++)
        for (int i = 0; i < 2; i++) ck_assert_levi_ok(levi_axpy(ctx[i], &y[i], 0.5f, &x[i], N));
    levi_overlap o;
    ck_assert_levi_ok(levi_profile_overlap(ctx[0], ctx[1], &o));
    ck_assert_msg(o.busy_a > 0 && o.busy_b > 0, "busy %g and %g s", o.busy_a, o.busy_b);
    ck_assert_msg(o.both >= 0 && o.both <= o.busy_a + 1e-9 && o.both <= o.busy_b + 1e-9, "both %g s", o.both);
    ck_assert_msg(o.span + 1e-9 >= o.busy_a && o.span + 1e-9 >= o.busy_b, "span %g s", o.span);
    levi_overlap self;
    ck_assert_levi_ok(levi_profile_overlap(ctx[0], ctx[0], &self));
    ck_assert(self.both == self.busy_a && self.busy_a == self.busy_b && self.busy_a >= o.busy_a);
    FILE *f = tmpfile();
    levi_profile_print_overlap(f, ctx[0], "first", ctx[1], "second");
    rewind(f);
    char line[512] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_ptr_nonnull(strstr(line, "profile: stages at once: first on"));
    fclose(f);
    /* without profiling: an error, not numbers */
    ck_assert_levi_ok(levi_ctx_set_profiling(ctx[1], 0));
    ck_assert_int_eq(levi_profile_overlap(ctx[0], ctx[1], &o), LEVI_ERR_INVALID_ARG);
    for (int i = 0; i < 2; i++) {
        levi_tensor_free(&x[i]);
        levi_tensor_free(&y[i]);
        levi_ctx_destroy(ctx[i]);
    }
}
END_TEST

int main(void) {
    levi_log_init();
    Suite *s = suite_create("comm");
    TCase *tc = tcase_create("host");
    tcase_add_test(tc, world_one);
    tcase_add_test(tc, timeout_from_env);
    tcase_add_test(tc, launcher_without_mpi);
    tcase_add_test(tc, config_difference);
    tcase_add_test(tc, output_on_root);
    tcase_add_test(tc, shards);
    suite_add_tcase(s, tc);
    int device = test_have_device();
    if (device) {
        TCase *td = tcase_create("devices");
        tcase_set_timeout(td, 120);
        tcase_add_test(td, grad_sum_devices);
        tcase_add_test(td, grad_sum_bad_layout);
        tcase_add_test(td, busy_overlap);
        suite_add_tcase(s, td);
    }
    return test_finish(s, device);
}
