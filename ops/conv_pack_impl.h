/* conv_pack_impl.h -- the im2col packing of conv2d's B operand into NR-column panels, as a
 * template: included (without include guard) by ops/gemm_avx2.c and ops/gemm_avx512.c after
 * they define
 *   static inline void copy_run(float *dd, const float *xr, int ix0, int sw, int tlo,
 *                               int thi, int run)
 * which writes dd[t] = xr[ix0 + t*sw] for t in [tlo, thi) and 0 for the other t < run
 * (run <= NR; lanes outside [tlo, thi) must not be read), and OC_PACK_FN, the function name.
 *
 * Rows kk of B are the taps (ci, ky, kx) of the group's input channels; columns are output
 * pixels j = oy*ow + ox. Column block [j0, j0+nc) goes to panels of NR: dst[p][kk][NR]. */
void OC_PACK_FN(const void *pctx, int k0, int kc, int j0, int nc, int nr, float *dst)
{
    const oc_conv_pack_ctx *p = pctx;
    const oc_conv2d_desc *d = p->d;
    int khw = d->kh * d->kw;
    int jend = j0 + nc;
    int npanel = (nc + nr - 1) / nr;
    size_t pstride = (size_t)kc * nr;
    int sw = d->stride_w;
    int oy0 = j0 / p->ow, ox0 = j0 % p->ow;
    for (int kk = k0; kk < k0 + kc; kk++) {
        int ci = kk / khw, r = kk % khw, ky = r / d->kw, kx = r % d->kw;
        const float *xc = p->x + (size_t)ci * p->h * p->w;
        float *drow = dst + (size_t)(kk - k0) * nr;
        if (p->pointwise) {
            const float *src = xc + j0;
            for (int pi = 0; pi < npanel; pi++) {
                int cnt = nc - pi * nr < nr ? nc - pi * nr : nr;
                copy_run(drow + pi * pstride, src + (size_t)pi * nr, 0, 1, 0, cnt, nr);
            }
            continue;
        }
        int j = j0, oy = oy0, ox = ox0;
        int offx = kx * d->dil_w - d->pad_l;
        while (j < jend) {
            int rel = j - j0;
            int pi = rel / nr, jj = rel % nr;
            int run = nr - jj;
            if (run > jend - j) run = jend - j;
            if (run > p->ow - ox) run = p->ow - ox;
            float *dd = drow + pi * pstride + jj;
            int iy = oy * d->stride_h - d->pad_t + ky * d->dil_h;
            if (iy < 0 || iy >= p->h) {
                copy_run(dd, xc, 0, 1, 0, 0, run);
            } else {
                int ix0 = ox * sw + offx;
                int tlo = ix0 >= 0 ? 0 : (-ix0 + sw - 1) / sw;
                int thi = ix0 >= p->w ? 0 : (p->w - ix0 + sw - 1) / sw;
                if (tlo > run) tlo = run;
                if (thi > run) thi = run;
                if (thi < tlo) thi = tlo;
                copy_run(dd, xc + (size_t)iy * p->w, ix0, sw, tlo, thi, run);
            }
            j += run;
            ox += run;
            if (ox == p->ow) {
                ox = 0;
                oy++;
            }
        }
        /* zero the padding columns of the last panel */
        int tail = nc - (npanel - 1) * nr;
        if (tail < nr) copy_run(drow + (npanel - 1) * pstride + tail, xc, 0, 1, 0, 0, nr - tail);
    }
}
