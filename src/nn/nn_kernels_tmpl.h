/* The nn kernels for one element type, included by nn_kernels.c with
 *   T      float or double
 *   SFX    f32 or f64 (name suffix)
 *   GEMM   cblas_sgemm or cblas_dgemm
 * Layouts and semantics: include/fastsci/nn.h. Convolutions are im2col + one
 * GEMM per image (the column matrix of one image stays in cache, the output
 * lands in NCHW directly, and the weight gradient accumulates image by image
 * in a fixed order); the rest are plain loops over (n, c) planes. */

#define NN_CAT2(a, b) a##_##b
#define NN_CAT(a, b) NN_CAT2(a, b)
#define NN_FN(name) NN_CAT(fsci__nn_##name, SFX)

/* Rows [r0, r0 + nr) of the output: cols (cin k k, nr wo) of image x
 * (cin, h, w); column row q = (c k + ky) k + kx. Bands keep the column
 * matrix within FSCI__NN_BAND_BYTES whatever the image size. */
static void NN_FN(im2col)(const fsci_nn_layer *l, const T *restrict x, int64_t r0, int64_t nr,
                          T *restrict cols)
{
    const fsci_nn_layer_desc *d = &l->d;
    const int64_t h = d->in.h, w = d->in.w, wo = l->out.w, k = d->k, s = d->stride, p = d->pad;
    const int64_t rows = d->in.c * k * k;
    for (int64_t q = 0; q < rows; q++) {
        const int64_t c = q / (k * k), ky = (q / k) % k, kx = q % k;
        const T *xc = x + c * h * w;
        T *out = cols + q * nr * wo;
        for (int64_t oy = r0; oy < r0 + nr; oy++) {
            const int64_t iy = oy * s - p + ky;
            T *o = out + (oy - r0) * wo;
            if (iy < 0 || iy >= h) {
                for (int64_t ox = 0; ox < wo; ox++) o[ox] = 0;
                continue;
            }
            const T *xr = xc + iy * w;
            if (s == 1) {
                const int64_t off = kx - p; /* ix = ox + off */
                const int64_t a = off < 0 ? -off : 0, b = w - off < wo ? w - off : wo;
                for (int64_t ox = 0; ox < a && ox < wo; ox++) o[ox] = 0;
                for (int64_t ox = a; ox < b; ox++) o[ox] = xr[ox + off];
                for (int64_t ox = b > a ? b : a; ox < wo; ox++) o[ox] = 0;
            } else {
                for (int64_t ox = 0; ox < wo; ox++) {
                    const int64_t ix = ox * s - p + kx;
                    o[ox] = ix >= 0 && ix < w ? xr[ix] : 0;
                }
            }
        }
    }
}

/* dx (cin, h, w) += col2im(dcols) for output rows [r0, r0 + nr): the
 * adjoint of im2col. */
static void NN_FN(col2im)(const fsci_nn_layer *l, const T *restrict dcols, int64_t r0, int64_t nr,
                          T *restrict dx)
{
    const fsci_nn_layer_desc *d = &l->d;
    const int64_t h = d->in.h, w = d->in.w, wo = l->out.w, k = d->k, s = d->stride, p = d->pad;
    for (int64_t c = 0; c < d->in.c; c++) {
        T *xc = dx + c * h * w;
        for (int64_t ky = 0; ky < k; ky++) {
            for (int64_t kx = 0; kx < k; kx++) {
                const T *src = dcols + ((c * k + ky) * k + kx) * nr * wo;
                for (int64_t oy = r0; oy < r0 + nr; oy++) {
                    const int64_t iy = oy * s - p + ky;
                    if (iy < 0 || iy >= h) continue;
                    T *xr = xc + iy * w;
                    const T *o = src + (oy - r0) * wo;
                    for (int64_t ox = 0; ox < wo; ox++) {
                        const int64_t ix = ox * s - p + kx;
                        if (ix >= 0 && ix < w) xr[ix] += o[ox];
                    }
                }
            }
        }
    }
}

/* Images run in parallel (single-threaded BLAS inside) when there are at
 * least two and the plan has per-thread workspace; otherwise one after the
 * other with threaded BLAS. Each image's arithmetic is the same either way,
 * so results do not depend on the path or the thread count. */
static int NN_FN(image_threads)(const fsci_nn_layer *l)
{
    const int t = omp_get_max_threads();
    const int n = (int)(l->d.in.n < l->nthr ? l->d.in.n : l->nthr);
    return n < t ? n : t;
}

static void NN_FN(conv_fwd_image)(const fsci_nn_layer *l, const T *x, const T *W, T *y, T *cols)
{
    const fsci_nn_layer_desc *d = &l->d;
    const int64_t cout = d->cout, ckk = d->in.c * d->k * d->k, hwo = l->out.h * l->out.w, wo = l->out.w;
    if (l->one) {
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cout, (int)hwo, (int)ckk, 1, W, (int)ckk, x,
             (int)hwo, 0, y, (int)hwo);
    } else {
        for (int64_t r0 = 0; r0 < l->out.h; r0 += l->band) {
            const int64_t nr = r0 + l->band <= l->out.h ? l->band : l->out.h - r0;
            NN_FN(im2col)(l, x, r0, nr, cols);
            GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cout, (int)(nr * wo), (int)ckk, 1, W,
                 (int)ckk, cols, (int)(nr * wo), 0, y + r0 * wo, (int)hwo);
        }
    }
    if (d->bias) {
        const T *bias = W + cout * ckk;
        for (int64_t co = 0; co < cout; co++)
            for (int64_t i = 0; i < hwo; i++) y[co * hwo + i] += bias[co];
    }
}

void NN_FN(conv_fwd)(const fsci_nn_layer *l, const void *xv, const void *pv, void *yv, void *ws)
{
    const fsci_nn_layer_desc *d = &l->d;
    const T *x = xv, *W = pv;
    T *y = yv;
    const int64_t xin = d->in.c * d->in.h * d->in.w, yo = d->cout * l->out.h * l->out.w;
    const int nt = NN_FN(image_threads)(l);
    const size_t per = l->ws_thread / sizeof(T);
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t n = 0; n < d->in.n; n++)
            NN_FN(conv_fwd_image)
            (l, x + n * xin, W, y + n * yo, (T *)ws + (size_t)omp_get_thread_num() * per);
    } else {
        for (int64_t n = 0; n < d->in.n; n++) NN_FN(conv_fwd_image)(l, x + n * xin, W, y + n * yo, ws);
    }
}

/* One image: dW (its own partial, overwritten) and dx. */
static void NN_FN(conv_bwd_image)(const fsci_nn_layer *l, const T *x, const T *dy, const T *W, T *dx, T *dW,
                                  T *cols)
{
    const fsci_nn_layer_desc *d = &l->d;
    const int64_t cout = d->cout, ckk = d->in.c * d->k * d->k, hwo = l->out.h * l->out.w, wo = l->out.w;
    if (l->one) {
        if (dW)
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cout, (int)ckk, (int)hwo, 1, dy, (int)hwo, x,
                 (int)hwo, 0, dW, (int)ckk);
        if (dx)
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)hwo, (int)cout, 1, W, (int)ckk, dy,
                 (int)hwo, 0, dx, (int)hwo);
        return;
    }
    T *dcols = cols + ckk * l->band * wo;
    if (dx)
        for (int64_t i = 0; i < d->in.c * d->in.h * d->in.w; i++) dx[i] = 0;
    for (int64_t r0 = 0; r0 < l->out.h; r0 += l->band) {
        const int64_t nr = r0 + l->band <= l->out.h ? l->band : l->out.h - r0, nc = nr * wo;
        if (dW) {
            NN_FN(im2col)(l, x, r0, nr, cols);
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cout, (int)ckk, (int)nc, 1, dy + r0 * wo,
                 (int)hwo, cols, (int)nc, r0 > 0 ? 1 : 0, dW, (int)ckk);
        }
        if (dx) {
            GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)nc, (int)cout, 1, W, (int)ckk,
                 dy + r0 * wo, (int)hwo, 0, dcols, (int)nc);
            NN_FN(col2im)(l, dcols, r0, nr, dx);
        }
    }
}

/* dW = the per-image partials summed in image order (fixed, whatever the
 * threads); the bias gradient is summed in double. */
static void NN_FN(reduce_dw)(const fsci_nn_layer *l, const T *parts, int64_t nw, const T *dy, int64_t cout,
                             int64_t plane, T *dW, bool bias)
{
    const int64_t N = l->d.in.n;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nw; i++) {
        T s = parts[i];
        for (int64_t n = 1; n < N; n++) s += parts[n * nw + i];
        dW[i] = s;
    }
    if (!bias) return;
#pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < cout; co++) {
        double s = 0;
        for (int64_t n = 0; n < N; n++) {
            const T *r = dy + (n * cout + co) * plane;
            for (int64_t i = 0; i < plane; i++) s += (double)r[i];
        }
        dW[nw + co] = (T)s;
    }
}

void NN_FN(conv_bwd)(const fsci_nn_layer *l, const void *xv, const void *dyv, const void *pv, void *dxv,
                     void *dpv, void *ws)
{
    const fsci_nn_layer_desc *d = &l->d;
    const T *x = xv, *dy = dyv, *W = pv;
    T *dx = dxv, *dW = dpv;
    const int64_t xin = d->in.c * d->in.h * d->in.w, yo = d->cout * l->out.h * l->out.w;
    const int64_t nw = d->cout * d->in.c * d->k * d->k;
    const int nt = NN_FN(image_threads)(l);
    const size_t per = l->ws_thread / sizeof(T);
    T *parts = (T *)ws + (size_t)l->nthr * per;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t n = 0; n < d->in.n; n++)
        NN_FN(conv_bwd_image)
        (l, x + n * xin, dy + n * yo, W, dx ? dx + n * xin : NULL, dW ? parts + n * nw : NULL,
         (T *)ws + (size_t)(nt > 1 ? omp_get_thread_num() : 0) * per);
    if (dW) NN_FN(reduce_dw)(l, parts, nw, dy, d->cout, l->out.h * l->out.w, dW, d->bias);
}

/* Transposed conv 2x2 stride 2: per image Z (cout 4, h w) = W^T X, W (cin, cout 4),
 * then Z row (co 4 + a 2 + b) goes to y (co, 2i + a, 2j + b). */
static void NN_FN(convt_fwd_image)(const fsci_nn_layer *l, const T *x, const T *W, T *y, T *Z)
{
    const fsci_nn_layer_desc *d = &l->d;
    const int64_t cin = d->in.c, cout = d->cout, h = d->in.h, w = d->in.w, hw = h * w, c4 = cout * 4;
    const T *bias = d->bias ? W + cin * c4 : NULL;
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (int)c4, (int)hw, (int)cin, 1, W, (int)c4, x, (int)hw, 0, Z,
         (int)hw);
    for (int64_t co = 0; co < cout; co++) {
        const T b = bias ? bias[co] : 0;
        T *yc = y + co * 4 * hw;
        for (int64_t a = 0; a < 2; a++)
            for (int64_t i = 0; i < h; i++) {
                const T *z0 = Z + (co * 4 + a * 2) * hw + i * w, *z1 = z0 + hw;
                T *yr = yc + (2 * i + a) * 2 * w;
                for (int64_t j = 0; j < w; j++) {
                    yr[2 * j] = z0[j] + b;
                    yr[2 * j + 1] = z1[j] + b;
                }
            }
    }
}

void NN_FN(convt_fwd)(const fsci_nn_layer *l, const void *xv, const void *pv, void *yv, void *ws)
{
    const fsci_nn_layer_desc *d = &l->d;
    const T *x = xv, *W = pv;
    T *y = yv;
    const int64_t xin = d->in.c * d->in.h * d->in.w, yo = d->cout * 4 * d->in.h * d->in.w;
    const int nt = NN_FN(image_threads)(l);
    const size_t per = l->ws_thread / sizeof(T);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t n = 0; n < d->in.n; n++)
        NN_FN(convt_fwd_image)
        (l, x + n * xin, W, y + n * yo, (T *)ws + (size_t)(nt > 1 ? omp_get_thread_num() : 0) * per);
}

static void NN_FN(convt_bwd_image)(const fsci_nn_layer *l, const T *x, const T *dy, const T *W, T *dx, T *dW,
                                   T *dZ)
{
    const fsci_nn_layer_desc *d = &l->d;
    const int64_t cin = d->in.c, cout = d->cout, h = d->in.h, w = d->in.w, hw = h * w, c4 = cout * 4;
    for (int64_t co = 0; co < cout; co++) {
        const T *dc = dy + co * 4 * hw;
        for (int64_t a = 0; a < 2; a++)
            for (int64_t i = 0; i < h; i++) {
                T *z0 = dZ + (co * 4 + a * 2) * hw + i * w, *z1 = z0 + hw;
                const T *r = dc + (2 * i + a) * 2 * w;
                for (int64_t j = 0; j < w; j++) {
                    z0[j] = r[2 * j];
                    z1[j] = r[2 * j + 1];
                }
            }
    }
    if (dx)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cin, (int)hw, (int)c4, 1, W, (int)c4, dZ,
             (int)hw, 0, dx, (int)hw);
    if (dW)
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cin, (int)c4, (int)hw, 1, x, (int)hw, dZ, (int)hw,
             0, dW, (int)c4);
}

void NN_FN(convt_bwd)(const fsci_nn_layer *l, const void *xv, const void *dyv, const void *pv, void *dxv,
                      void *dpv, void *ws)
{
    const fsci_nn_layer_desc *d = &l->d;
    const T *x = xv, *dy = dyv, *W = pv;
    T *dx = dxv, *dW = dpv;
    const int64_t xin = d->in.c * d->in.h * d->in.w, yo = d->cout * 4 * d->in.h * d->in.w;
    const int64_t nw = d->in.c * d->cout * 4;
    const int nt = NN_FN(image_threads)(l);
    const size_t per = l->ws_thread / sizeof(T);
    T *parts = (T *)ws + (size_t)l->nthr * per;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t n = 0; n < d->in.n; n++)
        NN_FN(convt_bwd_image)
        (l, x + n * xin, dy + n * yo, W, dx ? dx + n * xin : NULL, dW ? parts + n * nw : NULL,
         (T *)ws + (size_t)(nt > 1 ? omp_get_thread_num() : 0) * per);
    if (dW) NN_FN(reduce_dw)(l, parts, nw, dy, d->cout, 4 * d->in.h * d->in.w, dW, d->bias);
}

/* ---- pooling, blur, upsampling: one (n, c) plane per task -------------------- */

/* Index (in the plane) of the first maximum of the 2x2 window at (oy, ox). */
static inline int64_t NN_FN(argmax2)(const T *xp, int64_t w, int64_t iy, int64_t ix)
{
    int64_t best = iy * w + ix;
    T m = xp[best];
    const int64_t cand[3] = {iy * w + ix + 1, (iy + 1) * w + ix, (iy + 1) * w + ix + 1};
    for (int q = 0; q < 3; q++)
        if (xp[cand[q]] > m) {
            m = xp[cand[q]];
            best = cand[q];
        }
    return best;
}

void NN_FN(maxpool_fwd)(const fsci_nn_layer *l, const void *xv, void *yv)
{
    const T *x = xv;
    T *y = yv;
    const int64_t h = l->d.in.h, w = l->d.in.w, ho = l->out.h, wo = l->out.w, s = l->d.stride;
    const int64_t planes = l->d.in.n * l->d.in.c;
#pragma omp parallel for schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *xp = x + pl * h * w;
        T *yp = y + pl * ho * wo;
        for (int64_t oy = 0; oy < ho; oy++)
            for (int64_t ox = 0; ox < wo; ox++) yp[oy * wo + ox] = xp[NN_FN(argmax2)(xp, w, oy * s, ox * s)];
    }
}

void NN_FN(maxpool_bwd)(const fsci_nn_layer *l, const void *xv, const void *dyv, void *dxv)
{
    const T *x = xv, *dy = dyv;
    T *dx = dxv;
    const int64_t h = l->d.in.h, w = l->d.in.w, ho = l->out.h, wo = l->out.w, s = l->d.stride;
    const int64_t planes = l->d.in.n * l->d.in.c;
#pragma omp parallel for schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *xp = x + pl * h * w, *dp = dy + pl * ho * wo;
        T *gp = dx + pl * h * w;
        for (int64_t i = 0; i < h * w; i++) gp[i] = 0;
        for (int64_t oy = 0; oy < ho; oy++)
            for (int64_t ox = 0; ox < wo; ox++) gp[NN_FN(argmax2)(xp, w, oy * s, ox * s)] += dp[oy * wo + ox];
    }
}

/* [1,2,1]^T [1,2,1] / 16, stride 2, zero padding 1: y(oy, ox) = sum over
 * a, b in {-1, 0, 1} of k(a) k(b) / 16 x(2 oy + a, 2 ox + b). */
void NN_FN(blur_fwd)(const fsci_nn_layer *l, const void *xv, void *yv)
{
    const T *x = xv;
    T *y = yv;
    const int64_t h = l->d.in.h, w = l->d.in.w, ho = l->out.h, wo = l->out.w;
    const int64_t planes = l->d.in.n * l->d.in.c;
    static const T kw[3] = {(T)0.25, (T)0.5, (T)0.25};
#pragma omp parallel for schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *xp = x + pl * h * w;
        T *yp = y + pl * ho * wo;
        for (int64_t oy = 0; oy < ho; oy++)
            for (int64_t ox = 0; ox < wo; ox++) {
                T acc = 0;
                for (int64_t a = -1; a <= 1; a++) {
                    const int64_t iy = 2 * oy + a;
                    if (iy < 0 || iy >= h) continue;
                    T row = 0;
                    for (int64_t b = -1; b <= 1; b++) {
                        const int64_t ix = 2 * ox + b;
                        if (ix >= 0 && ix < w) row += kw[b + 1] * xp[iy * w + ix];
                    }
                    acc += kw[a + 1] * row;
                }
                yp[oy * wo + ox] = acc;
            }
    }
}

void NN_FN(blur_bwd)(const fsci_nn_layer *l, const void *dyv, void *dxv)
{
    const T *dy = dyv;
    T *dx = dxv;
    const int64_t h = l->d.in.h, w = l->d.in.w, ho = l->out.h, wo = l->out.w;
    const int64_t planes = l->d.in.n * l->d.in.c;
    static const T kw[3] = {(T)0.25, (T)0.5, (T)0.25};
#pragma omp parallel for schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *dp = dy + pl * ho * wo;
        T *gp = dx + pl * h * w;
        for (int64_t i = 0; i < h * w; i++) gp[i] = 0;
        for (int64_t oy = 0; oy < ho; oy++)
            for (int64_t ox = 0; ox < wo; ox++) {
                const T g = dp[oy * wo + ox];
                for (int64_t a = -1; a <= 1; a++) {
                    const int64_t iy = 2 * oy + a;
                    if (iy < 0 || iy >= h) continue;
                    for (int64_t b = -1; b <= 1; b++) {
                        const int64_t ix = 2 * ox + b;
                        if (ix >= 0 && ix < w) gp[iy * w + ix] += kw[a + 1] * kw[b + 1] * g;
                    }
                }
            }
    }
}

/* Bilinear x2, align_corners = False: source coordinate (o + 1/2)/2 - 1/2,
 * clamped at 0; neighbours i0 = floor, i1 = min(i0 + 1, n - 1). */
static inline void NN_FN(src_index)(int64_t o, int64_t n, int64_t *i0, int64_t *i1, T *lam)
{
    T s = ((T)o + (T)0.5) * (T)0.5 - (T)0.5;
    if (s < 0) s = 0;
    int64_t i = (int64_t)s;
    *i0 = i;
    *i1 = i + 1 < n ? i + 1 : n - 1;
    *lam = s - (T)i;
}

void NN_FN(upsample_fwd)(const fsci_nn_layer *l, const void *xv, void *yv)
{
    const T *x = xv;
    T *y = yv;
    const int64_t h = l->d.in.h, w = l->d.in.w, ho = l->out.h, wo = l->out.w;
    const int64_t planes = l->d.in.n * l->d.in.c;
#pragma omp parallel for schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *xp = x + pl * h * w;
        T *yp = y + pl * ho * wo;
        for (int64_t oy = 0; oy < ho; oy++) {
            int64_t y0, y1;
            T ly;
            NN_FN(src_index)(oy, h, &y0, &y1, &ly);
            const T *r0 = xp + y0 * w, *r1 = xp + y1 * w;
            for (int64_t ox = 0; ox < wo; ox++) {
                int64_t x0, x1;
                T lx;
                NN_FN(src_index)(ox, w, &x0, &x1, &lx);
                yp[oy * wo + ox] =
                    (1 - ly) * ((1 - lx) * r0[x0] + lx * r0[x1]) + ly * ((1 - lx) * r1[x0] + lx * r1[x1]);
            }
        }
    }
}

void NN_FN(upsample_bwd)(const fsci_nn_layer *l, const void *dyv, void *dxv)
{
    const T *dy = dyv;
    T *dx = dxv;
    const int64_t h = l->d.in.h, w = l->d.in.w, ho = l->out.h, wo = l->out.w;
    const int64_t planes = l->d.in.n * l->d.in.c;
#pragma omp parallel for schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *dp = dy + pl * ho * wo;
        T *gp = dx + pl * h * w;
        for (int64_t i = 0; i < h * w; i++) gp[i] = 0;
        for (int64_t oy = 0; oy < ho; oy++) {
            int64_t y0, y1;
            T ly;
            NN_FN(src_index)(oy, h, &y0, &y1, &ly);
            for (int64_t ox = 0; ox < wo; ox++) {
                int64_t x0, x1;
                T lx;
                NN_FN(src_index)(ox, w, &x0, &x1, &lx);
                const T g = dp[oy * wo + ox];
                gp[y0 * w + x0] += (1 - ly) * (1 - lx) * g;
                gp[y0 * w + x1] += (1 - ly) * lx * g;
                gp[y1 * w + x0] += ly * (1 - lx) * g;
                gp[y1 * w + x1] += ly * lx * g;
            }
        }
    }
}

/* ---- batch norm (optionally fused with ReLU): one channel per task --------- */

void NN_FN(bn_fwd)(fsci_nn_layer *l, bool train, bool relu, const void *xv, const void *pv, void *sv,
                   void *yv)
{
    const fsci_nn_layer_desc *d = &l->d;
    const T *x = xv, *p = pv;
    T *state = sv, *y = yv;
    const int64_t N = d->in.n, C = d->in.c, hw = d->in.h * d->in.w, M = N * hw;
    const double eps = d->eps, mom = d->momentum;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double mean, invstd;
        if (train) {
            double s = 0;
            for (int64_t n = 0; n < N; n++) {
                const T *r = x + (n * C + c) * hw;
                for (int64_t i = 0; i < hw; i++) s += (double)r[i];
            }
            mean = s / (double)M;
            double v = 0;
            for (int64_t n = 0; n < N; n++) {
                const T *r = x + (n * C + c) * hw;
                for (int64_t i = 0; i < hw; i++) {
                    const double e = (double)r[i] - mean;
                    v += e * e;
                }
            }
            const double var = v / (double)M;
            invstd = 1.0 / sqrt(var + eps);
            l->mean[c] = mean;
            l->invstd[c] = invstd;
            const double unbiased = M > 1 ? v / (double)(M - 1) : var;
            state[c] = (T)((1 - mom) * (double)state[c] + mom * mean);
            state[C + c] = (T)((1 - mom) * (double)state[C + c] + mom * unbiased);
        } else {
            mean = (double)state[c];
            invstd = 1.0 / sqrt((double)state[C + c] + eps);
        }
        const T a = (T)((double)p[c] * invstd), b = (T)((double)p[C + c] - (double)p[c] * invstd * mean);
        for (int64_t n = 0; n < N; n++) {
            const T *r = x + (n * C + c) * hw;
            T *o = y + (n * C + c) * hw;
            if (relu) {
                for (int64_t i = 0; i < hw; i++) {
                    const T v = a * r[i] + b;
                    o[i] = v > 0 ? v : 0;
                }
            } else {
                for (int64_t i = 0; i < hw; i++) o[i] = a * r[i] + b;
            }
        }
    }
}

void NN_FN(bn_bwd)(const fsci_nn_layer *l, bool relu, const void *xv, const void *yv, const void *dyv,
                   const void *pv, void *dxv, void *dpv)
{
    const fsci_nn_layer_desc *d = &l->d;
    const T *x = xv, *y = yv, *dy = dyv, *p = pv;
    T *dx = dxv, *dp = dpv;
    const int64_t N = d->in.n, C = d->in.c, hw = d->in.h * d->in.w, M = N * hw;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < C; c++) {
        const double mean = l->mean[c], invstd = l->invstd[c];
        double sg = 0, sgx = 0;
        for (int64_t n = 0; n < N; n++) {
            const size_t o = (size_t)((n * C + c) * hw);
            for (int64_t i = 0; i < hw; i++) {
                const double g = relu && !(y[o + i] > 0) ? 0.0 : (double)dy[o + i];
                sg += g;
                sgx += g * ((double)x[o + i] - mean) * invstd;
            }
        }
        if (dp) {
            dp[c] = (T)sgx;
            dp[C + c] = (T)sg;
        }
        if (!dx) continue;
        const double k = (double)p[c] * invstd;
        const T mg = (T)(sg / (double)M), mgx = (T)(sgx / (double)M);
        const T kk = (T)k, m = (T)mean, is = (T)invstd;
        for (int64_t n = 0; n < N; n++) {
            const size_t o = (size_t)((n * C + c) * hw);
            for (int64_t i = 0; i < hw; i++) {
                const T g = relu && !(y[o + i] > 0) ? 0 : dy[o + i];
                dx[o + i] = kk * (g - mg - (x[o + i] - m) * is * mgx);
            }
        }
    }
}

void NN_FN(relu_fwd)(int64_t n, const void *xv, void *yv)
{
    const T *x = xv;
    T *y = yv;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

void NN_FN(relu_bwd)(int64_t n, const void *yv, const void *dyv, void *dxv)
{
    const T *y = yv, *dy = dyv;
    T *dx = dxv;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}

int NN_FN(mse)(int64_t n, const void *pv, const void *tv, const void *mv, double *loss, void *dv)
{
    const T *pred = pv, *tgt = tv, *mask = mv;
    T *dpred = dv;
    double s = 0, cnt = 0;
    for (int64_t i = 0; i < n; i++) {
        if (mask[i] != 0) {
            const double e = (double)pred[i] - (double)tgt[i];
            s += (double)mask[i] * e * e;
            cnt += (double)mask[i];
        }
    }
    FSCI_CHECK(cnt > 0, FSCI_EINVAL, "masked MSE: the mask has no element set (n = %lld)", (long long)n);
    *loss = s / cnt;
    if (dpred) {
        const double k = 2.0 / cnt;
        for (int64_t i = 0; i < n; i++)
            dpred[i] = (T)(k * (double)mask[i] * ((double)pred[i] - (double)tgt[i]));
    }
    return FSCI_OK;
}

#undef NN_FN
#undef NN_CAT
#undef NN_CAT2
