/* imaging: scan-conversion geometry. A simulated point target at a known
 * (x, z) in mm must appear at the display pixel the plan's calibration
 * predicts, within half a pixel, for linear and convex arrays, every PLUS
 * orientation and every input type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_imaging.h"
#include "imaging_internal.h" /* white-box: SIMD vs scalar paths */
#include "tl_sim.h"

/* Echo of a point target as the beamformed RF (or I/Q, or envelope) of each
 * line: Gaussian beam across lines, Gaussian pulse envelope along range. */
typedef struct {
    tl_geometry g;
    double line0, sample0;   /* the target in (line, sample) coordinates */
    double beam_lines;       /* beam width, in lines */
} target;

static target make_target(const tl_geometry *g, double x, double z)
{
    /* Beam several lines wide, so the log-Gaussian is well sampled by the
     * lines even where a convex fan spreads them ~12 pixels apart. */
    target t = { .g = *g, .beam_lines = g->lines > 256 ? 12.0 : 4.0 };
    double dz = tl_geometry_dz_mm(g), r;
    if (g->kind == TL_PROBE_CONVEX) {
        double th = atan2(x, z + g->radius_mm);
        r = hypot(x, z + g->radius_mm) - g->radius_mm;
        t.line0 = th * g->radius_mm / g->pitch_mm + 0.5 * (g->lines - 1);
    } else {
        /* a steered line leaves x_i at steer_deg: it meets (x, z) at range
         * z / cos b from x_i = x - z tan b */
        double b = g->steer_deg * M_PI / 180.0;
        r = z / cos(b);
        t.line0 = (x - z * tan(b)) / g->pitch_mm + 0.5 * (g->lines - 1);
    }
    t.sample0 = (r - g->depth_start_mm) / dz;
    return t;
}

/* Fill a frame of `type` in orientation `o` (storage order reversed as PLUS
 * does: U = lines right to left, N = samples far to near). */
static void *synth(const target *t, tl_image_type type, tl_orientation o, size_t *bytes)
{
    const tl_geometry *g = &t->g;
    uint32_t L = g->lines, N = g->samples;
    size_t per = (type == TL_IMAGE_RF_IQ_LINE || type == TL_IMAGE_RF_I_LINE_Q_LINE) ? 2 : 1;
    *bytes = (size_t)L * N * per * 2;
    int16_t *d = calloc((size_t)L * N * per, 2);
    /* pulse envelope, in samples: one cycle, longer on coarse displays */
    double sigma = (g->lines > 256 ? 10.0 : 1.0) * g->fs_hz / g->f0_hz;
    for (uint32_t l = 0; l < L; l++) {
        double bl = exp(-0.5 * pow((l - t->line0) / t->beam_lines, 2.0));
        uint32_t ls = (o == TL_ORIENT_UF || o == TL_ORIENT_UN) ? L - 1 - l : l;
        for (uint32_t s = 0; s < N; s++) {
            double u = s - t->sample0;
            double env = 20000.0 * bl * exp(-0.5 * u * u / (sigma * sigma));
            double ph = 2.0 * M_PI * g->f0_hz * u / g->fs_hz;
            uint32_t ss = (o == TL_ORIENT_MN || o == TL_ORIENT_UN) ? N - 1 - s : s;
            size_t i = (size_t)ls * N + ss;
            switch (type) {
            case TL_IMAGE_RF_REAL: d[i] = (int16_t)lrint(env * cos(ph)); break;
            case TL_IMAGE_ENVELOPE: ((uint16_t *)d)[i] = (uint16_t)lrint(env); break;
            case TL_IMAGE_RF_IQ_LINE:
                d[2 * i] = (int16_t)lrint(env * cos(ph));
                d[2 * i + 1] = (int16_t)lrint(env * sin(ph));
                break;
            case TL_IMAGE_RF_I_LINE_Q_LINE:
                d[(size_t)(2 * ls) * N + ss] = (int16_t)lrint(env * cos(ph));
                d[(size_t)(2 * ls + 1) * N + ss] = (int16_t)lrint(env * sin(ph));
                break;
            default: break;
            }
        }
    }
    return d;
}

/* The steering angle (radians) of the linear frame under test: to_beam and
 * find_peak_near read it (0 for straight and convex frames). */
static double g_steer;

/* Display pixel -> beam coordinates (u along the arc at the face, v range)
 * using only the image calibration and the probe radius: for a convex fan
 * the blob of a point is a Gaussian in (angle, range), curved in (x, z);
 * for a steered linear frame in (element x, range), sheared in (x, z). */
static void to_beam(const tl_bmode *img, double R, double col, double row, double *u, double *v)
{
    double x = img->origin_x_mm + col * img->spacing_mm, z = img->origin_z_mm + row * img->spacing_mm;
    if (R > 0) {
        *u = R * atan2(x, z + R);
        *v = hypot(x, z + R) - R;
    } else {
        *u = x - z * tan(g_steer);
        *v = z / cos(g_steer);
    }
}

/* Peak of the image: a least-squares quadratic in beam coordinates through
 * every pixel within `drop` grey levels of the maximum (the log of a
 * Gaussian blob is a quadratic; the ridge between scan lines is linear, so a
 * 3-point fit at the maximum would snap to a line). Returned in pixels. */
static void find_peak_near(const tl_bmode *img, double R, long c_lo, long c_hi, long r_lo,
                           long r_hi, int box, double *col, double *row)
{
    uint32_t bc = 0, br = 0;
    int best = -1;
    for (long r = r_lo < 0 ? 0 : r_lo; r < (long)img->height && r <= r_hi; r++)
        for (long c = c_lo < 0 ? 0 : c_lo; c < (long)img->width && c <= c_hi; c++)
            if (img->pixels[r * img->stride + c] > best) {
                best = img->pixels[r * img->stride + c];
                bc = (uint32_t)c;
                br = (uint32_t)r;
            }
    const int drop = 100;
    int count = 0;
    double u0, v0;
    to_beam(img, R, bc, br, &u0, &v0);
    double A[6][7] = { { 0 } };
    for (int dr = -box; dr <= box; dr++)
        for (int dc = -box; dc <= box; dc++) {
            long r = (long)br + dr, c = (long)bc + dc;
            if (r < 0 || c < 0 || r >= (long)img->height || c >= (long)img->width)
                continue;
            int v = img->pixels[(size_t)r * img->stride + (size_t)c];
            if (v < best - drop)
                continue;
            count++;
            double bu, bv;
            to_beam(img, R, (double)c, (double)r, &bu, &bv);
            bu -= u0;
            bv -= v0;
            double f[6] = { 1, bu, bv, bu * bu, bu * bv, bv * bv };
            for (int i = 0; i < 6; i++) {
                for (int j = 0; j < 6; j++)
                    A[i][j] += f[i] * f[j];
                A[i][6] += f[i] * v;
            }
        }
    for (int i = 0; i < 6; i++) { /* Gauss-Jordan with partial pivoting */
        int piv = i;
        for (int k = i + 1; k < 6; k++)
            if (fabs(A[k][i]) > fabs(A[piv][i]))
                piv = k;
        for (int j = 0; j < 7; j++) {
            double t = A[i][j];
            A[i][j] = A[piv][j];
            A[piv][j] = t;
        }
        for (int k = 0; k < 6; k++) {
            if (k == i)
                continue;
            double m = A[k][i] / A[i][i];
            for (int j = 0; j < 7; j++)
                A[k][j] -= m * A[i][j];
        }
    }
    assert_true(count >= 12);
    double q[6];
    for (int i = 0; i < 6; i++)
        q[i] = A[i][6] / A[i][i];
    /* grad = 0: [2d e; e 2f] [u v] = -[b c] */
    double a11 = 2 * q[3], a12 = q[4], a22 = 2 * q[5], det = a11 * a22 - a12 * a12;
    double u = u0 + (-q[1] * a22 + q[2] * a12) / det;
    double v = v0 + (-q[2] * a11 + q[1] * a12) / det;
    double z = v * cos(g_steer), x = u + z * tan(g_steer);
    if (R > 0) {
        x = (R + v) * sin(u / R);
        z = (R + v) * cos(u / R) - R;
    }
    *col = (x - img->origin_x_mm) / img->spacing_mm;
    *row = (z - img->origin_z_mm) / img->spacing_mm;
}

static void find_peak(const tl_bmode *img, double R, double *col, double *row)
{
    find_peak_near(img, R, 0, img->width, 0, img->height, 60, col, row);
}

/* Returns the distance between found and expected pixel. demod selects the
 * RF_REAL envelope path (TL_DEMOD_AUTO / _FFT / _FIR). */
static double check_target_demod(const tl_geometry *g, tl_image_type type, tl_orientation o,
                                 double x, double z, uint32_t out_w, uint32_t out_h, int demod)
{
    tl_imaging_params p = tl_imaging_params_default();
    p.demodulator = demod;
    p.out_width = out_w;
    p.out_height = out_h;
    p.fft_effort = 0;
    p.orientation = o;
    p.dynamic_range_db = 40.0f;
    p.gain_db = -3.0f; /* keep the peak below 255 */
    tl_imaging_plan *plan = NULL;
    assert_int_equal(tl_imaging_plan_create(g, type, &p, &plan), TL_OK);
    uint32_t W, H;
    float s, ox, oz;
    assert_int_equal(tl_imaging_plan_output(plan, &W, &H, &s, &ox, &oz), TL_OK);
    tl_bmode img;
    assert_int_equal(tl_bmode_alloc(&img, W, H), TL_OK);
    g_steer = g->steer_deg * M_PI / 180.0;
    target t = make_target(g, x, z);
    tl_frame fr = { .geom = *g, .type = type };
    fr.data = synth(&t, type, o, &fr.data_bytes);
    assert_int_equal(tl_imaging_execute(plan, &fr, &img, NULL), TL_OK);
    double col, row;
    find_peak(&img, g->kind == TL_PROBE_CONVEX ? g->radius_mm : 0.0, &col, &row);
    double ecol = (x - ox) / s, erow = (z - oz) / s;
    printf("%s%s %s%s o=%d: target (%.2f, %.2f) mm expected px (%.2f, %.2f), found (%.2f, %.2f)\n",
           g->kind == TL_PROBE_CONVEX ? "convex" : "linear", g->steer_deg != 0.0f ? " steered" : "",
           tl_image_type_name(type),
           tl_imaging_plan_uses_fir(plan) ? " (FIR)" : "", (int)o,
           x, z, ecol, erow, col, row);
    assert_true(fabs(col - ecol) <= 0.5);
    assert_true(fabs(row - erow) <= 0.5);
    assert_int_equal(img.valid[(size_t)lrint(erow) * W + lrint(ecol)], 255);
    assert_true(img.spacing_mm == s && img.origin_x_mm == ox && img.origin_z_mm == oz);
    free(fr.data);
    tl_bmode_free(&img);
    tl_imaging_plan_destroy(plan);
    return hypot(col - ecol, row - erow);
}

static double check_target_size(const tl_geometry *g, tl_image_type type, tl_orientation o,
                                double x, double z, uint32_t out_w, uint32_t out_h)
{
    return check_target_demod(g, type, o, x, z, out_w, out_h, TL_DEMOD_AUTO);
}

static double check_target(const tl_geometry *g, tl_image_type type, tl_orientation o, double x,
                           double z)
{
    return check_target_size(g, type, o, x, z, 800, 600);
}

static tl_geometry linear_geom(void)
{
    tl_geometry g = tl_geometry_default_linear();
    g.samples = 1024;
    g.f0_hz = 7.5e6f;
    g.fs_hz = 30e6f;
    return g;
}

static tl_geometry convex_geom(void)
{
    tl_geometry g = tl_geometry_default_linear();
    g.kind = TL_PROBE_CONVEX;
    g.radius_mm = 40.0f;
    g.pitch_mm = 0.45f;
    g.samples = 1536;
    g.f0_hz = 5e6f;
    g.fs_hz = 20e6f;
    g.depth_start_mm = 1.0f;
    return g;
}

static void test_linear_point_targets(void **state)
{
    (void)state;
    tl_geometry g = linear_geom();
    for (int o = 0; o < 4; o++)
        for (int d = TL_DEMOD_FFT; d <= TL_DEMOD_FIR; d++)
            check_target_demod(&g, TL_IMAGE_RF_REAL, (tl_orientation)o, 3.13, 12.37, 800, 600, d);
    check_target(&g, TL_IMAGE_RF_REAL, TL_ORIENT_MF, -15.02, 25.61);
    check_target(&g, TL_IMAGE_RF_I_LINE_Q_LINE, TL_ORIENT_MN, -7.7, 5.05);
    check_target(&g, TL_IMAGE_RF_IQ_LINE, TL_ORIENT_UF, 11.1, 18.2);
    check_target(&g, TL_IMAGE_ENVELOPE, TL_ORIENT_UN, 0.4, 9.9);
    /* Fewer display columns than half the lines: the scalar lateral path
     * (the shuffle window cannot hold 8 columns). Wide beam: the target must
     * span several pixels. */
    g.lines = 512;
    g.pitch_mm = 0.1f;
    check_target_size(&g, TL_IMAGE_RF_REAL, TL_ORIENT_UF, 4.1, 12.3, 200, 0);
}

static void test_convex_point_targets(void **state)
{
    (void)state;
    tl_geometry g = convex_geom();
    for (int o = 0; o < 4; o++)
        for (int d = TL_DEMOD_FFT; d <= TL_DEMOD_FIR; d++)
            check_target_demod(&g, TL_IMAGE_RF_REAL, (tl_orientation)o, 8.03, 30.31, 800, 600, d);
    check_target(&g, TL_IMAGE_RF_REAL, TL_ORIENT_MF, -25.4, 41.7);
    check_target(&g, TL_IMAGE_RF_REAL, TL_ORIENT_MF, 1.2, 4.4);
    check_target(&g, TL_IMAGE_RF_I_LINE_Q_LINE, TL_ORIENT_UN, -14.0, 20.0);
}

/* Random targets anywhere in the scanned area, random orientation: the
 * small version of the evaluation in docs/accuracy.md (TALUS_EVAL_CASES
 * raises the count). */
static void test_random_point_targets(void **state)
{
    (void)state;
    const char *env = getenv("TALUS_EVAL_CASES");
    int cases = env ? atoi(env) : 12;
    tl_rng rng;
    tl_rng_seed(&rng, 2026);
    double *err = malloc(sizeof(double) * (size_t)cases * 2);
    for (int kind = 0; kind < 2; kind++) {
        tl_geometry g = kind ? convex_geom() : linear_geom();
        for (int i = 0; i < cases; i++) {
            /* (line, sample) inside the array, away from the edges by the
             * blob's size, mapped to mm. */
            double line = tl_rng_range(&rng, 8.0, g.lines - 9.0);
            double sample = tl_rng_range(&rng, 40.0, g.samples - 41.0);
            float x, z;
            tl_geometry_sample_xz(&g, (float)line, (float)sample, &x, &z);
            tl_orientation o = (tl_orientation)(tl_rng_next(&rng) % 4);
            err[kind * cases + i] = check_target(&g, TL_IMAGE_RF_REAL, o, x, z);
        }
        printf("%s: %d random targets, error median %.3f px, p95 %.3f px, max %.3f px "
               "(seed 2026)\n", kind ? "convex" : "linear", cases,
               tl_median(err + kind * cases, cases), tl_percentile(err + kind * cases, cases, 95),
               tl_percentile(err + kind * cases, cases, 100));
    }
    free(err);
}

/* hw-sim's wire phantom (its own physics: beam, pulse, attenuation) through
 * the imaging chain: every wire at its true (x, z) within half a pixel. */
static void check_wire_phantom(bool convex, const char *steer)
{
    tl_sim *sim = NULL;
    assert_int_equal(tl_sim_create("wire-phantom", 1, &sim), TL_OK);
    if (convex)
        assert_int_equal(tl_sim_set_param(sim, "convex", "1"), TL_OK);
    if (steer)
        assert_int_equal(tl_sim_set_param(sim, "steer_deg", steer), TL_OK);
    tl_geometry g;
    assert_int_equal(tl_sim_get_geometry(sim, &g), TL_OK);
    g_steer = g.steer_deg * M_PI / 180.0;
    size_t n = (size_t)g.lines * g.samples;
    int16_t *rf = malloc(n * sizeof *rf);
    tl_sim_truth truth;
    assert_int_equal(tl_sim_render(sim, 0, rf, n, &truth), TL_OK);
    assert_true(truth.n_wires >= 9);
    tl_imaging_params p = tl_imaging_params_default();
    p.fft_effort = 0;
    tl_imaging_plan *plan = NULL;
    assert_int_equal(tl_imaging_plan_create(&g, TL_IMAGE_RF_REAL, &p, &plan), TL_OK);
    uint32_t W, H;
    tl_imaging_plan_output(plan, &W, &H, NULL, NULL, NULL);
    tl_bmode img;
    assert_int_equal(tl_bmode_alloc(&img, W, H), TL_OK);
    tl_frame fr = { .geom = g, .type = TL_IMAGE_RF_REAL, .data = rf, .data_bytes = n * 2 };
    assert_int_equal(tl_imaging_execute(plan, &fr, &img, NULL), TL_OK);
    double worst = 0.0;
    uint32_t seen = 0;
    for (uint32_t w = 0; w < truth.n_wires; w++) {
        double ec = (truth.wire_x_mm[w] - img.origin_x_mm) / img.spacing_mm;
        double er = (truth.wire_z_mm[w] - img.origin_z_mm) / img.spacing_mm;
        if (ec < 20 || er < 20 || ec > W - 20 || er > H - 20 ||
            !img.valid[(size_t)lrint(er) * W + (size_t)lrint(ec)])
            continue; /* too near an edge for the fit window */
        double col, row;
        find_peak_near(&img, convex ? g.radius_mm : 0.0, lrint(ec) - 10, lrint(ec) + 10,
                       lrint(er) - 10, lrint(er) + 10, 20, &col, &row);
        double e = hypot(col - ec, row - er);
        worst = e > worst ? e : worst;
        seen++;
    }
    printf("sim wire phantom (%s, steer %.0f deg): %u wires, worst %.3f px (%.4f mm/px)\n",
           convex ? "convex" : "linear", (double)g.steer_deg, seen, worst, img.spacing_mm);
    assert_true(seen >= 9);
    assert_true(worst <= 0.5);
    free(rf);
    tl_bmode_free(&img);
    tl_imaging_plan_destroy(plan);
    tl_sim_destroy(sim);
}

static void test_sim_wire_phantom(void **state)
{
    (void)state;
    check_wire_phantom(false, NULL);
    check_wire_phantom(true, NULL);
    check_wire_phantom(false, "-20");
    check_wire_phantom(false, "25");
}

/* A steered linear frame goes onto the grid of the same frame unsteered
 * (same size, spacing and origin): its point targets land within half a
 * pixel, and the pixels no steered line reaches are black and not valid. */
static void test_steered_point_targets(void **state)
{
    (void)state;
    tl_geometry g0 = linear_geom();
    tl_imaging_params p = tl_imaging_params_default();
    p.fft_effort = 0;
    for (int k = 0; k < 2; k++) {
        tl_geometry g = g0;
        g.steer_deg = k ? 15.0f : -20.0f;
        for (int o = 0; o < 4; o++)
            check_target(&g, TL_IMAGE_RF_REAL, (tl_orientation)o, 3.13, 12.37);
        check_target(&g, TL_IMAGE_ENVELOPE, TL_ORIENT_MF, k ? -12.0 : 10.5, 20.2);
        check_target(&g, TL_IMAGE_RF_IQ_LINE, TL_ORIENT_UN, -2.5, 6.1);
        tl_imaging_plan *a = NULL, *b = NULL;
        assert_int_equal(tl_imaging_plan_create(&g0, TL_IMAGE_RF_REAL, &p, &a), TL_OK);
        assert_int_equal(tl_imaging_plan_create(&g, TL_IMAGE_RF_REAL, &p, &b), TL_OK);
        uint32_t W0, H0, W1, H1;
        float s0, s1, ox0, ox1, oz0, oz1;
        tl_imaging_plan_output(a, &W0, &H0, &s0, &ox0, &oz0);
        tl_imaging_plan_output(b, &W1, &H1, &s1, &ox1, &oz1);
        assert_true(W0 == W1 && H0 == H1 && s0 == s1 && ox0 == ox1 && oz0 == oz1);
        /* a bright frame: covered pixels are bright, the deep corner on the
         * side the beams lean away from is black and marked invalid */
        tl_bmode img;
        assert_int_equal(tl_bmode_alloc(&img, W1, H1), TL_OK);
        size_t n = (size_t)g.lines * g.samples;
        uint16_t *env = malloc(n * 2);
        for (size_t i = 0; i < n; i++)
            env[i] = 30000;
        tl_imaging_plan *e = NULL;
        assert_int_equal(tl_imaging_plan_create(&g, TL_IMAGE_ENVELOPE, &p, &e), TL_OK);
        tl_frame fr = { .geom = g, .type = TL_IMAGE_ENVELOPE, .data = env, .data_bytes = n * 2 };
        assert_int_equal(tl_imaging_execute(e, &fr, &img, NULL), TL_OK);
        /* a straight frame does not run through a steered plan */
        fr.geom = g0;
        assert_int_equal(tl_imaging_execute(e, &fr, &img, NULL), TL_ERR_INVALID_ARG);
        size_t covered = 0, black = 0, wrong = 0;
        double tb = tan(g.steer_deg * M_PI / 180.0), half = 0.5 * (g.lines - 1) * g.pitch_mm;
        double cb = cos(g.steer_deg * M_PI / 180.0), rmax = tl_geometry_depth_mm(&g);
        for (uint32_t r = 0; r < H1; r++)
            for (uint32_t c = 0; c < W1; c++) {
                double x = ox1 + c * s1, z = oz1 + r * s1, xi = x - z * tb;
                uint8_t v = img.pixels[(size_t)r * img.stride + c], ok = img.valid[(size_t)r * W1 + c];
                if (fabs(xi) < half - 2 * s1 && z / cb < rmax - 2 * s1) {
                    covered++;
                    wrong += !(ok && v > 100);
                } else if (fabs(xi) > half + 2 * s1 || z / cb > rmax + 2 * s1) {
                    black++;
                    wrong += !(ok == 0 && v == 0);
                }
            }
        printf("steer %.0f deg: %zu covered, %zu uncovered pixels, %zu wrong\n",
               (double)g.steer_deg, covered, black, wrong);
        assert_true(black > (size_t)W1 * H1 / 10 && covered > (size_t)W1 * H1 / 2);
        assert_int_equal(wrong, 0);
        free(env);
        tl_bmode_free(&img);
        tl_imaging_plan_destroy(a);
        tl_imaging_plan_destroy(b);
        tl_imaging_plan_destroy(e);
    }
    g_steer = 0.0;
}

static void test_bad_input_is_refused(void **state)
{
    (void)state;
    tl_geometry g = linear_geom();
    tl_imaging_plan *plan = NULL;
    tl_imaging_params p = tl_imaging_params_default();
    p.fft_effort = 0;
    p.dynamic_range_db = 0.0f;
    assert_int_equal(tl_imaging_plan_create(&g, TL_IMAGE_RF_REAL, &p, &plan), TL_ERR_INVALID_ARG);
    p = tl_imaging_params_default();
    p.fft_effort = 0;
    g.samples = 3;
    assert_int_equal(tl_imaging_plan_create(&g, TL_IMAGE_RF_REAL, &p, &plan), TL_ERR_FORMAT);
    /* Sizes that would need gigabytes are refused up front. */
    g = linear_geom();
    g.lines = 4096;
    g.samples = 65536;
    g.pitch_mm = 0.01f;
    p.envelope_samples = 8 * 65536;
    assert_int_equal(tl_imaging_plan_create(&g, TL_IMAGE_RF_REAL, &p, &plan), TL_ERR_UNSUPPORTED);
    assert_null(plan);
    p.envelope_samples = 0;
    g = linear_geom();
    assert_int_equal(tl_imaging_plan_create(&g, TL_IMAGE_RF_REAL, &p, &plan), TL_OK);
    tl_bmode img;
    uint32_t W, H;
    tl_imaging_plan_output(plan, &W, &H, NULL, NULL, NULL);
    assert_int_equal(tl_bmode_alloc(&img, W, H), TL_OK);
    int16_t *d = calloc((size_t)g.lines * g.samples, 2);
    tl_frame fr = { .geom = g, .type = TL_IMAGE_RF_REAL, .data = d,
                    .data_bytes = (size_t)g.lines * g.samples * 2 - 2 }; /* short frame */
    assert_int_equal(tl_imaging_execute(plan, &fr, &img, NULL), TL_ERR_FORMAT);
    fr.data_bytes += 2;
    fr.type = TL_IMAGE_ENVELOPE; /* not what the plan was built for */
    assert_int_equal(tl_imaging_execute(plan, &fr, &img, NULL), TL_ERR_INVALID_ARG);
    fr.type = TL_IMAGE_RF_REAL;
    fr.geom.lines = 64;
    assert_int_equal(tl_imaging_execute(plan, &fr, &img, NULL), TL_ERR_INVALID_ARG);
    fr.geom = g;
    assert_int_equal(tl_imaging_execute(plan, &fr, &img, NULL), TL_OK);
    /* All-zero RF is black, never NaN garbage. */
    for (uint32_t i = 0; i < W * H; i++)
        assert_int_equal(img.pixels[i], 0);
    free(d);
    tl_bmode_free(&img);
    tl_imaging_plan_destroy(plan);
}

/* The SIMD scan-conversion kernels (SSSE3 linear, AVX2 convex) against the
 * scalar code on random images: convex identical, linear within 2 grey
 * levels (6-bit instead of 8-bit lateral weights: 255/128 between
 * neighbours of white noise). */
static void compare_paths(const tl_geometry *g, int tol)
{
    tl_imaging_params p = tl_imaging_params_default();
    p.fft_effort = 0;
    tl_imaging_plan *pl = NULL;
    assert_int_equal(tl_imaging_plan_create(g, TL_IMAGE_BRIGHTNESS, &p, &pl), TL_OK);
    bool *flag = g->kind == TL_PROBE_CONVEX ? &pl->use_avx2 : &pl->use_simd;
    uint32_t W, H;
    tl_imaging_plan_output(pl, &W, &H, NULL, NULL, NULL);
    tl_bmode a, b;
    assert_int_equal(tl_bmode_alloc(&a, W, H), TL_OK);
    assert_int_equal(tl_bmode_alloc(&b, W, H), TL_OK);
    size_t n = (size_t)g->lines * g->samples;
    uint8_t *d = malloc(n);
    tl_rng rng;
    tl_rng_seed(&rng, 99);
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)(tl_rng_next(&rng) & 0xff);
    tl_frame fr = { .geom = *g, .type = TL_IMAGE_BRIGHTNESS, .data = d, .data_bytes = n };
    bool had = *flag;
    assert_int_equal(tl_imaging_execute(pl, &fr, &a, NULL), TL_OK);
    *flag = false;
    assert_int_equal(tl_imaging_execute(pl, &fr, &b, NULL), TL_OK);
    int worst = 0;
    for (size_t i = 0; i < (size_t)W * H; i++) {
        int dv = abs((int)a.pixels[i] - (int)b.pixels[i]);
        worst = dv > worst ? dv : worst;
    }
    printf("%s SIMD path %s: max |SIMD - scalar| = %d\n",
           g->kind == TL_PROBE_CONVEX ? "convex" : "linear", had ? "used" : "unavailable", worst);
    assert_true(worst <= tol);
    free(d);
    tl_bmode_free(&a);
    tl_bmode_free(&b);
    tl_imaging_plan_destroy(pl);
}

static void test_simd_matches_scalar(void **state)
{
    (void)state;
    tl_geometry g = linear_geom();
    compare_paths(&g, 2);
    g = convex_geom();
    compare_paths(&g, 0);
}

static void test_orientation_names(void **state)
{
    (void)state;
    assert_int_equal(tl_orientation_from_name("MF"), TL_ORIENT_MF);
    assert_int_equal(tl_orientation_from_name("MFA"), TL_ORIENT_MF);
    assert_int_equal(tl_orientation_from_name("NM"), TL_ORIENT_MN);
    assert_int_equal(tl_orientation_from_name("FU"), TL_ORIENT_UF);
    assert_int_equal(tl_orientation_from_name("UN"), TL_ORIENT_UN);
    assert_int_equal(tl_orientation_from_name("XY"), -1);
    assert_int_equal(tl_orientation_from_name(""), -1);
    assert_int_equal(tl_orientation_from_name(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_point_targets),
        cmocka_unit_test(test_convex_point_targets),
        cmocka_unit_test(test_random_point_targets),
        cmocka_unit_test(test_simd_matches_scalar),
        cmocka_unit_test(test_sim_wire_phantom),
        cmocka_unit_test(test_steered_point_targets),
        cmocka_unit_test(test_bad_input_is_refused),
        cmocka_unit_test(test_orientation_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
