/* Demo section of the proton engine: Bragg curves in water against the PSTAR
 * CSDA ranges, the 2-D dose of a 150 MeV pencil beam, slab phantoms, and the
 * particle / energy balance with timings. Public API only (fastsci/proton.h). */
#include <math.h>
#include <string.h>

#include "fastsci/fastsci.h"
#include "demo.h"

enum { NBEAM = 4 };
static const double beam_e[NBEAM] = {70.0, 100.0, 150.0, 200.0};

/* The grid every run of this section uses: water, MUSCL streaming (doc/proton.md:
 * within 1 % of Fermi-Eyges for lateral spreads), residual-range energy grid. */
static void grid_opts(fsci_proton_opts *o, const fsci_ctx *c, bool quick)
{
    fsci_proton_opts_default(o);
    o->dx_mm = quick ? 1.0 : 0.5;
    o->dz_mm = quick ? 1.0 : 0.5;
    o->nx = (int64_t)lround(60.0 / o->dx_mm);  /* +-30 mm */
    o->nz = (int64_t)lround(280.0 / o->dz_mm); /* 200 MeV: R = 259.6 mm */
    o->e_max_mev = 200.0;
    /* in water a monoenergetic CSDA beam occupies at most two energy bins: a
     * small window keeps the state at a few hundred MB even on the fine grid.
     * Straggling (+-7 sigma_R of range bins, ~80 at 200 MeV on 0.5 mm) would
     * need 20x the memory: the demo shows the CSDA transport */
    o->e_window = 4;
    o->straggling = false;
    o->stream = FSCI_PROTON_STREAM_MUSCL;
    o->nthreads = c->threads;
}

typedef struct run_result {
    double *dd;   /* [nz] MeV/mm per primary */
    double *dose; /* [nz * nx] Gy per primary (NULL unless asked) */
    fsci_proton_range_metrics m;
    fsci_proton_balance bw, be;
    int64_t steps;
    double seconds;
} run_result;

static void run_result_free(run_result *r)
{
    fsci_free(r->dd);
    fsci_free(r->dose);
    r->dd = r->dose = NULL;
}

/* Run one zero-width pencil beam of energy e on plan p with state s (reset first). */
static int run_beam(const fsci_proton_plan *p, fsci_proton_state *s, double e, double dz_mm, bool want_dose,
                    run_result *out)
{
    fsci_proton_plan_info info;
    fsci_proton_plan_get_info(p, &info);
    memset(out, 0, sizeof *out);
    int st = FSCI_OK;
    out->dd = fsci_malloc((size_t)info.nz, sizeof *out->dd);
    if (want_dose) out->dose = fsci_malloc((size_t)(info.nz * info.nx), sizeof *out->dose);
    if (!out->dd || (want_dose && !out->dose)) {
        st = FSCI_ENOMEM;
        goto fail;
    }
    fsci_proton_state_reset(s);
    fsci_proton_beam b;
    fsci_proton_beam_default(&b);
    b.energy_mev = e;
    double t0 = fsci_clock();
    FSCI_TRY(fsci_proton_state_add_beam(s, &b));
    FSCI_TRY(fsci_proton_run(p, s, 0, &out->steps));
    out->seconds = fsci_clock() - t0;
    FSCI_TRY(fsci_proton_state_depth_dose(s, out->dd));
    if (want_dose) FSCI_TRY(fsci_proton_state_dose(s, FSCI_PROTON_DOSE_GY, out->dose));
    FSCI_TRY(fsci_proton_analyze(out->dd, info.nz, dz_mm, &out->m));
    fsci_proton_state_balance(s, &out->bw, &out->be);
    return FSCI_OK;
fail:
    run_result_free(out);
    return st;
}

int fsci__proton_depth_plot(fsci_report *r, const char *file, const char *title, const fsci_plot_series *s,
                            int ns, fsci_plot_vline *vl, int nvl, double x0, double x1)
{
    char path[4200];
    fsci_report_path(r, file, path, sizeof path);
    fsci_plot_opts o = {.title = title,
                        .xlabel = "depth z (mm)",
                        .ylabel = "dose / peak dose",
                        .xmin = x1 > x0 ? x0 : 0,
                        .xmax = x1 > x0 ? x1 : 280,
                        .ymin = 0,
                        .ymax = 1.1,
                        .vlines = vl,
                        .nvlines = nvl,
                        .legend = FSCI_LEGEND_OUTSIDE_RIGHT,
                        .width = 1000,
                        .height = 560};
    return fsci_plot_lines(path, s, ns, &o);
}

static int depth_dose_figure(fsci_report *r, const double *z, int64_t nz, run_result res[NBEAM],
                             const double rcsda[NBEAM])
{
    double *norm[NBEAM] = {0};
    char lab[NBEAM][64], vlab[NBEAM][48];
    fsci_plot_series s[NBEAM];
    fsci_plot_vline vl[NBEAM];
    int st = FSCI_OK;
    for (int j = 0; j < NBEAM; j++) {
        norm[j] = fsci_malloc((size_t)nz, sizeof *norm[j]);
        if (!norm[j]) {
            st = FSCI_ENOMEM;
            goto fail;
        }
        for (int64_t k = 0; k < nz; k++) norm[j][k] = res[j].dd[k] / res[j].m.peak_value;
        snprintf(lab[j], sizeof lab[j], "%g MeV", beam_e[j]);
        snprintf(vlab[j], sizeof vlab[j], "%.1f", rcsda[j]);
        s[j] = (fsci_plot_series){.x = z, .y = norm[j], .n = nz, .label = lab[j], .color = j + 1};
        vl[j] = (fsci_plot_vline){.x = rcsda[j], .label = vlab[j]};
    }
    st = fsci__proton_depth_plot(r, "proton_depth_dose.png",
                                 "Pencil beams in water: laterally integrated depth dose", s, NBEAM, vl,
                                 NBEAM, 0, 0);
fail:
    for (int j = 0; j < NBEAM; j++) fsci_free(norm[j]);
    return st;
}

/* The 150 MeV dose transposed (depth along x, lateral along y) and cropped. */
static int dose_map_figure(fsci_report *r, const fsci_proton_opts *o, const double *dose, double zmax,
                           double xhalf, double vmax)
{
    int64_t nzc = (int64_t)lround(zmax / o->dz_mm),
            c0 = (int64_t)lround((double)o->nx / 2.0 - xhalf / o->dx_mm);
    if (nzc > o->nz) nzc = o->nz;
    if (c0 < 0) c0 = 0;
    int64_t nxc = o->nx - 2 * c0;
    int st = FSCI_OK;
    double *img = fsci_malloc((size_t)(nzc * nxc), sizeof *img);
    if (!img) return FSCI_ENOMEM;
    for (int64_t i = 0; i < nxc; i++)
        for (int64_t k = 0; k < nzc; k++) img[i * nzc + k] = dose[k * o->nx + c0 + i];
    fsci_view v;
    FSCI_TRY(fsci_view_init(&v, img, FSCI_F64, 2, (int64_t[2]){nxc, nzc}, false));
    double xe = ((double)nxc / 2.0) * o->dx_mm;
    char path[4200];
    fsci_report_path(r, "proton_dose_150.png", path, sizeof path);
    fsci_plot_image_opts po = {
        .title = "150 MeV pencil beam in water: dose (log scale)",
        .xlabel = "depth z (mm)",
        .ylabel = "lateral x (mm)",
        .cbar_label = "Gy per primary",
        .x0 = 0,
        .x1 = (double)nzc * o->dz_mm,
        .y0 = -xe,
        .y1 = xe,
        .origin_lower = 1,
        .equal_aspect = 1,
        .width = 1000,
        .height = 480,
        .map = {.log10 = 1, .log_floor = vmax * 1e-4, .fixed_range = 1, .vmin = vmax * 1e-4, .vmax = vmax}};
    FSCI_TRY(fsci_plot_image(path, &v, &po));
fail:
    fsci_free(img);
    return st;
}

static int slab_figure(fsci_report *r, const double *z, int64_t nz, double *const dd[3],
                       const char *const lab[3])
{
    fsci_plot_series s[3];
    for (int j = 0; j < 3; j++)
        s[j] = (fsci_plot_series){.x = z, .y = dd[j], .n = nz, .label = lab[j], .color = j + 1};
    fsci_plot_vline vl[2] = {{.x = 30.0, .label = "slab"}, {.x = 50.0, .label = NULL}};
    char path[4200];
    fsci_report_path(r, "proton_slabs.png", path, sizeof path);
    fsci_plot_opts o = {.title = "150 MeV pencil beam: 20 mm slab at 30-50 mm depth",
                        .xlabel = "depth z (mm)",
                        .ylabel = "depth dose (MeV/mm per primary)",
                        .xmin = 0,
                        .xmax = 200,
                        .vlines = vl,
                        .nvlines = 2,
                        .legend = FSCI_LEGEND_OUTSIDE_RIGHT,
                        .width = 1100,
                        .height = 560};
    return fsci_plot_lines(path, s, 3, &o);
}

static void balance_row(fsci_report *r, const char *name, double w, double e, double e0)
{
    fsci_report_html(r, "<tr><td>%s</td><td>%.6g</td><td>%.6g</td><td>%.4g %%</td></tr>\n", name, w, e,
                     100.0 * e / e0);
}

/* 1. Bragg curves of the four beams against the PSTAR CSDA ranges. */
static int bragg_section(fsci_report *r, const fsci_proton_opts *o, const fsci_proton_plan_info *info,
                         const double *z, run_result res[NBEAM], const double rcsda[NBEAM])
{
    int st = FSCI_OK;
    FSCI_TRY(depth_dose_figure(r, z, o->nz, res, rcsda));
    char cap[2048];
    int n = snprintf(
        cap, sizeof cap,
        "Laterally integrated depth dose of zero-width pencil beams in water, each normalised to its "
        "peak (grid %g mm, ds = %g mm). The dashed lines mark the CSDA ranges of NIST PSTAR (labelled "
        "in mm); look for "
        "the distal 80 %% point (R80) of each curve falling on its line. Measured R80 &minus; "
        "R<sub>CSDA</sub>:",
        o->dz_mm, info->ds_mm);
    for (int j = 0; j < NBEAM && n > 0 && (size_t)n < sizeof cap; j++)
        n += snprintf(cap + n, sizeof cap - (size_t)n, "%s %g MeV: %.2f mm (R80 %.2f, R<sub>CSDA</sub> %.2f)",
                      j ? ";" : "", beam_e[j], res[j].m.r80_mm - rcsda[j], res[j].m.r80_mm, rcsda[j]);
    if (n > 0 && (size_t)n < sizeof cap)
        snprintf(
            cap + n, sizeof cap - (size_t)n,
            ". Entrance-to-peak ratios %.2f, %.2f, %.2f and %.2f (with no straggling the peak height depends "
            "on how the sharp peak falls on the grid rows).",
            res[0].m.entrance, res[1].m.entrance, res[2].m.entrance, res[3].m.entrance);
    fsci_report_figure(r, "proton_depth_dose.png", cap);
fail:
    return st;
}

/* 2. The 150 MeV dose map, with the lateral spread against Fermi-Eyges
 * (`state` still holds the 150 MeV run; `prof` is nx scratch). */
static int dose_section(fsci_report *r, const fsci_proton_opts *o, const fsci_proton_state *state,
                        const fsci_proton_physics *ph, const run_result *r150, double rcsda150, double *prof)
{
    int st = FSCI_OK;
    double vmax = 0;
    for (int64_t i = 0; i < o->nz * o->nx; i++) vmax = fmax(vmax, r150->dose[i]);
    FSCI_TRY(dose_map_figure(r, o, r150->dose, 180.0, 30.0, vmax));
    double zpk = r150->m.peak_mm, zsig = fmin(zpk - 2.0, 0.98 * rcsda150), mean, sig;
    FSCI_TRY(fsci_proton_state_lateral_profile(state, zsig, prof));
    FSCI_TRY(fsci_proton_profile_moments(prof, o->nx, o->dx_mm, &mean, &sig));
    fsci_proton_fe fe;
    FSCI_TRY(fsci_proton_physics_fermi_eyges(ph, 150.0, zsig, false, &fe));
    double sig_half;
    FSCI_TRY(fsci_proton_state_lateral_profile(state, 0.5 * rcsda150, prof));
    FSCI_TRY(fsci_proton_profile_moments(prof, o->nx, o->dx_mm, &mean, &sig_half));
    fsci_proton_fe fe_half;
    FSCI_TRY(fsci_proton_physics_fermi_eyges(ph, 150.0, 0.5 * rcsda150, false, &fe_half));
    char cap[2048];
    snprintf(
        cap, sizeof cap,
        "Dose of a zero-width 150 MeV pencil beam in water (Gy per primary in a slice dy = dx = %g mm thick; "
        "log colour scale over four decades, floor = 10<sup>&minus;4</sup> of the maximum %.3g Gy). The beam "
        "enters at x = 0 from the left; look for the widening of the beam with depth by multiple scattering "
        "and the Bragg peak at its end. Peak depth %.2f mm (R<sub>CSDA</sub> %.2f mm). Lateral &sigma; of "
        "the "
        "dose profile: %.2f mm at %.1f mm depth (Fermi-Eyges with the same scattering power: %.2f mm) and "
        "%.2f mm at %.1f mm = R/2 (Fermi-Eyges %.2f mm).",
        o->dx_mm, vmax, zpk, rcsda150, sig, zsig, fe.sigma_x, sig_half, 0.5 * rcsda150, fe_half.sigma_x);
    fsci_report_figure(r, "proton_dose_150.png", cap);
fail:
    return st;
}

/* 3. Slab phantoms: 20 mm of bone or lung at 30-50 mm, and water, on one 1 mm grid in both
 * modes (an RSP != 1 spreads the weight over up to ~21 range bins in the slab: window 32). */
static int slab_section(fsci_report *r, const fsci_ctx *c)
{
    static const fsci_proton_slab kinds[3] = {FSCI_PROTON_SLAB_WATER, FSCI_PROTON_SLAB_BONE,
                                              FSCI_PROTON_SLAB_LUNG};
    static const double rsp_slab[3] = {1.0, 1.6, 0.3};
    int st = FSCI_OK;
    fsci_proton_plan *splan = NULL;
    fsci_proton_state *sstate = NULL;
    run_result slab[3];
    memset(slab, 0, sizeof slab);
    fsci_proton_opts so;
    grid_opts(&so, c, true);
    so.nx = 48; /* +-24 mm */
    so.nz = 200;
    so.e_max_mev = 150.0;
    so.e_window = 32;
    int64_t snz = so.nz, snx = so.nx;
    double *rsp = fsci_malloc((size_t)(snz * snx), sizeof *rsp);
    double *rscat = fsci_malloc((size_t)(snz * snx), sizeof *rscat);
    double *dens = fsci_malloc((size_t)(snz * snx), sizeof *dens);
    if (!rsp || !rscat || !dens) {
        st = FSCI_ENOMEM;
        goto fail;
    }
    for (int j = 0; j < 3; j++) {
        FSCI_TRY(fsci_proton_slab_fill(&so, kinds[j], 30.0, 50.0, rsp, rscat, dens));
        fsci_proton_materials m = {.nz = snz, .nx = snx, .rsp = rsp, .rscat = rscat, .density = dens};
        FSCI_TRY(fsci_proton_plan_create(&so, &m, &splan));
        FSCI_TRY(fsci_proton_state_create(splan, &sstate));
        FSCI_TRY(run_beam(splan, sstate, 150.0, so.dz_mm, false, &slab[j]));
        fsci_proton_state_destroy(&sstate);
        fsci_proton_plan_destroy(&splan);
    }
    double *dd3[3] = {slab[0].dd, slab[1].dd, slab[2].dd};
    static const char *const lab3[3] = {"water", "20 mm bone (RSP 1.6)", "20 mm lung (RSP 0.3)"};
    double zs[200];
    for (int64_t k = 0; k < snz; k++) zs[k] = ((double)k + 0.5) * so.dz_mm;
    FSCI_TRY(slab_figure(r, zs, snz, dd3, lab3));
    double shift[3];
    for (int j = 1; j < 3; j++) shift[j] = slab[j].m.r80_mm - slab[0].m.r80_mm;
    char cap[2048];
    snprintf(cap, sizeof cap,
             "150 MeV pencil beam through 20 mm of bone-like (RSP 1.6, relative scattering power 2.2, "
             "1.85 g/cm&sup3;) or lung-like (RSP 0.3, 0.3, 0.3 g/cm&sup3;) material at 30&ndash;50 mm depth, "
             "against plain water (1 mm grid; depth dose in MeV/mm per primary: inside the slab the dose "
             "per mm follows the stopping power per mm, higher in bone, lower in lung). Look for the shift "
             "of the distal edge. Range shift of R80: bone %+.2f mm (expected (1 &minus; %.1f) &times; 20 = "
             "%+.1f mm), lung %+.2f mm (expected %+.1f mm); R80 %.2f / %.2f / %.2f mm (water / bone / lung). "
             "The peaks behind the slabs are lower and wider because an RSP &ne; 1 splits the weight between "
             "two residual-range bins at every step in the slab (a numerical range spread of about 2 mm, "
             "comparable to the physical straggling, which is off in this section); the integral of the "
             "curves is unchanged.",
             shift[1], rsp_slab[1], (1.0 - rsp_slab[1]) * 20.0, shift[2], (1.0 - rsp_slab[2]) * 20.0,
             slab[0].m.r80_mm, slab[1].m.r80_mm, slab[2].m.r80_mm);
    fsci_report_figure(r, "proton_slabs.png", cap);
fail:
    for (int j = 0; j < 3; j++) run_result_free(&slab[j]);
    fsci_free(rsp);
    fsci_free(rscat);
    fsci_free(dens);
    fsci_proton_state_destroy(&sstate);
    fsci_proton_plan_destroy(&splan);
    return st;
}

/* 4. Particle and energy balance and the timings of the 150 MeV run. */
static void balance_section(fsci_report *r, const fsci_proton_plan_info *info, const run_result *r150,
                            double t_setup, double t_section)
{
    const fsci_proton_balance *w = &r150->bw, *e = &r150->be;
    double e0 = e->initial;
    fsci_report_html(r, "<table><tr><th>150 MeV run, per primary</th><th>protons</th><th>energy (MeV)</th>"
                        "<th>share of the energy</th></tr>\n");
    balance_row(r, "initial (injected)", w->initial, e->initial, e0);
    balance_row(r, "deposited in the dose grid", w->deposited, e->deposited, e0);
    balance_row(r, "leaked out of the grid", w->leaked, e->leaked, e0);
    balance_row(r, "rejected (scattered out of the &plusmn;30&deg; cone)", w->rejected, e->rejected, e0);
    balance_row(r, "reached the 1 MeV cutoff", w->cutoff, e->cutoff, e0);
    balance_row(r, "nuclear removal (energy: the escaping 40 %)", w->nuclear, e->nuclear, e0);
    balance_row(r, "pruned (below 10<sup>&minus;10</sup>)", w->pruned, e->pruned, e0);
    balance_row(r, "remaining in the phase space", w->remaining, e->remaining, e0);
    fsci_report_html(
        r,
        "<tr><td>relative residual (initial &minus; sum) / initial</td><td>%.2e</td><td>%.2e</td>"
        "<td></td></tr>\n</table>\n",
        w->residual, e->residual);
    double t_all = fsci_clock() - t_section;
    fsci_report_html(
        r,
        "<table><tr><th>timing</th><th>value</th></tr>\n"
        "<tr><td>grid (E &times; &theta; &times; z &times; x)</td><td>%lld &times; %lld &times; %lld "
        "&times; %lld (%d threads)</td></tr>\n"
        "<tr><td>plan + state set-up</td><td>%.3f s</td></tr>\n"
        "<tr><td>150 MeV run: steps</td><td>%lld</td></tr>\n"
        "<tr><td>150 MeV run: time per step</td><td>%.3f ms</td></tr>\n"
        "<tr><td>150 MeV run: total</td><td>%.3f s</td></tr>\n"
        "<tr><td>whole section (7 runs, 4 plans, figures)</td><td>%.2f s</td></tr>\n</table>\n",
        (long long)info->ne, (long long)info->ntheta, (long long)info->nz, (long long)info->nx,
        info->nthreads, t_setup, (long long)r150->steps,
        r150->steps > 0 ? 1e3 * r150->seconds / (double)r150->steps : 0.0, r150->seconds, t_all);
    fsci_report_html(
        r, "<p>Every term of the balance is counted independently from the source side, so the "
           "residual checks the bookkeeping; for protons nothing is deposited (the weight ends at the "
           "cutoff, in nuclear removal, or outside), for energy the cutoff protons' energy is part of "
           "the deposit.</p>\n");
}

int fsci__proton_demo(fsci_report *r, const fsci_ctx *c, bool quick)
{
    fsci_report_section(
        r, "proton", "proton: deterministic proton transport in water",
        "The phase-space density &psi;[E][&theta;][z][x] of protons is transported step by step (one "
        "path length ds per step): multiple Coulomb scattering (Highland scattering power), continuous "
        "energy loss on a residual-range grid (NIST PSTAR stopping power of water), nuclear removal "
        "(1.2 %/cm) and MUSCL streaming in space. Beams are zero-width and monoenergetic, and this "
        "section runs with energy-loss straggling off (--straggling off, to keep its memory small), so "
        "the Bragg peaks are as sharp as the grid; <code>fastsci proton run</code> has Bohr straggling on "
        "by default (doc/proton_physics.md).");
    fsci_proton_opts o;
    grid_opts(&o, c, quick);
    fsci_proton_plan *plan = NULL;
    fsci_proton_state *state = NULL;
    fsci_proton_physics *ph = NULL;
    run_result res[NBEAM];
    memset(res, 0, sizeof res);
    double *z = NULL, *prof = NULL;
    double t_section = fsci_clock(), rcsda[NBEAM];
    int st = FSCI_OK;
    FSCI_TRY(fsci_proton_physics_create(NULL, &ph));
    for (int j = 0; j < NBEAM; j++) FSCI_TRY(fsci_proton_physics_range_mm(ph, beam_e[j], &rcsda[j]));
    double t0 = fsci_clock();
    FSCI_TRY(fsci_proton_plan_create(&o, NULL, &plan));
    FSCI_TRY(fsci_proton_state_create(plan, &state));
    double t_setup = fsci_clock() - t0;
    fsci_proton_plan_info info;
    fsci_proton_plan_get_info(plan, &info);
    z = fsci_malloc((size_t)o.nz, sizeof *z);
    prof = fsci_malloc((size_t)o.nx, sizeof *prof);
    if (!z || !prof) {
        st = FSCI_ENOMEM;
        goto fail;
    }
    for (int64_t k = 0; k < o.nz; k++) z[k] = ((double)k + 0.5) * o.dz_mm;
    /* 150 MeV last: its state stays for the lateral profiles of section 2 */
    static const int order[NBEAM] = {0, 1, 3, 2};
    for (int q = 0; q < NBEAM; q++) {
        int j = order[q];
        FSCI_TRY(run_beam(plan, state, beam_e[j], o.dz_mm, j == 2, &res[j]));
    }
    FSCI_TRY(bragg_section(r, &o, &info, z, res, rcsda));
    FSCI_TRY(fsci__proton_demo_bragg(r, c, quick));
    FSCI_TRY(dose_section(r, &o, state, ph, &res[2], rcsda[2], prof));
    FSCI_TRY(slab_section(r, c));
    balance_section(r, &info, &res[2], t_setup, t_section);
fail:
    for (int j = 0; j < NBEAM; j++) run_result_free(&res[j]);
    fsci_free(z);
    fsci_free(prof);
    fsci_proton_state_destroy(&state);
    fsci_proton_plan_destroy(&plan);
    fsci_proton_physics_destroy(&ph);
    return st;
}
