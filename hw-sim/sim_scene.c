/* Scene build: sample the anatomy model along every sub-column ray, deposit
 * scatterers and specular reflectors, accumulate attenuation and fold the
 * sub-columns into one reflectivity signal per scan line (lateral beam). */
#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

/* Anatomy coordinates are depth below the skin, which conforms to the face:
 * for a convex probe x is the arc length along the face and z the distance
 * below it along the radius; for a linear probe they are probe coordinates.
 * The probe's tilt (anisotropy) then rotates them about the pivot. */
void sim_probe_to_face(const sim_model *m, float px, float pz, float *fx, float *fz)
{
    float R = m->convex_r;
    if (R > 0.0f) {
        float rr = hypotf(px, pz + R), th = atan2f(px, pz + R);
        *fx = R * th;
        *fz = rr - R;
    } else {
        *fx = px;
        *fz = pz;
    }
}

void sim_face_to_probe(const sim_model *m, float fx, float fz, float *px, float *pz)
{
    float R = m->convex_r;
    if (R > 0.0f) {
        float th = fx / R, rr = R + fz;
        *px = rr * sinf(th);
        *pz = rr * cosf(th) - R;
    } else {
        *px = fx;
        *pz = fz;
    }
}

void sim_probe_to_anatomy(const sim_model *m, float px, float pz, float *ax, float *az)
{
    float fx, fz;
    sim_probe_to_face(m, px, pz, &fx, &fz);
    float c = cosf(m->rot_rad), s = sinf(m->rot_rad);
    float dx = fx - m->pivot_x, dz = fz - m->pivot_z;
    *ax = m->pivot_x + dx * c + dz * s;
    *az = m->pivot_z - dx * s + dz * c;
}

void sim_anatomy_to_probe(const sim_model *m, float ax, float az, float *px, float *pz)
{
    float c = cosf(m->rot_rad), s = sinf(m->rot_rad);
    float dx = ax - m->pivot_x, dz = az - m->pivot_z;
    sim_face_to_probe(m, m->pivot_x + dx * c - dz * s, m->pivot_z + dx * s + dz * c, px, pz);
}

/* Ray of sub-column position u (in line units) in physical probe coordinates. */
void sim_column_ray(const tl_geometry *g, float u, float off, float *ox, float *oz,
                       float *dx, float *dz)
{
    float uu = u - 0.5f * (float)(g->lines - 1);
    if (g->kind == TL_PROBE_CONVEX) {
        float th = uu * g->pitch_mm / g->radius_mm;
        *dx = sinf(th);
        *dz = cosf(th);
        *ox = g->radius_mm * *dx + off;
        *oz = g->radius_mm * *dz - g->radius_mm;
    } else {
        /* a steered line leaves its element at steer_deg: the beam, its
         * point spread and the path it attenuates along all follow it */
        float b = DEG2RAD(g->steer_deg);
        *ox = uu * g->pitch_mm + off;
        *oz = 0.0f;
        *dx = sinf(b);
        *dz = cosf(b);
    }
}

/* Band-limited deposit of an impulse at fractional sample pos (Keys cubic). */
void sim_deposit(float *col, uint32_t S, float pos, float amp)
{
    int i0 = (int)floorf(pos);
    float t = pos - (float)i0;
    float w[4];
    const float a = -0.5f;
    float d[4] = { 1.0f + t, t, 1.0f - t, 2.0f - t };
    for (int k = 0; k < 4; k++) {
        float x = d[k];
        w[k] = x <= 1.0f ? ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f
                         : ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a;
    }
    for (int k = 0; k < 4; k++) {
        int s = i0 - 1 + k;
        if (s >= 0 && s < (int)S)
            col[s] += amp * w[k];
    }
}

static float lobe(float nx, float nz, float dx, float dz, float width)
{
    float c = fabsf(nx * dx + nz * dz);
    float th = acosf(c > 1.0f ? 1.0f : c);
    return expf(-(th * th) / (width * width));
}

typedef struct {
    float *ga, *gb, *gs;        /* C*S sub-column fields */
    float *colatt;               /* S: attenuation factor of the current column */
} build_ctx;

/* March one sub-column: weight scatterers by echo x attenuation and deposit
 * the specular reflectors. Fills att/kidx when the column is a line centre. */
static void march_column(sim_scene *sc, const sim_params *p, build_ctx *bx, uint32_t j,
                         float *att_line, uint8_t *kidx_line)
{
    const tl_geometry *g = &sc->g;
    const sim_model *m = &sc->model;
    uint32_t S = sc->S;
    float u = ((float)j + 0.5f) / SIM_SUB - 0.5f;
    float ox, oz, dx, dz;
    sim_column_ray(g, u, p->lateral_offset_mm, &ox, &oz, &dx, &dz);
    float scale = 1.0f + p->sos_error_pct / 100.0f;
    float ds = sc->dz_disp * scale; /* physical mm per sample */
    /* ray direction in anatomy coordinates (radial = straight down under a
     * convex face) */
    float c = cosf(m->rot_rad), sn = sinf(m->rot_rad);
    float rdx = m->convex_r > 0.0f ? 0.0f : dx, rdz = m->convex_r > 0.0f ? 1.0f : dz;
    float adx = rdx * c + rdz * sn, adz = -rdx * sn + rdz * c;
    float f0 = p->f0_mhz, sf = sc->sigma_f_mhz;
    float A = 0.0f;
    float prev_u = NAN;
    float prev_sd[SIM_MAX_CURVES];
    for (int k = 0; k < m->ncurves; k++)
        prev_sd[k] = NAN;
    float *ga = bx->ga ? bx->ga + (size_t)j * S : NULL;
    float *gb = bx->gb ? bx->gb + (size_t)j * S : NULL;
    float *gs = bx->gs + (size_t)j * S;
    for (uint32_t s = 0; s < S; s++) {
        float r = (g->depth_start_mm + (float)s * sc->dz_disp) * scale;
        float ax, az, fx, fz;
        sim_probe_to_face(m, ox + r * dx, oz + r * dz, &fx, &fz);
        sim_probe_to_anatomy(m, ox + r * dx, oz + r * dz, &ax, &az);
        sim_med md = { 0 };
        md.fib_u = NAN;
        /* the skin stays on the face when the probe tilts (anisotropy): the
         * tilt moves what lies beneath it */
        if (m->anatomy == TL_ANATOMY_NONE)
            m->medium(m, ax, az, &md); /* phantoms: no skin */
        else if (!sim_med_skin(m, fz, &md))
            m->medium(m, ax, fmaxf(az, SIM_DERMIS_MM + 0.05f), &md);
        float at = sim_att_amp(A, f0, sf);
        bx->colatt[s] = at;
        if (att_line) {
            att_line[s] = at;
            kidx_line[s] = (uint8_t)sim_kernel_index(sc, A);
        }
        float echo = md.echo;
        if (!isnan(md.fib_u) && md.fib_k > 0.0f)
            echo *= 1.0f - md.fib_k + md.fib_k * lobe(md.fib_nx, md.fib_nz, adx, adz,
                                                     2.0f * md.fib_w);
        if (ga) {
            ga[s] *= echo * at;
            gb[s] *= echo * at;
        }
        /* fibre / septum reflectors at integer crossings of fib_u */
        if (p->speckle && !isnan(md.fib_u) && !isnan(prev_u) && md.fib_amp > 0.0f &&
            floorf(md.fib_u) != floorf(prev_u)) {
            float kf = floorf(fmaxf(md.fib_u, prev_u));
            float t = (kf - prev_u) / (md.fib_u - prev_u);
            uint64_t key = (uint64_t)(int64_t)kf;
            float mod = sim_noise1(m->seed ^ sim_hash(key, 77), ax / 1.2f);
            mod = (0.25f + 0.75f * mod) * (0.5f + sim_hash01(m->seed, key));
            float a = md.fib_amp * mod * lobe(md.fib_nx, md.fib_nz, adx, adz, md.fib_w);
            if (md.fib_rough > 0.0f) {
                /* rough septa scatter whatever their orientation: a part that
                 * is incoherent across the beam (unit variance per column) */
                float g = sim_hash01(m->seed ^ sim_hash(key, 991), j) * 2.0f - 1.0f;
                a = (1.0f - md.fib_rough) * a + md.fib_rough * md.fib_amp * mod * 1.73f * g * 2.0f;
            }
            sim_deposit(gs, S, (float)s - 1.0f + t, a * at);
        }
        prev_u = md.fib_u;
        /* interfaces: sign changes of z - curve(x) */
        for (int k = 0; k < m->ncurves; k++) {
            const sim_curve *cv = m->curves[k];
            float cx = cv->fixed ? fx : ax, cz = cv->fixed ? fz : az;
            float zc = sim_curve_eval(cv, cx);
            float sd = isnan(zc) ? NAN : cz - zc;
            if (!isnan(sd) && !isnan(prev_sd[k]) && (sd >= 0.0f) != (prev_sd[k] >= 0.0f) &&
                cv->amp > 0.0f) {
                float t = prev_sd[k] / (prev_sd[k] - sd);
                float pos = (float)s - 1.0f + t;
                float slope = sim_curve_slope(cv, cx);
                float nrm = 1.0f / sqrtf(1.0f + slope * slope);
                float a = cv->fixed ? cv->amp
                                    : cv->amp * lobe(-slope * nrm, nrm, adx, adz, cv->width_rad);
                float att_here = bx->colatt[s > 0 ? s - 1 : 0];
                if (cv->bone) {
                    /* a rough surface: a part incoherent from column to column,
                     * so a tilted cortex stays bright where a smooth interface
                     * would cancel across the beam */
                    uint64_t h = sim_hash(m->seed ^ (uint64_t)(k + 1) * 0x51ED27u, j);
                    float g = (float)(h >> 40) * (1.0f / 16777216.0f) +
                              (float)((h >> 16) & 0xFFFFFF) * (1.0f / 16777216.0f) - 1.0f;
                    a = a + cv->amp * 1.2f * g;
                }
                sim_deposit(gs, S, pos, a * att_here);
                if (cv->bone) {
                    /* the cortex has thickness: two weaker echoes just beneath */
                    sim_deposit(gs, S, pos + 0.15f / ds, 0.45f * a * att_here);
                    sim_deposit(gs, S, pos + 0.3f / ds, 0.25f * a * att_here);
                    sim_deposit(gs, S, pos + 0.5f / ds, 0.12f * a * att_here);
                }
            }
            prev_sd[k] = sd;
        }
        A += 2.0f * md.atten / 86.8589f * ds; /* dB/cm/MHz -> Np/mm/MHz, round trip */
    }
}

static void deposit_wires(sim_scene *sc, const sim_params *p, float *gs)
{
    const tl_geometry *g = &sc->g;
    const sim_model *m = &sc->model;
    float scale = 1.0f + p->sos_error_pct / 100.0f;
    for (int w = 0; w < m->nwires; w++) {
        float px, pz;
        sim_anatomy_to_probe(m, m->wire_x[w], m->wire_z[w], &px, &pz);
        float xd = px - p->lateral_offset_mm, u, r;
        if (g->kind == TL_PROBE_CONVEX) {
            float th = atan2f(xd, pz + g->radius_mm);
            u = th * g->radius_mm / g->pitch_mm + 0.5f * (float)(g->lines - 1);
            r = hypotf(xd, pz + g->radius_mm) - g->radius_mm;
        } else {
            /* the steered line through the wire and its range along it */
            float b = DEG2RAD(g->steer_deg);
            u = (xd - pz * tanf(b)) / g->pitch_mm + 0.5f * (float)(g->lines - 1);
            r = pz / cosf(b);
        }
        float s = (r / scale - g->depth_start_mm) / sc->dz_disp;
        float jf = (u + 0.5f) * SIM_SUB - 0.5f;
        int j0 = (int)floorf(jf);
        float t = jf - (float)j0;
        if (s < 2.0f || s > (float)sc->S - 3.0f)
            continue;
        int line = (int)lroundf(u);
        line = line < 0 ? 0 : line >= (int)sc->L ? (int)sc->L - 1 : line;
        float at = sc->att[(size_t)line * sc->S + (size_t)s];
        int C = (int)(sc->L * SIM_SUB);
        if (j0 >= 0 && j0 < C)
            sim_deposit(gs + (size_t)j0 * sc->S, sc->S, s, m->wire_amp * (1.0f - t) * at);
        if (j0 + 1 >= 0 && j0 + 1 < C)
            sim_deposit(gs + (size_t)(j0 + 1) * sc->S, sc->S, s, m->wire_amp * t * at);
    }
}

/* Lateral beam: fold sub-columns into lines with Gaussian weights. */
static void lateral_fold(const sim_scene *sc, const float *gsrc, float *dst, const float *w,
                         int q0, int nq)
{
    uint32_t S = sc->S;
    int C = (int)(sc->L * SIM_SUB);
    for (uint32_t i = 0; i < sc->L; i++) {
        float *d = dst + (size_t)i * S;
        memset(d, 0, sizeof(float) * S);
        for (int q = 0; q < nq; q++) {
            int j = (int)i * SIM_SUB + q0 + q;
            if (j < 0 || j >= C)
                continue;
            const float *src = gsrc + (size_t)j * S;
            float wq = w[q];
            for (uint32_t s = 0; s < S; s++)
                d[s] += wq * src[s];
        }
    }
}

void sim_scene_free(sim_scene *sc)
{
    free(sc->ls);
    free(sc->la);
    free(sc->lb);
    free(sc->att);
    free(sc->kidx);
    free(sc->sgain);
    free(sc->lgain);
    free(sc->kern);
    free(sc->noise);
    sim_model_free(&sc->model);
    memset(sc, 0, sizeof *sc);
}

static tl_status build_model(sim_model *m, const sim_params *p, sim_preset preset)
{
    int anat = preset == PRESET_PLANTAR                ? TL_ANATOMY_PLANTAR_FASCIA
               : preset == PRESET_ACHILLES             ? TL_ANATOMY_ACHILLES
               : preset == PRESET_ANKLE                ? TL_ANATOMY_ANKLE_RECESS
               : preset == PRESET_NEEDLE_INSERTION     ? p->anatomy
                                                       : TL_ANATOMY_NONE;
    tl_status st;
    switch (anat) {
    case TL_ANATOMY_PLANTAR_FASCIA: st = sim_model_plantar(m, p); break;
    case TL_ANATOMY_ACHILLES: st = sim_model_achilles(m, p); break;
    case TL_ANATOMY_ANKLE_RECESS: st = sim_model_ankle(m, p); break;
    default: return sim_model_phantom(m, p, preset);
    }
    /* anisotropy: the probe tilted against the anatomy about the site */
    m->rot_rad = DEG2RAD(p->anisotropy_deg);
    return st;
}

static void build_gains(sim_scene *sc, const sim_params *p)
{
    float out_scale = 400.0f * powf(10.0f, p->gain_db / 20.0f);
    float zmax = tl_geometry_depth_mm(&sc->g);
    for (uint32_t s = 0; s < sc->S; s++) {
        float z = sc->g.depth_start_mm + (float)s * sc->dz_disp;
        float tgc;
        if (p->tgc_db_cm < 0.0f) {
            float A = 2.0f * p->attenuation / 86.8589f * z;
            tgc = 1.0f / sim_att_amp(A, p->f0_mhz, sc->sigma_f_mhz);
        } else {
            tgc = powf(10.0f, p->tgc_db_cm * z / 10.0f / 20.0f);
        }
        float tilt = powf(10.0f, p->gain_tilt_db * (z / zmax) / 20.0f);
        sc->sgain[s] = out_scale * tgc * tilt;
    }
    for (uint32_t i = 0; i < sc->L; i++)
        sc->lgain[i] = 1.0f;
    /* the probe has 128 elements whatever the line count */
    for (uint32_t i = 0; i < sc->L; i++) {
        float e = ((float)i + 0.5f) * 128.0f / (float)sc->L - 0.5f;
        for (int k = 0; k < p->n_dead; k++) {
            float d = fabsf(e - (float)p->dead[k]);
            if (d < 0.5f)
                sc->lgain[i] *= 0.1f;
            else if (d < 1.5f)
                sc->lgain[i] *= 0.7f;
        }
        for (int k = 0; k < p->n_weak; k++)
            if (fabsf(e - (float)p->weak[k]) < 0.5f)
                sc->lgain[i] *= 0.5f;
    }
}

tl_status sim_scene_build(sim_scene *sc, const sim_params *p, sim_preset preset, uint64_t seed)
{
    sim_scene_free(sc);
    tl_status st = sim_params_geometry(p, &sc->g);
    if (st != TL_OK)
        return st;
    sc->L = sc->g.lines;
    sc->S = sc->g.samples;
    sc->dz_disp = tl_geometry_dz_mm(&sc->g);
    sc->sos_scale = 1.0f + p->sos_error_pct / 100.0f;
    sc->lat_off = p->lateral_offset_mm;
    if ((st = sim_pulse_build(sc, p)) != TL_OK)
        return st;
    sc->model.seed = seed;
    sc->model.par = p;
    sc->model.convex_r = sc->g.kind == TL_PROBE_CONVEX ? sc->g.radius_mm : 0.0f;
    if ((st = build_model(&sc->model, p, preset)) != TL_OK) {
        sim_scene_free(sc);
        return st;
    }
    uint32_t L = sc->L, S = sc->S, C = L * SIM_SUB;
    size_t LS = (size_t)L * S, CS = (size_t)C * S;
    sc->ls = calloc(LS, sizeof(float));
    sc->la = calloc(LS, sizeof(float));
    sc->lb = calloc(LS, sizeof(float));
    sc->att = calloc(LS, sizeof(float));
    sc->kidx = calloc(LS, 1);
    sc->sgain = calloc(S, sizeof(float));
    sc->lgain = calloc(L, sizeof(float));
    sc->noise = malloc(sizeof(float) * (SIM_NOISE_N + S));
    build_ctx bx = { 0 };
    bx.gs = calloc(CS, sizeof(float));
    bx.colatt = calloc(S, sizeof(float));
    if (p->speckle) {
        bx.ga = calloc(CS, sizeof(float));
        bx.gb = calloc(CS, sizeof(float));
    }
    float *w = NULL;
    if (!sc->ls || !sc->la || !sc->lb || !sc->att || !sc->kidx || !sc->sgain || !sc->lgain ||
        !sc->noise || !bx.gs || !bx.colatt || (p->speckle && (!bx.ga || !bx.gb)))
        goto no_mem;
    /* lateral beam weights over sub-columns, normalised to unit sum so a
     * specular reflector keeps its amplitude */
    float sub = sc->g.pitch_mm / SIM_SUB;
    float sigx = p->beam_mm * (10.0f / p->f0_mhz) / 2.35482f;
    int H = (int)ceilf(3.0f * sigx / sub);
    int q0 = -H, nq = 2 * H + SIM_SUB;
    w = malloc(sizeof(float) * (size_t)nq);
    if (!w)
        goto no_mem;
    float wsum = 0.0f, w2 = 0.0f;
    for (int q = 0; q < nq; q++) {
        float x = (((float)(q0 + q) + 0.5f) / SIM_SUB - 0.5f) * sc->g.pitch_mm;
        w[q] = expf(-x * x / (2.0f * sigx * sigx));
        wsum += w[q];
    }
    for (int q = 0; q < nq; q++) {
        w[q] /= wsum;
        w2 += w[q] * w[q];
    }
    float k2 = 0.0f;
    for (int n = 0; n < sc->ntap; n++)
        k2 += sc->kern[n] * sc->kern[n];
    /* scatterers: spc per resolution cell (-6 dB beam width x pulse length) */
    float cells = (2.35482f * sigx / sub) * (sc->pulse_fwhm_mm / sc->dz_disp);
    float rho = p->scatterers_per_cell / cells; /* per sub-column cell */
    sc->spc = p->scatterers_per_cell;
    if (p->speckle) {
        /* unit tissue RMS after lateral fold and pulse: bilinear split keeps
         * 2/3 of the power at f0 = fs/4 */
        float amp = 1.0f / sqrtf(rho * w2 * k2 * (2.0f / 3.0f));
        tl_rng rng;
        tl_rng_seed(&rng, seed * 0x9E3779B97F4A7C15ull + 12345u);
        /* stratified: a fixed count per block of 4 x 4 cells (uniform within
         * it), so the local density does not fluctuate like a Poisson process
         * and the speckle is fully developed at a modest count */
        const uint32_t B = 4;
        float per_block = rho * (float)(B * B), carry = 0.0f;
        for (int f = 0; f < 2; f++) {
            float *gf = f ? bx.gb : bx.ga;
            for (uint32_t bj = 0; bj + 1 < C; bj += B)
                for (uint32_t bs = 0; bs + 1 < S; bs += B) {
                    float wj = (float)(bj + B < C - 1 ? B : C - 1 - bj);
                    float ws = (float)(bs + B < S - 1 ? B : S - 1 - bs);
                    carry += per_block * wj * ws / (float)(B * B);
                    int cnt = (int)carry;
                    carry -= (float)cnt;
                    for (int k = 0; k < cnt; k++) {
                        uint64_t rnd = tl_rng_next(&rng);
                        float jf = (float)bj + (float)(rnd >> 40) * (1.0f / 16777216.0f) * wj;
                        float sfp = (float)bs + (float)((rnd >> 16) & 0xFFFFFF) *
                                                    (1.0f / 16777216.0f) * ws;
                        float a = amp * (float)tl_rng_normal(&rng);
                        uint32_t j0 = (uint32_t)jf, s0 = (uint32_t)sfp;
                        if (j0 >= C - 1)
                            j0 = C - 2;
                        if (s0 >= S - 1)
                            s0 = S - 2;
                        float tx = jf - (float)j0, tz = sfp - (float)s0;
                        float *c0 = gf + (size_t)j0 * S + s0;
                        c0[0] += a * (1 - tx) * (1 - tz);
                        c0[1] += a * (1 - tx) * tz;
                        c0[S] += a * tx * (1 - tz);
                        c0[S + 1] += a * tx * tz;
                    }
                }
        }
    }
    for (uint32_t j = 0; j < C; j++) {
        bool centre = (j % SIM_SUB) == SIM_SUB / 2;
        uint32_t i = j / SIM_SUB;
        march_column(sc, p, &bx, j, centre ? sc->att + (size_t)i * S : NULL,
                     centre ? sc->kidx + (size_t)i * S : NULL);
    }
    deposit_wires(sc, p, bx.gs);
    lateral_fold(sc, bx.gs, sc->ls, w, q0, nq);
    if (p->speckle) {
        lateral_fold(sc, bx.ga, sc->la, w, q0, nq);
        lateral_fold(sc, bx.gb, sc->lb, w, q0, nq);
    }
    free(w);
    free(bx.gs);
    free(bx.colatt);
    free(bx.ga);
    free(bx.gb);
    build_gains(sc, p);
    tl_rng rng;
    tl_rng_seed(&rng, seed ^ 0xA5A5A5A5u);
    for (size_t k = 0; k < SIM_NOISE_N + S; k++)
        sc->noise[k] = (float)tl_rng_normal(&rng);
    sc->noise_amp = powf(10.0f, p->noise_db / 20.0f) / sqrtf(k2);
    return TL_OK;
no_mem:
    free(w);
    free(bx.gs);
    free(bx.colatt);
    free(bx.ga);
    free(bx.gb);
    sim_scene_free(sc);
    return TL_ERR_NO_MEM;
}
