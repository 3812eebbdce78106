/* libFuzzer harness for the IDX parser (images and labels): any bytes give
 * either data of exactly the size the header claims or a clean error.
 * Build: CC=clang-14 meson setup BUILD -Dfuzz=true -Db_lundef=false; run:
 * BUILD/tests/fuzz_idx -max_total_time=60 CORPUS_DIR */
#include <stdint.h>
#include <stdlib.h>

#include "levi/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int n = 0, r = 0, c = 0;
    unsigned char *px = NULL;
    if (levi_idx_parse_images(data, size, "fuzz.idx", &n, &r, &c, &px) == LEVI_OK) {
        size_t count = (size_t)n * r * c;
        if (n <= 0 || r <= 0 || c <= 0 || 16 + count != size) abort();
        if (px[count - 1] != data[size - 1]) abort();
    } else if (px != NULL) {
        abort();
    }
    free(px);
    unsigned char *lab = NULL;
    if (levi_idx_parse_labels(data, size, "fuzz.idx", &n, &lab) == LEVI_OK) {
        if (n <= 0 || 8 + (size_t)n != size) abort();
        for (int i = 0; i < n; i++)
            if (lab[i] >= 10) abort();
    } else if (lab != NULL) {
        abort();
    }
    free(lab);
    return 0;
}
