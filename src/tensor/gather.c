/* Row gathers on the device (cl/train.cl): a batch's rows out of a table
 * that stays on the device, by indices that went up once. */
#include "levi/runtime.h"
#include "levi/tensor.h"

levi_status levi_gather_rows(const levi_tensor *dst, const levi_tensor *src, cl_mem idx, size_t idx_off, int rows,
                             size_t row_len) {
    size_t n = (size_t)rows * row_len;
    if (rows < 0 || dst->numel < n)
        return levi_error(LEVI_ERR_SHAPE, "gather_rows: %d rows of %zu into a tensor of %zu", rows, row_len,
                          dst->numel);
    if (!n) return LEVI_OK;
    cl_kernel k;
    const size_t vec = row_len % 4 ? 1 : 4; /* floats a work-item */
    LEVI_TRY(levi_kernel_get(dst->ctx, "train", vec == 4 ? "gather_rows4" : "gather_rows", &k));
    cl_ulong dof = dst->offset, sof = src->offset, iof = idx_off, row = row_len;
    cl_int nrows = rows;
    LEVI_CL_CHECK(clSetKernelArg(k, 0, sizeof(cl_mem), &dst->buf));
    LEVI_CL_CHECK(clSetKernelArg(k, 1, sizeof dof, &dof));
    LEVI_CL_CHECK(clSetKernelArg(k, 2, sizeof(cl_mem), &src->buf));
    LEVI_CL_CHECK(clSetKernelArg(k, 3, sizeof sof, &sof));
    LEVI_CL_CHECK(clSetKernelArg(k, 4, sizeof(cl_mem), &idx));
    LEVI_CL_CHECK(clSetKernelArg(k, 5, sizeof iof, &iof));
    LEVI_CL_CHECK(clSetKernelArg(k, 6, sizeof row, &row));
    LEVI_CL_CHECK(clSetKernelArg(k, 7, sizeof nrows, &nrows));
    /* a row's columns in a group (the device's 1-D size), on CPUs several rows too */
    const size_t cols = row_len / vec;
    size_t want = levi_group_1d(dst->ctx, n / vec), lx = 1, ly = 1;
    while (lx < cols && lx < want) lx *= 2;
    while ((dst->ctx->info.type & CL_DEVICE_TYPE_CPU) && lx * ly * 2 <= want && ly < (size_t)rows) ly *= 2;
    size_t local[2] = {lx, ly}, global[2] = {(cols + lx - 1) / lx * lx, ((size_t)rows + ly - 1) / ly * ly};
    return levi_launch(dst->ctx, k, 2, global, local);
}
