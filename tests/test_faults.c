/* Faults the library must survive (no device needed): messages that quote
 * themselves, FIFOs and devices given as inputs, output paths checked before
 * work, advisory output locks, leftovers of dead processes, folder
 * replacement that never leaves the output missing, PNG chunk-length bombs,
 * duplicate JSON keys. The kill -9 / ENOSPC cases of the commands are in
 * test_faults_cli.sh (through tests/faultshim.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "levi/levi.h"
#include "testutil.h"

/* Above pid_max: never a live process. */
#define DEAD_PID "2147483646"

static char g_dir[512];

static const char *pathf(const char *name) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void setup(void) {
    char *d = test_tmpdir();
    snprintf(g_dir, sizeof g_dir, "%s", d);
    free(d);
}

static void teardown(void) {
    levi_rmtree(g_dir);
    levi_error_clear();
}

static void touch(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    fputs(text, f);
    fclose(f);
}

static int exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static void assert_error_has(levi_status st, levi_status want, const char *a, const char *b) {
    ck_assert_msg(st == want, "status %s, expected %s (%s)", levi_status_name(st), levi_status_name(want),
                  levi_last_error());
    if (a) ck_assert_msg(strstr(levi_last_error(), a), "message '%s' lacks '%s'", levi_last_error(), a);
    if (b) ck_assert_msg(strstr(levi_last_error(), b), "message '%s' lacks '%s'", levi_last_error(), b);
}

/* --- messages ----------------------------------------------------------------------- */

START_TEST(error_may_quote_itself) {
    levi_error(LEVI_ERR_FORMAT, "8 is not a multiple of patch_size 56");
    levi_error(LEVI_ERR_FORMAT, "%s: %s", "config.json", levi_last_error());
    ck_assert_str_eq(levi_last_error(), "config.json: 8 is not a multiple of patch_size 56");
    levi_error(LEVI_ERR_DEVICE_MEMORY, "needs 123456789 bytes on 'dev'");
    levi_error(LEVI_ERR_DEVICE_MEMORY, "%s arena: %s", "ViT activations", levi_last_error());
    ck_assert_str_eq(levi_last_error(), "ViT activations arena: needs 123456789 bytes on 'dev'");
    /* a long message quoted in itself is cut at the buffer, never garbled */
    char long_msg[2000];
    memset(long_msg, 'x', sizeof long_msg - 1);
    long_msg[sizeof long_msg - 1] = '\0';
    levi_error(LEVI_ERR_IO, "%s", long_msg);
    levi_error(LEVI_ERR_IO, "ab: %s", levi_last_error());
    const char *m = levi_last_error();
    ck_assert(!strncmp(m, "ab: xxxx", 8));
    for (size_t i = 4; m[i]; i++) ck_assert_int_eq(m[i], 'x');
}
END_TEST

/* --- inputs that are not regular files ---------------------------------------------- */

START_TEST(fifo_inputs_never_block) {
    const char *fifo = pathf("fifo");
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    alarm(20); /* a blocking open would hang here: SIGALRM ends the suite as failed */
    char *data;
    size_t len;
    assert_error_has(levi_read_file(fifo, &data, &len), LEVI_ERR_IO, "fifo", "FIFO");
    levi_safetensors sf;
    assert_error_has(levi_safetensors_read(fifo, &sf), LEVI_ERR_IO, "fifo", "FIFO");
    cJSON *o;
    assert_error_has(levi_json_load(fifo, &o), LEVI_ERR_IO, "fifo", "FIFO");
    int fd;
    assert_error_has(levi_open_regular(fifo, &fd, NULL), LEVI_ERR_IO, "fifo", "FIFO");
    assert_error_has(levi_open_regular(g_dir, &fd, NULL), LEVI_ERR_IO, g_dir, "folder");
    assert_error_has(levi_open_regular("/dev/null", &fd, NULL), LEVI_ERR_IO, "/dev/null", "device");
    /* a backbone folder whose config.json is a FIFO */
    ck_assert_int_eq(mkdir(pathf("bb"), 0755), 0);
    ck_assert_int_eq(mkfifo(pathf("bb/config.json"), 0644), 0);
    assert_error_has(levi_json_load(pathf("bb/config.json"), &o), LEVI_ERR_IO, "config.json", "FIFO");
    alarm(0);
    /* a regular file still reads, and the descriptor blocks normally */
    touch(pathf("plain"), "hello");
    ck_assert_levi_ok(levi_read_file(pathf("plain"), &data, &len));
    ck_assert_str_eq(data, "hello");
    free(data);
    size_t size = 0;
    ck_assert_levi_ok(levi_open_regular(pathf("plain"), &fd, &size));
    ck_assert_uint_eq(size, 5);
    ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    close(fd);
}
END_TEST

/* --- output paths ---------------------------------------------------------------------- */

START_TEST(output_paths_checked_before_work) {
    assert_error_has(levi_output_check_file("--out", g_dir), LEVI_ERR_INVALID_ARG, "--out", "is a folder");
    assert_error_has(levi_output_check_file("--out", pathf("outdir/")), LEVI_ERR_INVALID_ARG, "outdir/", "folder");
    assert_error_has(levi_output_check_file("--out", pathf("no/such/m.safetensors")), LEVI_ERR_IO, "no/such",
                     "does not exist");
    ck_assert_int_eq(mkfifo(pathf("pipe"), 0644), 0);
    assert_error_has(levi_output_check_file("--out", pathf("pipe")), LEVI_ERR_INVALID_ARG, "pipe", "FIFO");
    assert_error_has(levi_output_check_file("--out", "/dev/null"), LEVI_ERR_INVALID_ARG, "/dev/null", "device");
    touch(pathf("afile"), "x");
    assert_error_has(levi_output_check_file("--out", pathf("afile/m.safetensors")), LEVI_ERR_IO, "afile",
                     "not a folder");
    assert_error_has(levi_output_check_dir("--out", pathf("afile")), LEVI_ERR_INVALID_ARG, "afile", "not a folder");
    assert_error_has(levi_output_check_dir("--out", pathf("afile/sub/dir")), LEVI_ERR_IO, "afile", "not a folder");
    /* good paths pass and leave nothing behind */
    ck_assert_levi_ok(levi_output_check_file("--out", pathf("m.safetensors")));
    ck_assert_levi_ok(levi_output_check_file("--out", pathf("afile")));
    ck_assert_levi_ok(levi_output_check_dir("--out", pathf("new/deep/dir")));
    ck_assert_levi_ok(levi_output_check_dir("--out", g_dir));
    ck_assert(!exists(pathf("m.safetensors")));
    ck_assert(!exists(pathf("new")));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 2", g_dir); /* afile, pipe */
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* --- locks ------------------------------------------------------------------------------- */

START_TEST(second_writer_gets_busy) {
    levi_output_lock a, b;
    char out[1100];
    snprintf(out, sizeof out, "%s", pathf("sub/dd"));
    ck_assert_levi_ok(levi_output_lock_take(&a, out));
    ck_assert(exists(pathf("sub/dd.lock")));
    char pid[32];
    snprintf(pid, sizeof pid, "in use by PID %ld", (long)getpid());
    /* flock conflicts between two open files even in one process */
    assert_error_has(levi_output_lock_take(&b, out), LEVI_ERR_BUSY, pid, out);
    ck_assert_ptr_null(b.path);
    levi_output_lock_release(&a);
    ck_assert(!exists(pathf("sub/dd.lock")));
    /* a trailing slash names the same output */
    ck_assert_levi_ok(levi_output_lock_take(&a, pathf("sub/dd/")));
    assert_error_has(levi_output_lock_take(&b, out), LEVI_ERR_BUSY, pid, NULL);
    levi_output_lock_release(&a);
    /* a lock file left by a killed holder is simply taken over */
    touch(pathf("sub/dd.lock"), "2147483646\n");
    ck_assert_levi_ok(levi_output_lock_take(&a, out));
    levi_output_lock_release(&a);
    ck_assert(!exists(pathf("sub/dd.lock")));
}
END_TEST

/* --- leftovers ------------------------------------------------------------------------------ */

START_TEST(leftovers_of_dead_processes_removed) {
    char mine[64];
    snprintf(mine, sizeof mine, "x.tmp.%ld", (long)getpid());
    ck_assert_int_eq(mkdir(pathf("x.tmp." DEAD_PID), 0755), 0);
    touch(pathf("x.tmp." DEAD_PID "/a.png"), "png");
    touch(pathf("x.tmp." DEAD_PID ".7"), "partial");
    ck_assert_int_eq(mkdir(pathf("x.old." DEAD_PID), 0755), 0);
    touch(pathf("x.old." DEAD_PID "/manifest.json"), "{}");
    ck_assert_int_eq(mkdir(pathf("x.old-" DEAD_PID), 0755), 0);
    ck_assert_int_eq(mkdir(pathf("x.tmp-Ab12Cd"), 0755), 0);
    ck_assert_int_eq(mkdir(pathf(mine), 0755), 0); /* a live writer's: kept */
    touch(pathf("x.tmp.notapid"), "kept");
    touch(pathf("x.tmp.12x"), "kept");
    touch(pathf("xy.tmp." DEAD_PID), "another output's: kept");
    int removed = 0;
    /* x is missing: one of the moved-aside copies is restored as x */
    ck_assert_levi_ok(levi_output_recover(pathf("x"), &removed));
    ck_assert_int_eq(removed, 5);
    ck_assert(exists(pathf("x")));
    ck_assert(!exists(pathf("x.tmp." DEAD_PID)) && !exists(pathf("x.tmp." DEAD_PID ".7")));
    ck_assert(!exists(pathf("x.old." DEAD_PID)) && !exists(pathf("x.old-" DEAD_PID)));
    ck_assert(!exists(pathf("x.tmp-Ab12Cd")));
    ck_assert(exists(pathf(mine)) && exists(pathf("x.tmp.notapid")) && exists(pathf("x.tmp.12x")));
    ck_assert(exists(pathf("xy.tmp." DEAD_PID)));
    /* with x present, a moved-aside copy is stale and goes */
    ck_assert_int_eq(mkdir(pathf("x.old." DEAD_PID), 0755), 0);
    ck_assert_levi_ok(levi_output_recover(pathf("x"), &removed));
    ck_assert_int_eq(removed, 1);
    ck_assert(exists(pathf("x")) && !exists(pathf("x.old." DEAD_PID)));
}
END_TEST

START_TEST(atomic_write_removes_dead_temporaries) {
    touch(pathf("m.json.tmp." DEAD_PID ".0"), "half");
    touch(pathf("m.json.tmp." DEAD_PID ".1"), "half");
    touch(pathf("other.json.tmp." DEAD_PID ".0"), "kept");
    ck_assert_levi_ok(levi_write_file_atomic(pathf("m.json"), "{}", 2));
    ck_assert(!exists(pathf("m.json.tmp." DEAD_PID ".0")) && !exists(pathf("m.json.tmp." DEAD_PID ".1")));
    ck_assert(exists(pathf("other.json.tmp." DEAD_PID ".0")));
    char *data;
    size_t len;
    ck_assert_levi_ok(levi_read_file(pathf("m.json"), &data, &len));
    ck_assert_str_eq(data, "{}");
    free(data);
}
END_TEST

/* --- folder publication ----------------------------------------------------------------------- */

static void make_tree(const char *dir, const char *marker) {
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char p[1200];
    snprintf(p, sizeof p, "%s/marker", dir);
    touch(p, marker);
    snprintf(p, sizeof p, "%s/sub", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void assert_marker(const char *dir, const char *want) {
    char p[1200], *data;
    size_t len;
    snprintf(p, sizeof p, "%s/marker", dir);
    ck_assert_levi_ok(levi_read_file(p, &data, &len));
    ck_assert_str_eq(data, want);
    free(data);
}

START_TEST(folder_replaced_never_missing) {
    char tmp[1100];
    /* absent output */
    ck_assert_levi_ok(levi_output_tmpdir(pathf("out"), tmp, sizeof tmp));
    ck_assert(strstr(tmp, "out.tmp."));
    struct stat sb;
    ck_assert_int_eq(stat(tmp, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0755); /* not mkdtemp's 0700 */
    char p[1200];
    snprintf(p, sizeof p, "%s/marker", tmp);
    touch(p, "one");
    ck_assert_levi_ok(levi_dir_publish(tmp, pathf("out")));
    assert_marker(pathf("out"), "one");
    ck_assert(!exists(tmp));
    /* a full output replaced: the old tree is gone, nothing left next to it */
    ck_assert_levi_ok(levi_output_tmpdir(pathf("out/"), tmp, sizeof tmp));
    snprintf(p, sizeof p, "%s/marker", tmp);
    touch(p, "two");
    ck_assert_levi_ok(levi_dir_publish(tmp, pathf("out/")));
    assert_marker(pathf("out"), "two");
    ck_assert(!exists(tmp));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s')\" = out", g_dir);
    ck_assert_int_eq(system(cmd), 0);
    /* an empty folder as the output */
    ck_assert_int_eq(mkdir(pathf("empty"), 0755), 0);
    make_tree(pathf("empty.tmp.1"), "three");
    ck_assert_levi_ok(levi_dir_publish(pathf("empty.tmp.1"), pathf("empty")));
    assert_marker(pathf("empty"), "three");
    /* a file in the way is never replaced */
    touch(pathf("file"), "data");
    make_tree(pathf("file.tmp.1"), "four");
    assert_error_has(levi_dir_publish(pathf("file.tmp.1"), pathf("file")), LEVI_ERR_IO, "file", "not a folder");
    /* a missing temporary: the error carries errno's text */
    assert_error_has(levi_dir_publish(pathf("nothing"), pathf("out")), LEVI_ERR_IO, "nothing",
                     "No such file or directory");
    assert_marker(pathf("out"), "two");
}
END_TEST

START_TEST(rmtree_does_not_follow_links) {
    make_tree(pathf("keep"), "kept");
    ck_assert_int_eq(mkdir(pathf("t"), 0755), 0);
    char target[1200];
    snprintf(target, sizeof target, "%s", pathf("keep"));
    ck_assert_int_eq(symlink(target, pathf("t/link")), 0);
    ck_assert_levi_ok(levi_rmtree(pathf("t")));
    ck_assert(!exists(pathf("t")));
    assert_marker(pathf("keep"), "kept");
    ck_assert_levi_ok(levi_rmtree(pathf("missing")));
}
END_TEST

/* --- amplification --------------------------------------------------------------------------- */

static void put32(unsigned char *p, unsigned long v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

START_TEST(png_chunk_length_bomb_refused) {
    /* 44 bytes: signature, a valid 1x1 IHDR, then a chunk claiming 2^31-1 bytes */
    unsigned char png[44] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    put32(png + 8, 13);
    memcpy(png + 12, "IHDR", 4);
    put32(png + 16, 1);
    put32(png + 20, 1);
    png[24] = 8; /* depth 8, gray, no interlace */
    put32(png + 29, 0x3a7e9b55UL); /* CRC (not checked before the length) */
    put32(png + 33, 0x7fffffffUL);
    memcpy(png + 37, "tEXt", 4);
    int w, h;
    unsigned char *px = NULL;
    assert_error_has(levi_png_decode(png, sizeof png, "bomb.png", 1, &w, &h, &px), LEVI_ERR_FORMAT, "bomb.png",
                     "2147483647");
    ck_assert_ptr_null(px);
    /* the same lie in IDAT */
    memcpy(png + 37, "IDAT", 4);
    assert_error_has(levi_png_decode(png, sizeof png, "bomb2.png", 1, &w, &h, &px), LEVI_ERR_FORMAT, "IDAT",
                     "2147483647");
}
END_TEST

/* --- JSON ------------------------------------------------------------------------------------- */

START_TEST(duplicate_json_keys_last_wins) {
    touch(pathf("config.json"), "{\"hidden_size\": 8, \"x\": {\"a\": 1, \"a\": 2}, \"hidden_size\": 64}");
    cJSON *o;
    ck_assert_levi_ok(levi_json_load(pathf("config.json"), &o));
    int v = 0;
    ck_assert_levi_ok(levi_json_get_int(o, "config.json", "hidden_size", 1, 1 << 20, &v, 1));
    ck_assert_int_eq(v, 64); /* Python's json (and transformers) read 64 */
    ck_assert_int_eq(cJSON_GetArraySize(o), 2);
    ck_assert_levi_ok(levi_json_get_int(cJSON_GetObjectItem(o, "x"), "x", "a", 0, 9, &v, 1));
    ck_assert_int_eq(v, 2);
    cJSON_Delete(o);
}
END_TEST

int main(void) {
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("host");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, error_may_quote_itself);
    tcase_add_test(tc, fifo_inputs_never_block);
    tcase_add_test(tc, output_paths_checked_before_work);
    tcase_add_test(tc, second_writer_gets_busy);
    tcase_add_test(tc, leftovers_of_dead_processes_removed);
    tcase_add_test(tc, atomic_write_removes_dead_temporaries);
    tcase_add_test(tc, folder_replaced_never_missing);
    tcase_add_test(tc, rmtree_does_not_follow_links);
    tcase_add_test(tc, png_chunk_length_bomb_refused);
    tcase_add_test(tc, duplicate_json_keys_last_wins);
    suite_add_tcase(s, tc);
    return test_run(s);
}
