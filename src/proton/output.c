/* The proton engine end to end: run a resolved setup, keep the results per
 * primary, and write them into a directory (NumPy, MetaImage, CSV, JSON). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fastsci/fastsci.h"

int fsci_proton_simulate(const fsci_proton_setup *su, fsci_proton_result *res)
{
    int st = FSCI_OK;
    fsci_proton_plan *p = NULL;
    fsci_proton_state *s = NULL;
    FSCI_CHECK(su && res, FSCI_EINVAL, "fsci_proton_simulate: NULL argument");
    memset(res, 0, sizeof *res);
    double t0 = fsci_clock();
    FSCI_TRY(fsci_proton_plan_create(&su->opts, su->has_materials ? &su->mat : NULL, &p));
    FSCI_TRY(fsci_proton_state_create(p, &s));
    for (int i = 0; i < su->nbeams; i++) FSCI_TRY(fsci_proton_state_add_beam(s, &su->beams[i]));
    FSCI_TRY(fsci_proton_run(p, s, 0, &res->steps));
    int64_t nz = su->opts.nz, nx = su->opts.nx;
    res->nz = nz;
    res->nx = nx;
    res->dx_mm = su->opts.dx_mm;
    res->dz_mm = su->opts.dz_mm;
    res->dose_gy = fsci_malloc((size_t)(nz * nx), sizeof(double));
    res->dose_mev = fsci_malloc((size_t)(nz * nx), sizeof(double));
    res->depth_dose = fsci_malloc((size_t)nz, sizeof(double));
    FSCI_CHECK_GOTO(res->dose_gy && res->dose_mev && res->depth_dose, FSCI_ENOMEM,
                    "out of memory for the dose");
    FSCI_TRY(fsci_proton_state_dose(s, FSCI_PROTON_DOSE_GY, res->dose_gy));
    FSCI_TRY(fsci_proton_state_dose(s, FSCI_PROTON_DOSE_MEV, res->dose_mev));
    FSCI_TRY(fsci_proton_state_depth_dose(s, res->depth_dose));
    FSCI_TRY(fsci_proton_analyze(res->depth_dose, nz, res->dz_mm, &res->metrics));
    fsci_proton_state_balance(s, &res->weight, &res->energy);
    res->seconds = fsci_clock() - t0;
    fsci_proton_state_destroy(&s);
    fsci_proton_plan_destroy(&p);
    return FSCI_OK;
fail:
    fsci_proton_state_destroy(&s);
    fsci_proton_plan_destroy(&p);
    fsci_proton_result_free(res);
    return st;
}

void fsci_proton_result_free(fsci_proton_result *res)
{
    if (!res) return;
    fsci_free(res->dose_gy);
    fsci_free(res->dose_mev);
    fsci_free(res->depth_dose);
    memset(res, 0, sizeof *res);
}

enum { NFILES = 8 };
static const char *const out_names[NFILES] = {"dose.npy",       "dose_mev.npy", "dose.raw",     "dose.mhd",
                                              "depth_dose.csv", "lateral.csv",  "summary.json", NULL};

static int path_of(char *buf, size_t cap, const char *dir, const char *name, bool tmp)
{
    int n = snprintf(buf, cap, "%s/%s%s%s", dir, tmp ? "." : "", name, tmp ? ".tmp" : "");
    FSCI_CHECK(n > 0 && (size_t)n < cap, FSCI_EINVAL, "output path too long: %s/%s", dir, name);
    return FSCI_OK;
}

static int open_tmp(const char *dir, const char *name, FILE **f)
{
    char path[4096];
    int st = path_of(path, sizeof path, dir, name, true);
    if (st) return st;
    *f = fopen(path, "wb");
    FSCI_CHECK(*f, FSCI_EIO, "cannot create %s: %s", path, strerror(errno));
    return FSCI_OK;
}

static int close_tmp(const char *dir, const char *name, FILE **fp)
{
    FILE *f = *fp;
    *fp = NULL;
    bool werr = ferror(f) != 0;
    if (fclose(f) != 0) werr = true;
    FSCI_CHECK(!werr, FSCI_EIO, "error writing %s/%s", dir, name);
    return FSCI_OK;
}

static double jnum(double v)
{
    return isfinite(v) ? v : 0;
}

static void json_balance(FILE *f, const char *key, const fsci_proton_balance *b, const char *tail)
{
    fprintf(f,
            "  \"%s\": {\"initial\": %.17g, \"deposited\": %.17g, \"leaked\": %.17g, \"rejected\": %.17g, "
            "\"cutoff\": %.17g, \"nuclear\": %.17g, \"pruned\": %.17g, \"remaining\": %.17g, \"residual\": "
            "%.17g}%s\n",
            key, b->initial, b->deposited, b->leaked, b->rejected, b->cutoff, b->nuclear, b->pruned,
            b->remaining, b->residual, tail);
}

static int write_all(const fsci_proton_result *r, const char *dir)
{
    int st = FSCI_OK;
    char path[4096];
    FILE *f = NULL;
    int64_t nz = r->nz, nx = r->nx;
    fsci_view v;
    FSCI_TRY(fsci_view_init(&v, r->dose_gy, FSCI_F64, 2, (int64_t[2]){nz, nx}, false));
    FSCI_TRY(path_of(path, sizeof path, dir, "dose.npy", true));
    FSCI_TRY(fsci_npy_write(path, &v));
    FSCI_TRY(fsci_view_init(&v, r->dose_mev, FSCI_F64, 2, (int64_t[2]){nz, nx}, false));
    FSCI_TRY(path_of(path, sizeof path, dir, "dose_mev.npy", true));
    FSCI_TRY(fsci_npy_write(path, &v));

    /* raw little-endian float64, x fastest (MetaImage DimSize = Nx Nz) */
    FSCI_TRY(open_tmp(dir, "dose.raw", &f));
    {
        bool ok = fwrite(r->dose_gy, sizeof(double), (size_t)(nz * nx), f) == (size_t)(nz * nx);
        FSCI_TRY(close_tmp(dir, "dose.raw", &f));
        FSCI_CHECK_GOTO(ok, FSCI_EIO, "error writing %s/dose.raw", dir);
    }
    FSCI_TRY(open_tmp(dir, "dose.mhd", &f));
    fprintf(f,
            "ObjectType = Image\nNDims = 2\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
            "CompressedData = False\nOffset = %.17g 0\nElementSpacing = %.17g %.17g\nDimSize = %lld %lld\n"
            "ElementType = MET_DOUBLE\nElementDataFile = dose.raw\n",
            -0.5 * (double)nx * r->dx_mm + 0.5 * r->dx_mm, r->dx_mm, r->dz_mm, (long long)nx, (long long)nz);
    FSCI_TRY(close_tmp(dir, "dose.mhd", &f));

    FSCI_TRY(open_tmp(dir, "depth_dose.csv", &f));
    fprintf(f, "z_mm,dose_mev_per_mm_per_primary\n");
    for (int64_t k = 0; k < nz; k++)
        fprintf(f, "%.9g,%.9g\n", ((double)k + 0.5) * r->dz_mm, r->depth_dose[k]);
    FSCI_TRY(close_tmp(dir, "depth_dose.csv", &f));

    /* lateral profiles at fractions of R80 (MeV per cell per primary), by
     * linear interpolation between row centres */
    FSCI_TRY(open_tmp(dir, "lateral.csv", &f));
    {
        static const double frac[4] = {0.25, 0.5, 0.75, 1.0};
        double zs[4];
        double r80 = isfinite(r->metrics.r80_mm) ? r->metrics.r80_mm : 0.5 * (double)nz * r->dz_mm;
        fprintf(f, "x_mm");
        for (int q = 0; q < 4; q++) {
            zs[q] = frac[q] * r80;
            fprintf(f, ",z=%.4g", zs[q]);
        }
        fprintf(f, "\n");
        for (int64_t i = 0; i < nx; i++) {
            fprintf(f, "%.9g", ((double)i + 0.5 - 0.5 * (double)nx) * r->dx_mm);
            for (int q = 0; q < 4; q++) {
                double t = zs[q] / r->dz_mm - 0.5;
                if (t < 0) t = 0;
                if (t > (double)(nz - 1)) t = (double)(nz - 1);
                int64_t k0 = (int64_t)floor(t);
                int64_t k1 = k0 + 1 < nz ? k0 + 1 : k0;
                double w = t - (double)k0;
                fprintf(f, ",%.9g", (1 - w) * r->dose_mev[k0 * nx + i] + w * r->dose_mev[k1 * nx + i]);
            }
            fprintf(f, "\n");
        }
    }
    FSCI_TRY(close_tmp(dir, "lateral.csv", &f));

    FSCI_TRY(open_tmp(dir, "summary.json", &f));
    const fsci_proton_range_metrics *m = &r->metrics;
    fprintf(
        f,
        "{\n  \"nz\": %lld,\n  \"nx\": %lld,\n  \"dz_mm\": %.17g,\n  \"dx_mm\": %.17g,\n  \"R80_mm\": "
        "%.17g,\n"
        "  \"R90_mm\": %.17g,\n  \"R50_mm\": %.17g,\n  \"R20_mm\": %.17g,\n  \"peak_depth_mm\": %.17g,\n"
        "  \"d80_20_mm\": %.17g,\n  \"entrance_to_peak\": %.17g,\n  \"steps\": %lld,\n  \"seconds\": %.6g,\n",
        (long long)nz, (long long)nx, r->dz_mm, r->dx_mm, jnum(m->r80_mm), jnum(m->r90_mm), jnum(m->r50_mm),
        jnum(m->r20_mm), jnum(m->peak_mm), jnum(m->falloff_mm), jnum(m->entrance), (long long)r->steps,
        r->seconds);
    json_balance(f, "balance_weight", &r->weight, ",");
    json_balance(f, "balance_energy_mev", &r->energy, "");
    fprintf(f, "}\n");
    FSCI_TRY(close_tmp(dir, "summary.json", &f));
    return FSCI_OK;
fail:
    if (f) (void)fclose(f);
    return st;
}

int fsci_proton_result_write(const fsci_proton_result *res, const char *dir)
{
    int st = FSCI_OK;
    char a[4096], b[4096];
    FSCI_CHECK(res && dir && res->dose_gy && res->dose_mev && res->depth_dose, FSCI_EINVAL,
               "fsci_proton_result_write: NULL argument or empty result");
    bool created = false;
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        FSCI_CHECK(S_ISDIR(sb.st_mode), FSCI_EIO, "%s exists and is not a directory", dir);
    } else {
        FSCI_CHECK(mkdir(dir, 0777) == 0, FSCI_EIO, "cannot create directory %s: %s", dir, strerror(errno));
        created = true;
    }
    FSCI_TRY(write_all(res, dir));
    for (int i = 0; out_names[i]; i++) {
        FSCI_TRY(path_of(a, sizeof a, dir, out_names[i], true));
        FSCI_TRY(path_of(b, sizeof b, dir, out_names[i], false));
        FSCI_CHECK_GOTO(rename(a, b) == 0, FSCI_EIO, "cannot rename %s to %s: %s", a, b, strerror(errno));
    }
    return FSCI_OK;
fail:
    for (int i = 0; out_names[i]; i++)
        if (path_of(a, sizeof a, dir, out_names[i], true) == FSCI_OK) (void)unlink(a);
    if (created) (void)rmdir(dir);
    return st;
}
