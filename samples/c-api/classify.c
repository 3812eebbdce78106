/* classify: load a model written by `levi-cl train` and print the most likely
 * class of each PNG image, using liblevi's C API.
 *
 *   cc classify.c $(pkg-config --cflags --libs levi) -o classify
 *   ./classify model.safetensors image1.png image2.png ...
 *
 * The device is the default one (first GPU, else the first device), or
 * $LEVI_DEVICE (an index, P:D, cpu, gpu or part of a name). */
#include <stdio.h>
#include <stdlib.h>

#include <levi/levi.h>
#include <levi/levi_model.h>

/* Print the library's message for a failed call and return 1. */
static int fail(const char *what, levi_status st) {
    fprintf(stderr, "classify: %s: %s (%s)\n", what, levi_last_error(), levi_status_name(st));
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.safetensors IMAGE.png...\n", argv[0]);
        return 2;
    }
    levi_log_init();
    levi_ctx *ctx = NULL;
    levi_status st = levi_ctx_open(&ctx, NULL); /* NULL: $LEVI_DEVICE, else the default device */
    if (st != LEVI_OK) return fail("opening an OpenCL device", st);

    levi_model *model = NULL;
    st = levi_model_load(&model, ctx, argv[1], 16, 0); /* batches of up to 16, inference only */
    if (st != LEVI_OK) {
        levi_ctx_destroy(ctx);
        return fail(argv[1], st);
    }
    const levi_model_config *cfg = levi_model_get_config(model);
    const char *const *classes = levi_model_class_names(model);
    size_t per_image = (size_t)cfg->channels * cfg->height * cfg->width;

    int n = argc - 2, rc = 0;
    float *images = malloc((size_t)n * per_image * sizeof *images);
    float *probs = malloc((size_t)n * cfg->num_classes * sizeof *probs);
    if (!images || !probs) {
        fprintf(stderr, "classify: out of memory\n");
        rc = 1;
    }
    /* the preprocessing the model was trained with (resize, crop, per-channel normalisation) */
    levi_preprocess pre;
    st = levi_preprocess_for_model(&pre, levi_model_preprocessor(model), argv[1], cfg->channels, cfg->height,
                                   cfg->width, cfg->image_mean, cfg->image_std);
    if (st != LEVI_OK && !rc) rc = fail(argv[1], st);
    /* every image (PNG or JPEG) as the model's input */
    for (int i = 0; i < n && !rc; i++) {
        st = levi_image_preprocess(argv[2 + i], &pre, cfg->height, cfg->width, images + (size_t)i * per_image);
        if (st != LEVI_OK) rc = fail(argv[2 + i], st);
    }
    if (!rc) {
        st = levi_model_predict_normalized(model, images, n, probs);
        if (st != LEVI_OK) rc = fail("predict", st);
    }
    for (int i = 0; i < n && !rc; i++) {
        const float *p = probs + (size_t)i * cfg->num_classes;
        int best = 0;
        for (int k = 1; k < cfg->num_classes; k++)
            if (p[k] > p[best]) best = k;
        printf("%s\t%s\t%.4f\n", argv[2 + i], classes[best], p[best]);
    }
    free(images);
    free(probs);
    levi_model_free(model);
    levi_ctx_destroy(ctx);
    return rc;
}
