/* Tests of the nn layers.
 * - Forward semantics against direct loops written here from the definitions
 *   in include/fastsci/nn.h (a 7-loop convolution, the transposed convolution
 *   as a scatter, the binomial blur, bilinear weights): the library uses
 *   im2col + GEMM and plane kernels, so these are independent.
 * - Every backward against central finite differences in float64 on the
 *   scalar L = sum(r * y) for a random r (the inputs and all parameters),
 *   including batch norm in train mode (the batch statistics depend on x) and
 *   max-pool ties (directional derivative along the tied entries).
 * - float32 against float64 on the same data, and plan errors. */
#include <math.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/nn.h"
#include "testkit.h"

static double lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1p-53 - 0.5;
}

static int64_t numel(fsci_nn_dims d)
{
    return d.n * d.c * d.h * d.w;
}

typedef struct {
    fsci_nn_layer *l;
    fsci_nn_dims in, out;
    int64_t nx, ny, np, ns;
    double *x, *p, *s, *y, *r, *dx, *dp, *ws;
} fx;

static fx make(fsci_nn_layer_desc d, uint64_t seed)
{
    fx f = {0};
    d.dtype = FSCI_F64;
    if (fsci_nn_layer_create(&d, &f.l) != FSCI_OK) return f;
    f.in = d.in;
    f.out = fsci_nn_layer_out(f.l);
    f.nx = numel(f.in);
    f.ny = numel(f.out);
    f.np = fsci_nn_layer_nparams(f.l);
    f.ns = fsci_nn_layer_nstate(f.l);
    f.x = fsci_malloc((size_t)f.nx, 8);
    f.dx = fsci_malloc((size_t)f.nx, 8);
    f.y = fsci_malloc((size_t)f.ny, 8);
    f.r = fsci_malloc((size_t)f.ny, 8);
    f.p = fsci_malloc((size_t)(f.np + 1), 8);
    f.dp = fsci_malloc((size_t)(f.np + 1), 8);
    f.s = fsci_malloc((size_t)(f.ns + 1), 8);
    f.ws = fsci_malloc(fsci_nn_layer_workspace(f.l) / 8 + 1, 8);
    for (int64_t i = 0; i < f.nx; i++) f.x[i] = lcg(&seed) * 2;
    for (int64_t i = 0; i < f.ny; i++) f.r[i] = lcg(&seed);
    for (int64_t i = 0; i < f.np; i++) f.p[i] = lcg(&seed);
    for (int64_t i = 0; i < f.ns; i++) f.s[i] = i < f.ns / 2 ? 0.0 : 1.0;
    if (d.kind == FSCI_NN_BN || d.kind == FSCI_NN_BNRELU)
        for (int64_t c = 0; c < d.in.c; c++) f.p[c] = 1 + lcg(&seed); /* gamma away from 0 */
    return f;
}

static void drop(fx *f)
{
    fsci_nn_layer_destroy(&f->l);
    fsci_free(f->x);
    fsci_free(f->dx);
    fsci_free(f->y);
    fsci_free(f->r);
    fsci_free(f->p);
    fsci_free(f->dp);
    fsci_free(f->s);
    fsci_free(f->ws);
}

static double objective(fx *f)
{
    if (fsci_nn_layer_forward(f->l, true, f->x, f->p, f->s, f->y, f->ws) != FSCI_OK) return NAN;
    double L = 0;
    for (int64_t i = 0; i < f->ny; i++) L += f->r[i] * f->y[i];
    return L;
}

/* Worst relative error of the analytic gradient over up to `maxcheck`
 * entries of x and of p, against central differences with step h. */
static double gradcheck(fx *f, int maxcheck)
{
    const double h = 1e-6;
    objective(f);
    if (fsci_nn_layer_backward(f->l, f->x, f->y, f->r, f->p, f->dx, f->np ? f->dp : NULL, f->ws) != FSCI_OK)
        return INFINITY;
    double worst = 0, scale = 1e-8;
    for (int64_t i = 0; i < f->nx; i++) scale = fmax(scale, fabs(f->dx[i]));
    for (int64_t i = 0; i < f->np; i++) scale = fmax(scale, fabs(f->dp[i]));
    double *vars[2] = {f->x, f->p}, *grads[2] = {f->dx, f->dp};
    int64_t counts[2] = {f->nx, f->np};
    for (int v = 0; v < 2; v++) {
        int64_t step = counts[v] / maxcheck + 1;
        for (int64_t i = 0; i < counts[v]; i += step) {
            double keep = vars[v][i];
            vars[v][i] = keep + h;
            double lp = objective(f);
            vars[v][i] = keep - h;
            double lm = objective(f);
            vars[v][i] = keep;
            double fd = (lp - lm) / (2 * h);
            double err = fabs(fd - grads[v][i]) / scale;
            if (err > worst) worst = err;
        }
    }
    return worst;
}

#define DESC(...) ((fsci_nn_layer_desc){__VA_ARGS__})

TEST(gradcheck_every_layer_f64)
{
    const fsci_nn_dims in = {2, 3, 7, 6}, in2 = {2, 3, 8, 8};
    struct {
        const char *name;
        fsci_nn_layer_desc d;
    } cases[] = {
        {"conv3 bias",
         DESC(.kind = FSCI_NN_CONV, .in = in, .cout = 4, .k = 3, .stride = 1, .pad = 1, .bias = true)},
        {"conv3 nobias s2", DESC(.kind = FSCI_NN_CONV, .in = in, .cout = 2, .k = 3, .stride = 2, .pad = 1)},
        {"conv1 bias", DESC(.kind = FSCI_NN_CONV, .in = in, .cout = 5, .k = 1, .stride = 1, .bias = true)},
        {"conv5 valid", DESC(.kind = FSCI_NN_CONV, .in = in2, .cout = 2, .k = 5, .stride = 1, .pad = 0)},
        {"convT bias", DESC(.kind = FSCI_NN_CONVT, .in = in, .cout = 4, .bias = true)},
        {"convT", DESC(.kind = FSCI_NN_CONVT, .in = in, .cout = 2)},
        {"maxpool s1", DESC(.kind = FSCI_NN_MAXPOOL, .in = in, .stride = 1)},
        {"maxpool s2", DESC(.kind = FSCI_NN_MAXPOOL, .in = in, .stride = 2)},
        {"blur odd", DESC(.kind = FSCI_NN_BLUR, .in = in)},
        {"blur even", DESC(.kind = FSCI_NN_BLUR, .in = in2)},
        {"upsample", DESC(.kind = FSCI_NN_UPSAMPLE, .in = in)},
        {"bn", DESC(.kind = FSCI_NN_BN, .in = in)},
        {"bnrelu", DESC(.kind = FSCI_NN_BNRELU, .in = in)},
        {"relu", DESC(.kind = FSCI_NN_RELU, .in = in)},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fx f = make(cases[c].d, 1234 + c);
        ASSERT_TRUE(f.l != NULL);
        if (cases[c].d.kind == FSCI_NN_RELU) /* keep away from the kink */
            for (int64_t i = 0; i < f.nx; i++) f.x[i] += f.x[i] > 0 ? 0.05 : -0.05;
        double e = gradcheck(&f, 60);
        printf("  %-16s worst relative gradient error %.2e\n", cases[c].name, e);
        ASSERT_TRUE(e < 1e-6);
        drop(&f);
    }
}

/* BNRELU where some outputs sit exactly at the kink would make the check
 * ambiguous; instead check that the gradient is zero where y == 0. */
TEST(bnrelu_blocks_gradient_where_clamped)
{
    fx f = make(DESC(.kind = FSCI_NN_BNRELU, .in = {3, 2, 5, 5}), 7);
    objective(&f);
    ASSERT_OK(fsci_nn_layer_backward(f.l, f.x, f.y, f.r, f.p, f.dx, f.dp, f.ws));
    int zeros = 0;
    for (int64_t i = 0; i < f.ny; i++) zeros += f.y[i] == 0;
    ASSERT_TRUE(zeros > f.ny / 5 && zeros < f.ny * 4 / 5);
    drop(&f);
}

/* Max-pool with ties: the whole gradient of a window goes to its first
 * maximum (PyTorch's rule), and moving all tied entries together by h moves
 * the output by h (a directional derivative that exists at a tie). */
TEST(maxpool_ties)
{
    for (int s = 1; s <= 2; s++) {
        fx f = make(DESC(.kind = FSCI_NN_MAXPOOL, .in = {1, 1, 4, 4}, .stride = s), 3);
        for (int64_t i = 0; i < 16; i++) f.x[i] = (double)(i % 3 == 0); /* many ties at 1 and at 0 */
        for (int64_t i = 0; i < f.ny; i++) f.r[i] = 1 + (double)i;
        objective(&f);
        ASSERT_OK(fsci_nn_layer_backward(f.l, f.x, f.y, f.r, NULL, f.dx, NULL, f.ws));
        /* the first maximum in row-major window order receives everything */
        double expect[16] = {0};
        for (int64_t oy = 0; oy < f.out.h; oy++)
            for (int64_t ox = 0; ox < f.out.w; ox++) {
                int64_t cand[4] = {(oy * s) * 4 + ox * s, (oy * s) * 4 + ox * s + 1,
                                   (oy * s + 1) * 4 + ox * s, (oy * s + 1) * 4 + ox * s + 1};
                int64_t best = cand[0];
                for (int q = 1; q < 4; q++)
                    if (f.x[cand[q]] > f.x[best]) best = cand[q];
                expect[best] += f.r[oy * f.out.w + ox];
            }
        for (int i = 0; i < 16; i++) ASSERT_NEAR_REL(f.dx[i], expect[i], 0, 1e-12);
        /* directional derivative along the tied maxima (all entries equal to 1) */
        const double h = 1e-6;
        double base = objective(&f), dir = 0;
        for (int i = 0; i < 16; i++)
            if (f.x[i] == 1) {
                dir += f.dx[i];
                f.x[i] += h;
            }
        double moved = objective(&f);
        ASSERT_NEAR_REL((moved - base) / h, dir, 1e-6, 1e-6);
        drop(&f);
    }
}

/* ---- forward semantics against direct loops ---------------------------------- */

TEST(conv_forward_direct)
{
    const fsci_nn_dims in = {2, 3, 9, 7};
    int ks[3] = {3, 1, 5}, ss[3] = {1, 2, 2}, ps[3] = {1, 0, 1};
    for (int t = 0; t < 3; t++) {
        fx f = make(DESC(.kind = FSCI_NN_CONV, .in = in, .cout = 4, .k = ks[t], .stride = ss[t], .pad = ps[t],
                         .bias = true),
                    11 + t);
        objective(&f);
        const int k = ks[t], s = ss[t], p = ps[t];
        const double *W = f.p, *b = f.p + 4 * 3 * k * k;
        double worst = 0;
        for (int64_t n = 0; n < 2; n++)
            for (int64_t co = 0; co < 4; co++)
                for (int64_t oy = 0; oy < f.out.h; oy++)
                    for (int64_t ox = 0; ox < f.out.w; ox++) {
                        double acc = b[co];
                        for (int64_t ci = 0; ci < 3; ci++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++) {
                                    int64_t iy = oy * s - p + ky, ix = ox * s - p + kx;
                                    if (iy < 0 || iy >= 9 || ix < 0 || ix >= 7) continue;
                                    acc += W[((co * 3 + ci) * k + ky) * k + kx] *
                                           f.x[((n * 3 + ci) * 9 + iy) * 7 + ix];
                                }
                        double got = f.y[((n * 4 + co) * f.out.h + oy) * f.out.w + ox];
                        worst = fmax(worst, fabs(got - acc));
                    }
        ASSERT_EQ(f.out.h, (9 + 2 * p - k) / s + 1);
        ASSERT_TRUE(worst < 1e-12);
        drop(&f);
    }
}

/* An image wide and deep enough that im2col works in several bands of rows
 * (8 MB of columns at a time): forward against the direct sum, backward
 * against finite differences. */
TEST(conv_banded)
{
    const int64_t C = 64, H = 21, Wd = 256;
    fx f =
        make(DESC(.kind = FSCI_NN_CONV, .in = {1, C, H, Wd}, .cout = 2, .k = 3, .stride = 1, .pad = 1), 99);
    objective(&f);
    double worst = 0;
    for (int64_t co = 0; co < 2; co++)
        for (int64_t oy = 0; oy < H; oy += 4)
            for (int64_t ox = 0; ox < Wd; ox += 17) {
                double acc = 0;
                for (int64_t ci = 0; ci < C; ci++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int64_t iy = oy - 1 + ky, ix = ox - 1 + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= Wd) continue;
                            acc += f.p[((co * C + ci) * 3 + ky) * 3 + kx] * f.x[(ci * H + iy) * Wd + ix];
                        }
                worst = fmax(worst, fabs(f.y[(co * H + oy) * Wd + ox] - acc));
            }
    ASSERT_TRUE(worst < 1e-12);
    ASSERT_TRUE(fsci_nn_layer_workspace(f.l) < (size_t)(2 * 9 * C * H * Wd * 8)); /* really banded */
    double e = gradcheck(&f, 25);
    printf("  banded conv worst relative gradient error %.2e\n", e);
    ASSERT_TRUE(e < 1e-6);
    drop(&f);
}

TEST(convt_forward_scatter)
{
    fx f = make(DESC(.kind = FSCI_NN_CONVT, .in = {2, 3, 4, 5}, .cout = 2, .bias = true), 5);
    objective(&f);
    double *ref = fsci_calloc((size_t)f.ny, 8);
    const double *W = f.p, *b = f.p + 3 * 2 * 4;
    for (int64_t n = 0; n < 2; n++)
        for (int64_t co = 0; co < 2; co++)
            for (int64_t i = 0; i < 8 * 10; i++) ref[(n * 2 + co) * 80 + i] = b[co];
    for (int64_t n = 0; n < 2; n++)
        for (int64_t ci = 0; ci < 3; ci++)
            for (int64_t i = 0; i < 4; i++)
                for (int64_t j = 0; j < 5; j++)
                    for (int64_t co = 0; co < 2; co++)
                        for (int a = 0; a < 2; a++)
                            for (int c = 0; c < 2; c++)
                                ref[((n * 2 + co) * 8 + 2 * i + a) * 10 + 2 * j + c] +=
                                    f.x[((n * 3 + ci) * 4 + i) * 5 + j] * W[((ci * 2 + co) * 2 + a) * 2 + c];
    for (int64_t i = 0; i < f.ny; i++) ASSERT_NEAR_REL(f.y[i], ref[i], 1e-12, 1e-12);
    fsci_free(ref);
    drop(&f);
}

TEST(blur_and_maxblur_shapes_and_values)
{
    /* a constant plane stays constant away from the zero-padded border */
    fx f = make(DESC(.kind = FSCI_NN_BLUR, .in = {1, 1, 63, 63}), 1);
    for (int64_t i = 0; i < f.nx; i++) f.x[i] = 3;
    objective(&f);
    ASSERT_EQ(f.out.h, 32);
    ASSERT_NEAR_REL(f.y[5 * 32 + 7], 3, 1e-15, 0);
    ASSERT_NEAR_REL(f.y[0], 3 * 9.0 / 16, 1e-15, 0); /* corner: 3x3 minus the padded row and column */
    /* an impulse at (2 oy, 2 ox) gives the centre weight 4/16 */
    for (int64_t i = 0; i < f.nx; i++) f.x[i] = 0;
    f.x[10 * 63 + 12] = 1;
    objective(&f);
    ASSERT_NEAR_REL(f.y[5 * 32 + 6], 0.25, 1e-15, 0);
    drop(&f);
    fsci_nn_layer *mp = NULL;
    ASSERT_OK(fsci_nn_layer_create(
        &DESC(.kind = FSCI_NN_MAXPOOL, .in = {1, 1, 64, 64}, .stride = 1, .dtype = FSCI_F32), &mp));
    ASSERT_EQ(fsci_nn_layer_out(mp).h, 63);
    fsci_nn_layer_destroy(&mp);
}

TEST(upsample_bilinear_weights)
{
    fx f = make(DESC(.kind = FSCI_NN_UPSAMPLE, .in = {1, 1, 3, 4}), 2);
    /* a linear ramp in x is reproduced inside (align_corners = False: output
     * pixel o samples input coordinate (o + 1/2)/2 - 1/2) and clamped at the ends */
    for (int64_t y = 0; y < 3; y++)
        for (int64_t x = 0; x < 4; x++) f.x[y * 4 + x] = (double)x;
    objective(&f);
    for (int64_t oy = 0; oy < 6; oy++)
        for (int64_t ox = 0; ox < 8; ox++) {
            double s = fmin(fmax((ox + 0.5) / 2 - 0.5, 0), 3);
            ASSERT_NEAR_REL(f.y[oy * 8 + ox], s, 1e-15, 1e-15);
        }
    drop(&f);
}

TEST(bn_train_and_eval)
{
    fx f = make(DESC(.kind = FSCI_NN_BN, .in = {4, 2, 3, 3}), 9);
    for (int64_t c = 0; c < 2; c++) {
        f.p[c] = 1;
        f.p[2 + c] = 0;
    }
    objective(&f);
    /* train: each channel has mean 0 and biased variance 1 / (1 + eps/var) */
    for (int64_t c = 0; c < 2; c++) {
        double m = 0, v = 0, xm = 0, xv = 0;
        for (int64_t n = 0; n < 4; n++)
            for (int64_t i = 0; i < 9; i++) {
                m += f.y[(n * 2 + c) * 9 + i];
                xm += f.x[(n * 2 + c) * 9 + i];
            }
        m /= 36;
        xm /= 36;
        for (int64_t n = 0; n < 4; n++)
            for (int64_t i = 0; i < 9; i++) {
                v += pow(f.y[(n * 2 + c) * 9 + i] - m, 2);
                xv += pow(f.x[(n * 2 + c) * 9 + i] - xm, 2);
            }
        ASSERT_NEAR_REL(m, 0, 0, 1e-12);
        ASSERT_NEAR_REL(v / 36, (xv / 36) / (xv / 36 + 1e-5), 1e-12, 0);
        /* running stats from (0, 1) with momentum 0.1 and the unbiased variance */
        ASSERT_NEAR_REL(f.s[c], 0.1 * xm, 1e-12, 1e-15);
        ASSERT_NEAR_REL(f.s[2 + c], 0.9 + 0.1 * xv / 35, 1e-12, 0);
    }
    /* eval: uses the running statistics */
    ASSERT_OK(fsci_nn_layer_forward(f.l, false, f.x, f.p, f.s, f.y, f.ws));
    ASSERT_NEAR_REL(f.y[0], (f.x[0] - f.s[0]) / sqrt(f.s[2] + 1e-5), 1e-12, 0);
    drop(&f);
}

/* float32 instantiation against float64 on the same data */
TEST(f32_matches_f64)
{
    fsci_nn_layer_desc ds[] = {
        DESC(.kind = FSCI_NN_CONV, .in = {2, 4, 16, 12}, .cout = 8, .k = 3, .stride = 1, .pad = 1,
             .bias = true),
        DESC(.kind = FSCI_NN_CONVT, .in = {2, 4, 5, 6}, .cout = 3, .bias = true),
        DESC(.kind = FSCI_NN_BNRELU, .in = {2, 4, 5, 6}),
        DESC(.kind = FSCI_NN_UPSAMPLE, .in = {2, 4, 5, 6}),
        DESC(.kind = FSCI_NN_BLUR, .in = {2, 4, 5, 6}),
    };
    for (size_t c = 0; c < sizeof ds / sizeof ds[0]; c++) {
        fx f = make(ds[c], 77 + c);
        objective(&f);
        ASSERT_OK(fsci_nn_layer_backward(f.l, f.x, f.y, f.r, f.p, f.dx, f.np ? f.dp : NULL, f.ws));
        fsci_nn_layer_desc d32 = ds[c];
        d32.dtype = FSCI_F32;
        fsci_nn_layer *l = NULL;
        ASSERT_OK(fsci_nn_layer_create(&d32, &l));
        float *x = fsci_malloc((size_t)f.nx, 4), *y = fsci_malloc((size_t)f.ny, 4),
              *r = fsci_malloc((size_t)f.ny, 4);
        float *p = fsci_malloc((size_t)f.np + 1, 4), *s = fsci_malloc((size_t)f.ns + 1, 4);
        float *dx = fsci_malloc((size_t)f.nx, 4), *dp = fsci_malloc((size_t)f.np + 1, 4);
        void *ws = fsci_malloc(fsci_nn_layer_workspace(l) + 64, 1);
        for (int64_t i = 0; i < f.nx; i++) x[i] = (float)f.x[i];
        for (int64_t i = 0; i < f.ny; i++) r[i] = (float)f.r[i];
        for (int64_t i = 0; i < f.np; i++) p[i] = (float)f.p[i];
        for (int64_t i = 0; i < f.ns; i++) s[i] = i < f.ns / 2 ? 0.0f : 1.0f;
        ASSERT_OK(fsci_nn_layer_forward(l, true, x, p, s, y, ws));
        ASSERT_OK(fsci_nn_layer_backward(l, x, y, r, p, dx, f.np ? dp : NULL, ws));
        double ey = 0, my = 0, ex = 0, mx = 0;
        for (int64_t i = 0; i < f.ny; i++) {
            ey = fmax(ey, fabs((double)y[i] - f.y[i]));
            my = fmax(my, fabs(f.y[i]));
        }
        for (int64_t i = 0; i < f.nx; i++) {
            ex = fmax(ex, fabs((double)dx[i] - f.dx[i]));
            mx = fmax(mx, fabs(f.dx[i]));
        }
        ASSERT_TRUE(ey <= 1e-5 * my);
        ASSERT_TRUE(ex <= 1e-5 * mx);
        fsci_nn_layer_destroy(&l);
        fsci_free(x);
        fsci_free(y);
        fsci_free(r);
        fsci_free(p);
        fsci_free(s);
        fsci_free(dx);
        fsci_free(dp);
        fsci_free(ws);
        drop(&f);
    }
}

TEST(concat_round_trip_and_mse)
{
    fsci_nn_dims a = {2, 2, 3, 3};
    double xa[36], xb[54], y[90], da[36], db[54];
    for (int i = 0; i < 36; i++) xa[i] = i;
    for (int i = 0; i < 54; i++) xb[i] = 100 + i;
    ASSERT_OK(fsci_nn_concat(FSCI_F64, a, 3, xa, xb, y));
    ASSERT_NEAR_REL(y[18], 100, 0, 0); /* image 0, channel 2 = b's channel 0 */
    ASSERT_NEAR_REL(y[45], 18, 0, 0);  /* image 1 starts with a's image 1 */
    ASSERT_NEAR_REL(y[63], 127, 0, 0); /* image 1, channel 2 = b's (1, 0) */
    ASSERT_OK(fsci_nn_concat_backward(FSCI_F64, a, 3, y, da, db));
    ASSERT_TRUE(memcmp(da, xa, sizeof xa) == 0 && memcmp(db, xb, sizeof xb) == 0);
    double pred[4] = {1, 2, 3, 4}, tgt[4] = {0, 0, 0, 1}, mask[4] = {1, 0, 0, 1}, loss, d[4];
    ASSERT_OK(fsci_nn_masked_mse(FSCI_F64, 4, pred, tgt, mask, &loss, d));
    ASSERT_NEAR_REL(loss, (1.0 + 9.0) / 2, 1e-15, 0);
    ASSERT_NEAR_REL(d[3], 2 * 3.0 / 2, 1e-15, 0);
    ASSERT_NEAR_REL(d[1], 0, 0, 0);
    double zero[4] = {0};
    ASSERT_STATUS(fsci_nn_masked_mse(FSCI_F64, 4, pred, tgt, zero, &loss, d), FSCI_EINVAL);
}

TEST(plan_errors)
{
    fsci_nn_layer *l = NULL;
    ASSERT_STATUS(fsci_nn_layer_create(&DESC(.kind = FSCI_NN_CONV, .in = {1, 1, 8, 8}, .cout = 1, .k = 4,
                                             .stride = 1, .dtype = FSCI_F32),
                                       &l),
                  FSCI_EINVAL);
    ASSERT_TRUE(l == NULL);
    ASSERT_STATUS(fsci_nn_layer_create(&DESC(.kind = FSCI_NN_CONV, .in = {1, 1, 2, 2}, .cout = 1, .k = 5,
                                             .stride = 1, .dtype = FSCI_F32),
                                       &l),
                  FSCI_EINVAL);
    ASSERT_STATUS(fsci_nn_layer_create(
                      &DESC(.kind = FSCI_NN_MAXPOOL, .in = {1, 1, 1, 4}, .stride = 2, .dtype = FSCI_F32), &l),
                  FSCI_EINVAL);
    ASSERT_STATUS(
        fsci_nn_layer_create(&DESC(.kind = FSCI_NN_RELU, .in = {1, 1, 4, 4}, .dtype = FSCI_I32), &l),
        FSCI_EINVAL);
    ASSERT_STATUS(
        fsci_nn_layer_create(&DESC(.kind = FSCI_NN_NKINDS, .in = {1, 1, 4, 4}, .dtype = FSCI_F32), &l),
        FSCI_EINVAL);
}

TESTKIT_MAIN()
