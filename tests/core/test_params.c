#include <stddef.h>

#include "fastsci/core/params.h"
#include "testkit.h"

typedef struct {
    int64_t n;
    double energy;
    bool noise;
    char object[FSCI_PARAM_STRLEN];
    char path[FSCI_PARAM_STRLEN];
    fsci_param_list list;
} opts;

static const fsci_param table[] = {
    {"n-images", FSCI_PARAM_INT, offsetof(opts, n), "5000", 1, 1e9, NULL, "number of groups"},
    {"energy", FSCI_PARAM_DOUBLE, offsetof(opts, energy), "150", 1, 350, NULL, "MeV"},
    {"noise", FSCI_PARAM_BOOL, offsetof(opts, noise), "true", 0, -1, NULL, "Poisson noise"},
    {"object", FSCI_PARAM_CHOICE, offsetof(opts, object), "lines", 0, -1, "lines|star", "object"},
    {"path", FSCI_PARAM_STRING, offsetof(opts, path), NULL, 0, -1, NULL, "a file"},
    {"energies", FSCI_PARAM_DOUBLES, offsetof(opts, list), "70,100", 1, 350, NULL, "MeV list"},
};
enum { NT = sizeof table / sizeof table[0] };

TEST(defaults_are_applied)
{
    opts o;
    memset(&o, 0xab, sizeof o);
    ASSERT_OK(fsci_params_defaults(table, NT, &o));
    ASSERT_EQ(o.n, 5000);
    ASSERT_NEAR_REL(o.energy, 150, 0, 0);
    ASSERT_TRUE(o.noise);
    ASSERT_STREQ(o.object, "lines");
    ASSERT_STREQ(o.path, "");
    ASSERT_EQ(o.list.n, 2);
    ASSERT_NEAR_REL(o.list.v[1], 100, 0, 0);
}

TEST(values_parse_and_ranges_are_enforced)
{
    opts o;
    ASSERT_OK(fsci_params_defaults(table, NT, &o));
    ASSERT_OK(fsci_params_set(table, NT, &o, "n_images", "1e4"));
    ASSERT_EQ(o.n, 10000);
    ASSERT_STATUS(fsci_params_set(table, NT, &o, "n-images", "2.5"), FSCI_EINVAL);
    ASSERT_STATUS(fsci_params_set(table, NT, &o, "n-images", "0"), FSCI_ERANGE);
    ASSERT_TRUE(strstr(fsci_error_message(), "--n-images") && strstr(fsci_error_message(), "0"));
    ASSERT_STATUS(fsci_params_set(table, NT, &o, "energy", "abc"), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "'abc'") != NULL);
    ASSERT_STATUS(fsci_params_set(table, NT, &o, "energy", "nan"), FSCI_EINVAL);
    ASSERT_STATUS(fsci_params_set(table, NT, &o, "energy", "900"), FSCI_ERANGE);
    ASSERT_OK(fsci_params_set(table, NT, &o, "noise", "off"));
    ASSERT_TRUE(!o.noise);
    ASSERT_STATUS(fsci_params_set(table, NT, &o, "noise", "maybe"), FSCI_EINVAL);
    ASSERT_STATUS(fsci_params_set(table, NT, &o, "object", "cat"), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "lines|star") != NULL);
    ASSERT_OK(fsci_params_set(table, NT, &o, "object", "star"));
    ASSERT_STREQ(o.object, "star");
    ASSERT_OK(fsci_params_set(table, NT, &o, "energies", "70,100,150,200"));
    ASSERT_EQ(o.list.n, 4);
    ASSERT_STATUS(fsci_params_set(table, NT, &o, "energies", "70,,x"), FSCI_EINVAL);
    ASSERT_STATUS(fsci_params_set(table, NT, &o, "bogus", "1"), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "bogus") != NULL);
}

TEST(format_round_trips)
{
    opts o, p;
    ASSERT_OK(fsci_params_defaults(table, NT, &o));
    ASSERT_OK(fsci_params_set(table, NT, &o, "energy", "12.345678901234567"));
    ASSERT_OK(fsci_params_defaults(table, NT, &p));
    for (int i = 0; i < NT; i++) {
        char buf[FSCI_PARAM_STRLEN];
        fsci_params_format(&table[i], &o, buf, sizeof buf);
        if (buf[0]) ASSERT_OK(fsci_params_set(table, NT, &p, table[i].name, buf));
    }
    ASSERT_TRUE(p.energy == o.energy && p.n == o.n && p.noise == o.noise);
    ASSERT_TRUE(p.list.n == o.list.n && p.list.v[0] == o.list.v[0]);
}

TESTKIT_MAIN()
