/* libFuzzer harness for the JPEG reader: any bytes must give either pixels or
 * a clean error, never a crash, a leak or a huge allocation.
 * Build: CC=clang-14 meson setup BUILD -Dfuzz=true -Db_lundef=false; run:
 * BUILD/tests/fuzz_jpeg -max_total_time=60 -rss_limit_mb=2048 tests/fixtures/images/bad */
#include <stdint.h>
#include <stdlib.h>

#include "levi/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int channels = 1; channels <= 3; channels += 2) {
        int w = 0, h = 0;
        unsigned char *px = NULL;
        levi_status st = levi_jpeg_decode(data, size, "fuzz.jpg", channels, &w, &h, &px);
        if (st == LEVI_OK) {
            /* touch every pixel so ASan checks the buffer's size */
            unsigned sum = 0;
            for (size_t i = 0; i < (size_t)w * h * (size_t)channels; i++) sum += px[i];
            if (w <= 0 || h <= 0 || w > LEVI_IMAGE_MAX_SIDE || h > LEVI_IMAGE_MAX_SIDE) abort();
            (void)sum;
        } else if (px != NULL) {
            abort(); /* an error must not hand out memory */
        }
        free(px);
    }
    return 0;
}
