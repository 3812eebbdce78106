/* bench train: end-to-end training throughput (samples/s) of ft, lora and
 * levi (with and without the feature cache) at the demo's model size. */
#include "bench.h"

levi_status bench_train(levi_ctx *ctx, cJSON *doc, double budget_s) {
    (void)ctx;
    (void)doc;
    (void)budget_s;
    return levi_error(LEVI_ERR_UNSUPPORTED, "bench train: the trainer is not in this build yet");
}
