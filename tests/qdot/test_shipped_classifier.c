/* The shipped classifier weights (data/qdot_classifier.fsqc, written by
 * `fastsci qdot train-classifier` with its defaults) classify a fresh simulated
 * set, never seen in training, with at least 95 % accuracy (measured 97.6 % on
 * 3000 patches; doc/qdot_classifier.md), every class above 90 %. */
#include <stdio.h>
#include <stdlib.h>

#include "fastsci/core/alloc.h"
#include "qdot/classifier.h"
#include "testkit.h"

TEST(shipped_weights_classify_a_fresh_set)
{
    const char *src = getenv("FSCI_SOURCE_DIR");
    ASSERT_TRUE(src != NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s/data/qdot_classifier.fsqc", src);
    fsci__qdot_cls *c = NULL;
    ASSERT_OK(fsci__qdot_cls_load(path, &c));
    ASSERT_EQ(fsci__qdot_cls_members(c), 5);
    enum { N = 600 };
    float *x = fsci_malloc((size_t)N * FSCI__QDOT_CLS_NPIX, sizeof *x);
    int32_t label[N], pred[N];
    ASSERT_TRUE(x != NULL);
    ASSERT_OK(fsci__qdot_cls_dataset(999, N, x, label)); /* training used seed 7 */
    ASSERT_OK(fsci__qdot_cls_predict(c, x, N, NULL, pred, NULL, NULL));
    int ok = 0, per[3] = {0, 0, 0}, tot[3] = {0, 0, 0};
    for (int i = 0; i < N; i++) {
        ok += pred[i] == label[i];
        per[label[i]] += pred[i] == label[i];
        tot[label[i]]++;
    }
    printf("  accuracy %.3f (double %.3f, single %.3f, misc %.3f)\n", (double)ok / N, (double)per[0] / tot[0],
           (double)per[1] / tot[1], (double)per[2] / tot[2]);
    ASSERT_TRUE(ok >= 0.95 * N);
    for (int k = 0; k < 3; k++) ASSERT_TRUE(per[k] >= 0.9 * tot[k]);
    fsci_free(x);
    fsci__qdot_cls_destroy(&c);
}

TESTKIT_MAIN()
