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
                    T *restrict xr = xc + iy * w;
                    const T *restrict o = src + (oy - r0) * wo;
                    if (s == 1) { /* ix = ox + off over one contiguous range */
                        const int64_t off = kx - p;
                        const int64_t lo = off < 0 ? -off : 0, hi = w - off < wo ? w - off : wo;
                        for (int64_t ox = lo; ox < hi; ox++) xr[ox + off] += o[ox];
                    } else {
                        for (int64_t ox = 0; ox < wo; ox++) {
                            const int64_t ix = ox * s - p + kx;
                            if (ix >= 0 && ix < w) xr[ix] += o[ox];
                        }
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

/* Output rows [r0, r0 + nr) of one image: columns, GEMM, bias. */
static void NN_FN(conv_fwd_band)(const fsci_nn_layer *l, const T *x, const T *W, T *y, int64_t r0, int64_t nr,
                                 T *cols)
{
    const fsci_nn_layer_desc *d = &l->d;
    const int64_t cout = d->cout, ckk = d->in.c * d->k * d->k, hwo = l->out.h * l->out.w, wo = l->out.w;
    const int64_t nc = nr * wo;
    if (l->one) {
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cout, (int)nc, (int)ckk, 1, W, (int)ckk,
             x + r0 * wo, (int)hwo, 0, y + r0 * wo, (int)hwo);
    } else {
        NN_FN(im2col)(l, x, r0, nr, cols);
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cout, (int)nc, (int)ckk, 1, W, (int)ckk, cols,
             (int)nc, 0, y + r0 * wo, (int)hwo);
    }
    if (d->bias) {
        const T *bias = W + cout * ckk;
        for (int64_t co = 0; co < cout; co++) {
            T *yr = y + co * hwo + r0 * wo;
            for (int64_t i = 0; i < nc; i++) yr[i] += bias[co];
        }
    }
}

/* Tasks are (image, band of output rows): images of a batch, or the bands of
 * one large image (inference), run in parallel with single-threaded BLAS;
 * each output element is computed the same way whichever thread runs it. */
void NN_FN(conv_fwd)(const fsci_nn_layer *l, const void *xv, const void *pv, void *yv, void *ws)
{
    const fsci_nn_layer_desc *d = &l->d;
    const T *x = xv, *W = pv;
    T *y = yv;
    const int64_t xin = d->in.c * d->in.h * d->in.w, yo = d->cout * l->out.h * l->out.w;
    const int64_t nb = (l->out.h + l->band - 1) / l->band, tasks = d->in.n * nb;
    int nt = omp_get_max_threads() < l->nthr ? omp_get_max_threads() : l->nthr;
    if (tasks < nt) nt = (int)tasks;
    const size_t per = l->ws_thread / sizeof(T);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t n = t / nb, r0 = (t % nb) * l->band;
        const int64_t nr = r0 + l->band <= l->out.h ? l->band : l->out.h - r0;
        NN_FN(conv_fwd_band)
        (l, x + n * xin, W, y + n * yo, r0, nr, (T *)ws + (size_t)(nt > 1 ? omp_get_thread_num() : 0) * per);
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
    for (int64_t n = 0; n < d->in.n; n++) NN_FN(conv_bwd_image)
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
    for (int64_t n = 0; n < d->in.n; n++) NN_FN(convt_fwd_image)
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
    for (int64_t n = 0; n < d->in.n; n++) NN_FN(convt_bwd_image)
    (l, x + n * xin, dy + n * yo, W, dx ? dx + n * xin : NULL, dW ? parts + n * nw : NULL,
     (T *)ws + (size_t)(nt > 1 ? omp_get_thread_num() : 0) * per);
    if (dW) NN_FN(reduce_dw)(l, parts, nw, dy, d->cout, 4 * d->in.h * d->in.w, dW, d->bias);
}

/* ---- pooling, blur, upsampling: one (n, c) plane per task -------------------- */

/* Max-pool 2x2. The window at (oy, ox) reads a = x(sy, sx), b = x(sy, sx + 1),
 * c = x(sy + 1, sx), d = x(sy + 1, sx + 1) (sy = s oy, sx = s ox); its code
 * q in 0..3 names the first maximum in that order (PyTorch's tie rule). The
 * loops are written over whole rows so that they vectorise. */
static inline int NN_FN(code4)(T a, T b, T c, T d)
{
    int q = 0;
    T m = a;
    q = b > m ? 1 : q;
    m = b > m ? b : m;
    q = c > m ? 2 : q;
    m = c > m ? c : m;
    q = d > m ? 3 : q;
    return q;
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
        for (int64_t oy = 0; oy < ho; oy++) {
            const T *r0 = xp + oy * s * w, *r1 = r0 + w;
            T *o = yp + oy * wo;
#pragma omp simd
            for (int64_t ox = 0; ox < wo; ox++) {
                const T a = r0[ox * s], b = r0[ox * s + 1], c = r1[ox * s], d = r1[ox * s + 1];
                const T m1 = b > a ? b : a, m2 = d > c ? d : c;
                o[ox] = m2 > m1 ? m2 : m1;
            }
        }
    }
}

/* dx(i, j) = sum of dy over the windows whose first maximum is (i, j): with
 * stride 1 the four windows (i, j), (i, j - 1), (i - 1, j), (i - 1, j - 1)
 * with codes 0, 1, 2, 3; with stride 2 the one window (i/2, j/2) with code
 * 2 (i & 1) + (j & 1). A gather, so no two writes collide. */
void NN_FN(maxpool_bwd)(const fsci_nn_layer *l, const void *xv, const void *dyv, void *dxv, void *ws)
{
    const T *x = xv, *dy = dyv;
    T *dx = dxv;
    const int64_t h = l->d.in.h, w = l->d.in.w, ho = l->out.h, wo = l->out.w, s = l->d.stride;
    const int64_t planes = l->d.in.n * l->d.in.c;
    const int nt = omp_get_max_threads() < l->nthr ? omp_get_max_threads() : l->nthr; /* ws has nthr slots */
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *xp = x + pl * h * w, *dp = dy + pl * ho * wo;
        T *gp = dx + pl * h * w;
        unsigned char *code = (unsigned char *)ws + (size_t)omp_get_thread_num() * (size_t)(ho * wo);
        for (int64_t oy = 0; oy < ho; oy++) {
            const T *r0 = xp + oy * s * w, *r1 = r0 + w;
#pragma omp simd
            for (int64_t ox = 0; ox < wo; ox++)
                code[oy * wo + ox] =
                    (unsigned char)NN_FN(code4)(r0[ox * s], r0[ox * s + 1], r1[ox * s], r1[ox * s + 1]);
        }
        for (int64_t i = 0; i < h; i++) {
            T *g = gp + i * w;
            if (s == 2) {
                const int64_t oy = i / 2;
                const int qa = 2 * (int)(i & 1);
                for (int64_t j = 0; j < w; j++) {
                    const int64_t ox = j / 2;
                    g[j] =
                        oy < ho && ox < wo && code[oy * wo + ox] == qa + (int)(j & 1) ? dp[oy * wo + ox] : 0;
                }
                continue;
            }
#pragma omp simd
            for (int64_t j = 0; j < w; j++) {
                T v = 0;
                if (i < ho && j < wo && code[i * wo + j] == 0) v += dp[i * wo + j];
                if (i < ho && j >= 1 && j - 1 < wo && code[i * wo + j - 1] == 1) v += dp[i * wo + j - 1];
                if (i >= 1 && i - 1 < ho && j < wo && code[(i - 1) * wo + j] == 2) v += dp[(i - 1) * wo + j];
                if (i >= 1 && i - 1 < ho && j >= 1 && j - 1 < wo && code[(i - 1) * wo + j - 1] == 3)
                    v += dp[(i - 1) * wo + j - 1];
                g[j] = v;
            }
        }
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

/* Bilinear x2, align_corners = False: output o samples the input at
 * (o + 1/2)/2 - 1/2, clamped at 0. For an exact factor 2 the weights are
 * fixed: out(0) = in(0), out(2n - 1) = in(n - 1), and inside
 * out(2j) = in(j - 1)/4 + 3 in(j)/4, out(2j + 1) = 3 in(j)/4 + in(j + 1)/4.
 * Separable: rows first into the workspace (h x 2w), then columns. */
static void NN_FN(up1)(const T *restrict in, int64_t n, int64_t stride_in, T *restrict out,
                       int64_t stride_out)
{
    const T q = (T)0.25, t = (T)0.75;
    out[0] = in[0];
    for (int64_t j = 1; j < n; j++) {
        out[(2 * j - 1) * stride_out] = t * in[(j - 1) * stride_in] + q * in[j * stride_in];
        out[(2 * j) * stride_out] = q * in[(j - 1) * stride_in] + t * in[j * stride_in];
    }
    out[(2 * n - 1) * stride_out] = in[(n - 1) * stride_in];
}

void NN_FN(upsample_fwd)(const fsci_nn_layer *l, const void *xv, void *yv, void *ws)
{
    const T *x = xv;
    T *y = yv;
    const int64_t h = l->d.in.h, w = l->d.in.w, wo = l->out.w;
    const int64_t planes = l->d.in.n * l->d.in.c;
    const int nt = omp_get_max_threads() < l->nthr ? omp_get_max_threads() : l->nthr; /* ws has nthr slots */
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *xp = x + pl * h * w;
        T *yp = y + pl * 2 * h * wo;
        T *tmp = (T *)ws + (size_t)omp_get_thread_num() * (size_t)(h * wo);
        for (int64_t i = 0; i < h; i++) NN_FN(up1)(xp + i * w, w, 1, tmp + i * wo, 1);
        const T q = (T)0.25, t = (T)0.75;
        memcpy(yp, tmp, (size_t)wo * sizeof(T));
        for (int64_t i = 1; i < h; i++) {
            const T *a = tmp + (i - 1) * wo, *b = tmp + i * wo;
            T *o1 = yp + (2 * i - 1) * wo, *o2 = yp + 2 * i * wo;
#pragma omp simd
            for (int64_t j = 0; j < wo; j++) {
                o1[j] = t * a[j] + q * b[j];
                o2[j] = q * a[j] + t * b[j];
            }
        }
        memcpy(yp + (2 * h - 1) * wo, tmp + (h - 1) * wo, (size_t)wo * sizeof(T));
    }
}

/* The adjoint: dx(j) = dy(2j)(3/4) + dy(2j + 1)(3/4) + dy(2j - 1)/4 + dy(2j + 2)/4
 * inside, with the end rows and columns taking their copies whole. */
static void NN_FN(down1)(const T *restrict g, int64_t n, int64_t sg, T *restrict out, int64_t so)
{
    const T q = (T)0.25, t = (T)0.75;
    for (int64_t j = 0; j < n; j++) {
        T v = 0;
        if (j == 0) v += g[0];
        if (j == n - 1) v += g[(2 * n - 1) * sg];
        if (j >= 1) v += q * g[(2 * j - 1) * sg] + t * g[(2 * j) * sg]; /* in(j) as the right neighbour */
        if (j + 1 < n) v += t * g[(2 * j + 1) * sg] + q * g[(2 * j + 2) * sg]; /* in(j) as the left one */
        out[j * so] = v;
    }
}

void NN_FN(upsample_bwd)(const fsci_nn_layer *l, const void *dyv, void *dxv, void *ws)
{
    const T *dy = dyv;
    T *dx = dxv;
    const int64_t h = l->d.in.h, w = l->d.in.w, wo = l->out.w;
    const int64_t planes = l->d.in.n * l->d.in.c;
    const int nt = omp_get_max_threads() < l->nthr ? omp_get_max_threads() : l->nthr; /* ws has nthr slots */
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t pl = 0; pl < planes; pl++) {
        const T *dp = dy + pl * 2 * h * wo;
        T *gp = dx + pl * h * w;
        T *tmp = (T *)ws + (size_t)omp_get_thread_num() * (size_t)(h * wo);
        for (int64_t j = 0; j < wo; j++) NN_FN(down1)(dp + j, h, wo, tmp + j, wo);
        for (int64_t i = 0; i < h; i++) NN_FN(down1)(tmp + i * wo, w, 1, gp + i * w, 1);
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
#pragma omp simd reduction(+ : s)
                for (int64_t i = 0; i < hw; i++) s += (double)r[i];
            }
            mean = s / (double)M;
            double v = 0;
            for (int64_t n = 0; n < N; n++) {
                const T *r = x + (n * C + c) * hw;
#pragma omp simd reduction(+ : v)
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
#pragma omp simd reduction(+ : sg, sgx)
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
