#include "fastsci/core/alloc.h"
#include "fastsci/core/array.h"
#include "testkit.h"

TEST(dtype_sizes_and_names)
{
    ASSERT_EQ(fsci_dtype_size(FSCI_F32), 4);
    ASSERT_EQ(fsci_dtype_size(FSCI_C128), 16);
    ASSERT_EQ(fsci_dtype_size(FSCI_U16), 2);
    ASSERT_EQ(fsci_dtype_size((fsci_dtype)99), 0);
    for (int t = 0; t < FSCI_NDTYPES; t++) {
        fsci_dtype back;
        ASSERT_OK(fsci_dtype_from_name(fsci_dtype_name((fsci_dtype)t), &back));
        ASSERT_EQ(back, t);
    }
    fsci_dtype d;
    ASSERT_STATUS(fsci_dtype_from_name("float16", &d), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "float16") != NULL);
}

TEST(c_and_fortran_strides)
{
    int64_t shape[3] = {2, 3, 5};
    fsci_view c, f;
    ASSERT_OK(fsci_view_init(&c, NULL, FSCI_F64, 3, shape, false));
    ASSERT_EQ(c.strides[0], 120);
    ASSERT_EQ(c.strides[1], 40);
    ASSERT_EQ(c.strides[2], 8);
    ASSERT_OK(fsci_view_init(&f, NULL, FSCI_F64, 3, shape, true));
    ASSERT_EQ(f.strides[0], 8);
    ASSERT_EQ(f.strides[1], 16);
    ASSERT_EQ(f.strides[2], 48);
    ASSERT_TRUE(fsci_view_is_c_contiguous(&c) && !fsci_view_is_f_contiguous(&c));
    ASSERT_TRUE(fsci_view_is_f_contiguous(&f) && !fsci_view_is_c_contiguous(&f));
    ASSERT_EQ(fsci_view_numel(&c), 30);
    ASSERT_EQ(fsci_view_nbytes(&f), 240);
}

TEST(bad_views_are_rejected)
{
    fsci_view v;
    int64_t neg[2] = {3, -1};
    ASSERT_STATUS(fsci_view_init(&v, NULL, FSCI_F32, 2, neg, false), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "-1") != NULL);
    int64_t s[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    ASSERT_STATUS(fsci_view_init(&v, NULL, FSCI_F32, 9, s, false), FSCI_EINVAL);
    int64_t huge[2] = {INT64_MAX / 2, 4};
    ASSERT_STATUS(fsci_view_init(&v, NULL, FSCI_F32, 2, huge, false), FSCI_ENOMEM);
    int64_t empty[3] = {0, INT64_C(1) << 62, 16}; /* numpy accepts this: no bytes */
    ASSERT_OK(fsci_view_init(&v, NULL, FSCI_F32, 3, empty, false));
    ASSERT_EQ(fsci_view_numel(&v), 0);
}

TEST(strided_copy_transposes)
{
    int64_t shape[2] = {3, 4};
    fsci_array *a = NULL, *b = NULL;
    ASSERT_OK(fsci_array_create(FSCI_I32, 2, shape, false, &a));
    ASSERT_OK(fsci_array_create(FSCI_I32, 2, shape, true, &b));
    int32_t *pa = a->view.data;
    for (int i = 0; i < 12; i++) pa[i] = i;
    ASSERT_OK(fsci_view_copy(&b->view, &a->view));
    int32_t *pb = b->view.data;
    /* Fortran order: element (i, j) at j*3 + i. */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) ASSERT_EQ(pb[j * 3 + i], i * 4 + j);
    fsci_array_destroy(&a);
    fsci_array_destroy(&b);
    ASSERT_TRUE(a == NULL && b == NULL);
    fsci_array_destroy(NULL);
}

TEST(allocation_is_aligned_and_checked)
{
    for (int i = 1; i < 100; i += 7) {
        void *p = fsci_malloc((size_t)i, 3);
        ASSERT_TRUE(p != NULL);
        ASSERT_EQ((uintptr_t)p % FSCI_ALIGNMENT, 0);
        fsci_free(p);
    }
    ASSERT_TRUE(fsci_malloc(SIZE_MAX / 2, 4) == NULL);
    ASSERT_EQ(fsci_error_code(), FSCI_ENOMEM);
    void *z = fsci_malloc(0, 8);
    ASSERT_TRUE(z != NULL);
    fsci_free(z);
}

TEST(failure_injection_reaches_callers)
{
    int64_t shape[1] = {16};
    fsci_array *a = NULL;
    fsci_alloc_fail_after(1); /* the struct succeeds, the data fails */
    int st = fsci_array_create(FSCI_F32, 1, shape, false, &a);
    fsci_alloc_fail_after(-1);
    ASSERT_EQ(st, FSCI_ENOMEM);
    ASSERT_TRUE(a == NULL);
    ASSERT_OK(fsci_array_create(FSCI_F32, 1, shape, false, &a));
    fsci_array_destroy(&a);
}

TESTKIT_MAIN()
