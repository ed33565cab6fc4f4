/* Parity of the n2v2 U-Net with PyTorch 1.13 (Debian python3-torch): for each
 * preset, bench/n2v2_torch.py writes a case (weights from torch's default
 * initialisation, a batch, a mask, torch's outputs, loss, gradients and the
 * weights after one Adam step); we load the weights through the raw importer
 * and check
 *   - eval-mode forward on 64 x 64 and 512 x 512: max |diff| <= 1e-4 max |y|;
 *   - train-mode forward + masked MSE: loss to 1e-5 relative;
 *   - backward: gradient to 1e-3 relative (L2 over each parameter block);
 *   - Adam applied to torch's gradients after our train forward: the weights
 *     after the step (BN running statistics included) to 1e-6.
 * Skipped (reported, exit 0) when python3-torch is missing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/npy.h"
#include "fastsci/n2v2.h"
#include "fastsci/nn.h"
#include "testkit.h"

static const char *env(const char *k, const char *def)
{
    const char *v = getenv(k);
    return v && v[0] ? v : def;
}

static bool have_torch(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch' 2>/dev/null", env("FSCI_PYTHON", "/usr/bin/python3"));
    return system(cmd) == 0;
}

static fsci_array *member(fsci_npz *z, const char *name)
{
    fsci_array *a = NULL;
    if (fsci_npz_read_as(z, name, FSCI_F32, &a) != FSCI_OK) return NULL;
    return a;
}

static float *F(fsci_array *a)
{
    return a->view.data;
}

static double max_abs(const float *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

static double max_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

static void check_preset(int *testkit_failed, const char *preset, int batch)
{
    char path[512], raw[512], cmd[2048];
    snprintf(path, sizeof path, "%s/parity_%s.npz", env("FSCI_TEST_TMP", "/tmp"), preset);
    snprintf(raw, sizeof raw, "%s/parity_%s.f32", env("FSCI_TEST_TMP", "/tmp"), preset);
    snprintf(cmd, sizeof cmd,
             "%s %s/bench/n2v2_torch.py parity --preset %s --seed 3 --batch %d --size 64 --out %s --raw %s",
             env("FSCI_PYTHON", "/usr/bin/python3"), env("FSCI_SOURCE_DIR", "."), preset, batch, path, raw);
    ASSERT_EQ(system(cmd), 0);
    fsci_npz *z = NULL;
    ASSERT_OK(fsci_npz_open(path, &z));
    fsci_array *w = member(z, "weights"), *x = member(z, "x"), *tg = member(z, "target"),
               *mk = member(z, "mask");
    fsci_array *ye = member(z, "y_eval"), *gr = member(z, "grads"), *wa = member(z, "weights_after");
    fsci_array *x5 = member(z, "x512"), *y5 = member(z, "y_eval_512"), *lo = NULL;
    ASSERT_OK(fsci_npz_read_as(z, "loss", FSCI_F64, &lo));
    ASSERT_TRUE(w && x && tg && mk && ye && gr && wa && x5 && y5);
    fsci_n2v2_arch a;
    ASSERT_OK(fsci_n2v2_preset(preset, &a));
    fsci_n2v2_net *net = NULL;
    ASSERT_OK(fsci_n2v2_net_create(&a, 1, &net));
    const int64_t nw = fsci_n2v2_net_nweights(net);
    ASSERT_EQ(nw, fsci_view_numel(&w->view)); /* the layouts agree entry for entry */
    /* the state_dict exported as raw float32 loads through the importer */
    ASSERT_OK(fsci_n2v2_net_import_raw(net, raw));
    ASSERT_TRUE(memcmp(fsci_n2v2_net_weights(net), F(w), (size_t)nw * 4) == 0);
    /* a file of the wrong size is refused, naming it */
    fsci_n2v2_net *other = NULL;
    fsci_n2v2_arch a2 = a;
    a2.width = a.width / 2;
    ASSERT_OK(fsci_n2v2_net_create(&a2, 1, &other));
    ASSERT_STATUS(fsci_n2v2_net_import_raw(other, raw), FSCI_EFORMAT);
    ASSERT_TRUE(strstr(fsci_error_message(), raw) != NULL);
    fsci_n2v2_net_destroy(&other);
    const int64_t n = batch * 64 * 64;
    float *y = fsci_malloc((size_t)(512 * 512), 4), *dy = fsci_malloc((size_t)n, 4),
          *g = fsci_malloc((size_t)nw, 4);

    /* eval forward, 64 and 512 */
    ASSERT_OK(fsci_n2v2_net_forward(net, false, F(x), batch, 64, 64, y));
    double e64 = max_diff(y, F(ye), n) / max_abs(F(ye), n);
    ASSERT_OK(fsci_n2v2_net_forward(net, false, F(x5), 1, 512, 512, y));
    double e512 = max_diff(y, F(y5), 512 * 512) / max_abs(F(y5), 512 * 512);

    /* one training step */
    double loss = 0;
    ASSERT_OK(fsci_n2v2_net_forward(net, true, F(x), batch, 64, 64, y));
    ASSERT_OK(fsci_nn_masked_mse(FSCI_F32, n, y, F(tg), F(mk), &loss, dy));
    ASSERT_OK(fsci_n2v2_net_backward(net, dy, g));
    const double ref_loss = ((double *)lo->view.data)[0];
    double s2 = 0, d2 = 0, worst_block = 0;
    const unsigned char *tr = fsci_n2v2_net_trainable(net);
    /* per block of consecutive trainable entries (a weight, a bias, a BN pair) */
    for (int64_t i = 0; i < nw;) {
        if (!tr[i]) {
            i++;
            continue;
        }
        int64_t j = i;
        double bs = 0, bd = 0;
        for (; j < nw && tr[j]; j++) {
            bs += (double)F(gr)[j] * (double)F(gr)[j];
            bd += ((double)g[j] - (double)F(gr)[j]) * ((double)g[j] - (double)F(gr)[j]);
        }
        s2 += bs;
        d2 += bd;
        if (bs > 1e-20) worst_block = fmax(worst_block, sqrt(bd / bs));
        i = j;
    }
    /* Adam on torch's gradients, after our train forward updated the running statistics */
    fsci_nn_adam *adam = NULL;
    double lr = 1e-3;
    fsci_array *lra = NULL;
    if (fsci_npz_read_as(z, "lr", FSCI_F64, &lra) == FSCI_OK) lr = ((double *)lra->view.data)[0];
    ASSERT_OK(fsci_nn_adam_create(nw, &(fsci_nn_adam_opts){.lr = lr}, &adam));
    fsci_nn_adam_step(adam, fsci_n2v2_net_weights(net), F(gr), tr);
    const double eadam = max_diff(fsci_n2v2_net_weights(net), F(wa), nw);
    printf("  %-8s forward 64: %.2e, 512: %.2e of max|y|; loss %.9g vs %.9g; gradient L2 %.2e (worst block "
           "%.2e); "
           "Adam step %.2e\n",
           preset, e64, e512, loss, ref_loss, sqrt(d2 / s2), worst_block, eadam);
    ASSERT_TRUE(e64 <= 1e-4);
    ASSERT_TRUE(e512 <= 1e-4);
    ASSERT_NEAR_REL(loss, ref_loss, 1e-5, 0);
    ASSERT_TRUE(sqrt(d2 / s2) <= 1e-3);
    ASSERT_TRUE(eadam <= 1e-6);
    fsci_nn_adam_destroy(&adam);
    fsci_n2v2_net_destroy(&net);
    fsci_array *all[] = {w, x, tg, mk, ye, gr, wa, x5, y5, lo, lra};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) fsci_array_destroy(&all[i]);
    fsci_npz_close(&z);
    fsci_free(y);
    fsci_free(dy);
    fsci_free(g);
}

TEST(parity_n2v2)
{
    if (!have_torch()) {
        printf("  skipped: python3-torch is not installed\n");
        return;
    }
    check_preset(testkit_failed, "n2v2", 4);
}

TEST(parity_n2v)
{
    if (!have_torch()) return;
    check_preset(testkit_failed, "n2v", 4);
}

TEST(parity_openhcs)
{
    if (!have_torch()) return;
    check_preset(testkit_failed, "openhcs", 2);
}

TESTKIT_MAIN()
