/* One case of `talus eval tissue` (see eval_tissue_case.h). */
#include "eval_tissue_case.h"

#include "tl_imaging.h"
#include "tl_sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct eval_ctx {
    tl_analyzer *an;
    int16_t *rf;
    size_t rf_cap;
    const char *dump;
};

void eval_ctx_set_dump(eval_ctx *ctx, const char *dir) { ctx->dump = dir; }

/* Whether a truth boundary is a border of the band (fascia or tendon), and
 * which: *superficial, else deep. */
static bool band_border(tl_boundary_kind kind, bool *superficial)
{
    *superficial = kind == TL_BOUNDARY_FASCIA_SUPERFICIAL || kind == TL_BOUNDARY_TENDON_SUPERFICIAL;
    return *superficial || kind == TL_BOUNDARY_FASCIA_DEEP || kind == TL_BOUNDARY_TENDON_DEEP;
}

/* B-mode and overlay of one case, for eyes; a failed write is only reported. */
static void dump_case(const eval_ctx *ctx, uint64_t index, const tl_bmode *img,
                      const tl_analysis_result *r, const tl_sim_truth *truth)
{
    char path[512];
    snprintf(path, sizeof path, "%s/case_%04llu.png", ctx->dump, (unsigned long long)index);
    tl_status st = tl_png_write(path, img->pixels, img->width, img->height, img->stride, 1);
    uint8_t *rgb = malloc((size_t)img->width * 3 * img->height);
    if (st == TL_OK && rgb && tl_analysis_draw_overlay(img, r, rgb, img->width * 3) == TL_OK) {
        /* the truth band borders, dotted: superficial red, deep magenta */
        for (uint32_t b = 0; b < truth->n_boundaries; b++) {
            const tl_sim_boundary *B = &truth->boundaries[b];
            bool sup;
            if (!band_border(B->kind, &sup))
                continue;
            for (uint32_t c = 0; c < img->width; c += 4) {
                float x = img->origin_x_mm + (float)c * img->spacing_mm;
                float z = tl_polyline_z(B->x_mm, B->z_mm, B->n, x);
                if (isnan(z))
                    continue;
                long row = lroundf((z - img->origin_z_mm) / img->spacing_mm);
                if (row < 0 || row + 1 >= (long)img->height || c + 1 >= img->width)
                    continue;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        uint8_t *px = rgb + (size_t)(row + dy) * img->width * 3 + (size_t)(c + (uint32_t)dx) * 3;
                        px[0] = 255;
                        px[1] = 0;
                        px[2] = sup ? 0 : 255;
                    }
            }
        }
        snprintf(path, sizeof path, "%s/case_%04llu_ov.png", ctx->dump, (unsigned long long)index);
        st = tl_png_write(path, rgb, img->width, img->height, img->width * 3, 3);
    }
    free(rgb);
    if (st == TL_OK && img->valid) {
        snprintf(path, sizeof path, "%s/case_%04llu_valid.png", ctx->dump, (unsigned long long)index);
        st = tl_png_write(path, img->valid, img->width, img->height, img->stride, 1);
    }
    snprintf(path, sizeof path, "%s/case_%04llu.txt", ctx->dump, (unsigned long long)index);
    FILE *f = st == TL_OK ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "spacing_mm %.6f origin_x_mm %.4f origin_z_mm %.4f\n", img->spacing_mm,
                img->origin_x_mm, img->origin_z_mm);
        st = fclose(f) == 0 ? TL_OK : TL_ERR_IO;
    }
    if (st != TL_OK)
        fprintf(stderr, "talus eval tissue: cannot write %s (%s)\n", path, tl_strerror(st));
}

tl_status eval_ctx_create(eval_ctx **out)
{
    eval_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return TL_ERR_NO_MEM;
    tl_status st = tl_analyzer_create(&c->an);
    if (st != TL_OK) {
        free(c);
        return st;
    }
    *out = c;
    return TL_OK;
}

void eval_ctx_destroy(eval_ctx *c)
{
    if (!c)
        return;
    tl_analyzer_destroy(c->an);
    free(c->rf);
    free(c);
}

static tl_status seti(tl_sim *sim, const char *key, int v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%d", v);
    return tl_sim_set_param(sim, key, buf);
}

static tl_status setf(tl_sim *sim, const char *key, double v)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%.4f", v);
    return tl_sim_set_param(sim, key, buf);
}

/* Does a target explain this truth lesion? Its centroid inside the lesion
 * ellipse grown by 1 mm, or within 1.5 mm of the lesion's centre. */
static bool target_hits(const tl_analysis_target *t, const tl_sim_lesion *l, float ox, float oz)
{
    float x = t->x_mm + ox, z = t->z_mm + oz;
    if (hypotf(x - l->cx_mm, z - l->cz_mm) < 1.5f)
        return true;
    tl_sim_lesion g = *l;
    g.width_mm += 2.0f;
    g.depth_mm += 2.0f;
    return tl_sim_lesion_contains(&g, x, z);
}

/* Band border errors (mm, measured - truth) at image x: superficial, deep
 * (NAN where either outline doesn't reach x). */
static void border_err_at(const tl_sim_truth *truth, const tl_analysis_result *r, float ox,
                          float oz, float x, float *esup, float *edeep)
{
    *esup = *edeep = NAN;
    for (uint32_t b = 0; b < truth->n_boundaries; b++) {
        const tl_sim_boundary *B = &truth->boundaries[b];
        bool sup;
        if (!band_border(B->kind, &sup))
            continue;
        float zt = tl_polyline_z(B->x_mm, B->z_mm, B->n, x + ox) - oz;
        const tl_analysis_polyline *pl = sup ? &r->superficial : &r->deep;
        *(sup ? esup : edeep) = tl_polyline_z(pl->x_mm, pl->z_mm, pl->n, x) - zt;
    }
}

/* --verbose detail: truth lesions "L x,z wxd dB" and targets "T<kind> x,z
 * wxd dB c<confidence>" (image mm), each with the band border errors at its
 * x ("be sup/deep"): a miss or a false target where the borders are off is
 * a border problem first. */
static void case_detail(const tl_sim_truth *truth, const tl_analysis_result *r, float ox,
                        float oz, eval_case_result *out)
{
    size_t o = 0, cap = sizeof out->detail;
    float es, ed;
    o += (size_t)snprintf(out->detail, cap, "terr %.2f",
                          isnan(out->thickness_err) ? -1.0 : out->thickness_err);
    /* the border errors at the measurement site: which border went wrong */
    if (!isnan(r->site_x_mm)) {
        border_err_at(truth, r, ox, oz, r->site_x_mm, &es, &ed);
        o += (size_t)snprintf(out->detail + o, cap - o, " site %.1f be %.2f/%.2f", r->site_x_mm,
                              es, ed);
        /* the truth site (image mm): a wrong site is a cause of its own */
        if (isfinite(truth->site_x_mm))
            o += (size_t)snprintf(out->detail + o, cap - o, " tsite %.1f", truth->site_x_mm - ox);
    }
    for (uint32_t i = 0; i < truth->n_lesions && o < cap; i++) {
        const tl_sim_lesion *l = &truth->lesions[i];
        border_err_at(truth, r, ox, oz, l->cx_mm - ox, &es, &ed);
        o += (size_t)snprintf(out->detail + o, cap - o, " | L %.1f,%.1f %.1fx%.1f %.0fdB be %.2f/%.2f",
                              l->cx_mm - ox, l->cz_mm - oz, l->width_mm, l->depth_mm,
                              l->contrast_db, es, ed);
    }
    for (uint32_t k = 0; k < r->n_targets && o < cap; k++) {
        const tl_analysis_target *t = &r->targets[k];
        border_err_at(truth, r, ox, oz, t->x_mm, &es, &ed);
        o += (size_t)snprintf(out->detail + o, cap - o,
                              " | T%d %.1f,%.1f %.1fx%.1f %.1fdB c%.2f be %.2f/%.2f", t->kind,
                              t->x_mm, t->z_mm, t->width_mm, t->depth_mm, t->contrast_db,
                              t->confidence, es, ed);
    }
}

tl_status eval_run_case(eval_ctx *ctx, int anatomy, uint64_t seed, uint64_t index,
                        eval_case_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->thickness_err = NAN;
    tl_rng rng;
    tl_rng_seed(&rng, seed * 0x9E3779B97F4A7C15ull + index * 0xBF58476D1CE4E5B9ull + (uint64_t)anatomy);
    const char *preset = anatomy == TL_AN_PLANTAR_FASCIA ? "plantar-fascia"
                         : anatomy == TL_AN_ACHILLES     ? "achilles"
                                                         : "ankle-recess";
    tl_sim *sim = NULL;
    tl_status st = tl_sim_create(preset, tl_rng_next(&rng), &sim);
    if (st != TL_OK) {
        snprintf(err, errlen, "simulator preset %s", preset);
        return st;
    }
    /* The scene. */
    double thick = tl_rng_range(&rng, 2.0, 8.0);
    bool lesion = anatomy != TL_AN_ANKLE_RECESS && tl_rng_uniform(&rng) < 0.5;
    bool anechoic = tl_rng_uniform(&rng) < 0.2;
    double lw = tl_rng_range(&rng, 2.0, 10.0), ld = tl_rng_range(&rng, 1.0, 4.0);
    double lc = tl_rng_range(&rng, -20.0, -3.0);
    bool aniso = tl_rng_uniform(&rng) < 0.3;
    double adeg = (tl_rng_uniform(&rng) < 0.5 ? -1 : 1) * tl_rng_range(&rng, 4.0, 15.0);
    double f0 = tl_rng_range(&rng, 7.5, 15.0);
    double depth = tl_rng_range(anatomy == TL_AN_ANKLE_RECESS ? &rng : &rng,
                                anatomy == TL_AN_ANKLE_RECESS ? 30.0 : 25.0, 45.0);
    double gain = tl_rng_range(&rng, -6.0, 6.0), noise = tl_rng_range(&rng, -75.0, -50.0);
    int grade = (int)(tl_rng_uniform(&rng) * 4.0);
    double cart = tl_rng_range(&rng, 0.8, 2.2);
    bool insertion = tl_rng_uniform(&rng) < 0.35;
    bool fluid = tl_rng_uniform(&rng) < 0.15;
    double age = tl_rng_range(&rng, 20.0, 80.0);
    char sex = tl_rng_uniform(&rng) < 0.5 ? 'M' : 'F';
    bool patient = tl_rng_uniform(&rng) < 0.8;

    st = TL_OK;
    st = st ? st : setf(sim, "f0_mhz", f0);
    st = st ? st : setf(sim, "depth_mm", depth);
    st = st ? st : setf(sim, "gain_db", gain);
    st = st ? st : setf(sim, "noise_db", noise);
    st = st ? st : setf(sim, "anisotropy_deg", aniso ? adeg : 0.0);
    if (anatomy == TL_AN_ANKLE_RECESS) {
        st = st ? st : seti(sim, "effusion_grade", grade);
        st = st ? st : setf(sim, "cartilage_mm", cart);
    } else {
        st = st ? st : setf(sim, "thickness_mm", thick);
        st = st ? st : seti(sim, "lesion", lesion);
        if (lesion) {
            st = st ? st : setf(sim, "lesion_width_mm", lw);
            st = st ? st : setf(sim, "lesion_depth_mm", ld);
            st = st ? st : setf(sim, "lesion_contrast_db", lc);
            st = st ? st : tl_sim_set_param(sim, "lesion_kind", anechoic ? "anechoic" : "hypoechoic");
        }
        if (anatomy == TL_AN_ACHILLES)
            st = st ? st : tl_sim_set_param(sim, "site", insertion ? "insertion" : "midportion");
        if (anatomy == TL_AN_PLANTAR_FASCIA)
            st = st ? st : seti(sim, "fluid", fluid);
    }
    tl_geometry g;
    st = st ? st : tl_sim_get_geometry(sim, &g);
    if (st != TL_OK) {
        snprintf(err, errlen, "simulator parameters");
        tl_sim_destroy(sim);
        return st;
    }
    size_t n = (size_t)g.lines * g.samples;
    if (n > ctx->rf_cap) {
        int16_t *p = realloc(ctx->rf, n * sizeof *p);
        if (!p) {
            tl_sim_destroy(sim);
            return TL_ERR_NO_MEM;
        }
        ctx->rf = p;
        ctx->rf_cap = n;
    }
    tl_sim_truth *truth = calloc(1, sizeof *truth);
    if (!truth) {
        tl_sim_destroy(sim);
        return TL_ERR_NO_MEM;
    }
    st = tl_sim_render(sim, 0, ctx->rf, n, truth);
    tl_sim_destroy(sim);
    if (st != TL_OK) {
        snprintf(err, errlen, "render");
        free(truth);
        return st;
    }
    /* The imaging chain, as the station runs it. */
    tl_imaging_params ip = tl_imaging_params_default();
    tl_imaging_plan *plan = NULL;
    tl_bmode img;
    memset(&img, 0, sizeof img);
    st = tl_imaging_plan_create(&g, TL_IMAGE_RF_REAL, &ip, &plan);
    st = st ? st : tl_imaging_bmode_alloc(plan, &img);
    if (st == TL_OK) {
        tl_frame f;
        memset(&f, 0, sizeof f);
        f.geom = g;
        f.type = TL_IMAGE_RF_REAL;
        f.data = ctx->rf;
        f.data_bytes = n * sizeof(int16_t);
        st = tl_imaging_execute(plan, &f, &img, NULL);
    }
    tl_imaging_plan_destroy(plan);
    if (st != TL_OK) {
        snprintf(err, errlen, "imaging");
        tl_bmode_free(&img);
        free(truth);
        return st;
    }
    /* The analysis. */
    tl_analysis_params p = tl_analysis_params_default(anatomy);
    if (patient) {
        p.age_years = (float)age;
        p.sex = sex;
    }
    tl_analysis_result r;
    uint64_t t0 = tl_now_ns();
    st = tl_analyze(ctx->an, &img, &p, &r);
    out->analysis_ms = (double)(tl_now_ns() - t0) / 1e6;
    /* The station analyses frame after frame with a warm workspace: the
     * CPU figure is a second call on the same frame (its result is the
     * same; the first call's stands). */
    out->analysis_cpu_ms = NAN;
    if (st == TL_OK) {
        tl_analysis_result again;
        uint64_t c0 = tl_thread_cpu_ns();
        tl_analyze(ctx->an, &img, &p, &again);
        out->analysis_cpu_ms = (double)(tl_thread_cpu_ns() - c0) / 1e6;
    }
    if (st == TL_OK && ctx->dump)
        dump_case(ctx, index, &img, &r, truth);
    float ox = img.origin_x_mm, oz = img.origin_z_mm;
    tl_bmode_free(&img);
    if (st != TL_OK) {
        snprintf(err, errlen, "analysis");
        free(truth);
        return st;
    }
    /* Scoring. */
    out->found = r.structure_found;
    out->anisotropic = truth->anisotropic;
    bool truth_abn;
    if (anatomy == TL_AN_PLANTAR_FASCIA)
        truth_abn = truth->thickness_mm > 4.0f;
    else if (anatomy == TL_AN_ACHILLES)
        truth_abn = truth->thickness_mm >
                    tl_achilles_limit_mm(truth->achilles_insertion, p.age_years, p.sex);
    else
        truth_abn = truth->effusion_grade >= 2;
    out->abnormal_ok = truth_abn == r.abnormal;
    if (isfinite(truth->thickness_mm))
        out->thickness_err = r.structure_found && isfinite(r.thickness_mm)
                                 ? fabs((double)r.thickness_mm - truth->thickness_mm)
                                 : fabs((double)truth->thickness_mm);
    out->lesion_called = r.n_targets > 0;
    for (uint32_t i = 0; i < truth->n_lesions && i < EVAL_MAX_LESIONS; i++) {
        const tl_sim_lesion *l = &truth->lesions[i];
        bool big = l->width_mm >= 3.0f && l->contrast_db <= -6.0f;
        int hit = -1;
        float best = INFINITY;
        for (uint32_t k = 0; k < r.n_targets; k++) {
            float d = hypotf(r.targets[k].x_mm + ox - l->cx_mm, r.targets[k].z_mm + oz - l->cz_mm);
            if (target_hits(&r.targets[k], l, ox, oz) && d < best) {
                best = d;
                hit = (int)k;
            }
        }
        out->lesions++;
        out->lesions_big += big;
        if (hit >= 0) {
            out->lesions_hit++;
            out->lesions_big_hit += big;
            out->centroid_err[out->n_centroid++] = best;
        }
    }
    case_detail(truth, &r, ox, oz, out);
    snprintf(out->summary, sizeof out->summary,
             "truth %.2f meas %.2f found %d abn %d/%d lesions %d hit %d targets %u | params "
             "thickness_mm=%.2f lesion=%d lesion_width_mm=%.1f lesion_depth_mm=%.1f "
             "lesion_contrast_db=%.1f lesion_kind=%s anisotropy_deg=%.1f f0_mhz=%.1f depth_mm=%.0f "
             "gain_db=%.1f noise_db=%.0f effusion_grade=%d cartilage_mm=%.2f site=%s fluid=%d",
             truth->thickness_mm, r.thickness_mm, r.structure_found, truth_abn, r.abnormal,
             out->lesions, out->lesions_hit, r.n_targets, thick, lesion, lw, ld, lc,
             anechoic ? "anechoic" : "hypoechoic", aniso ? adeg : 0.0, f0, depth, gain, noise,
             grade, cart, insertion ? "insertion" : "midportion", fluid);
    free(truth);
    return TL_OK;
}
