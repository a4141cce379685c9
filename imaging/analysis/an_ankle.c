/* Anterior ankle recess (sagittal): tibia and talar dome cortices, the
 * anechoic effusion in the recess between them with its depth, area and
 * grade, and the talar cartilage over the dome.
 *
 * Near the joint the talar surface is steep and shows no echo (specular
 * reflection goes elsewhere), so the floor of the recess there is
 * extrapolated from the visible dome (a quadratic fit of its cortex) minus
 * the cartilage measured on the dome; the effusion depth is the anechoic
 * run above that floor. */
#include "an_internal.h"

#include <string.h>

/* Least-squares quadratic z = c0 + c1 u + c2 u^2 through (u, z) points. */
static bool fit_quad(const float *u, const float *z, uint32_t n, double c[3])
{
    double A[3][3] = { { 0 } }, B[3] = { 0 };
    for (uint32_t i = 0; i < n; i++) {
        double f[3] = { 1.0, u[i], (double)u[i] * u[i] };
        for (int r = 0; r < 3; r++) {
            for (int k = 0; k < 3; k++)
                A[r][k] += f[r] * f[k];
            B[r] += f[r] * z[i];
        }
    }
    /* Gaussian elimination with partial pivoting */
    for (int col = 0; col < 3; col++) {
        int piv = col;
        for (int r = col + 1; r < 3; r++)
            if (fabs(A[r][col]) > fabs(A[piv][col]))
                piv = r;
        if (fabs(A[piv][col]) < 1e-12)
            return false;
        for (int k = 0; k < 3; k++) {
            double t = A[col][k];
            A[col][k] = A[piv][k];
            A[piv][k] = t;
        }
        double t = B[col];
        B[col] = B[piv];
        B[piv] = t;
        for (int r = col + 1; r < 3; r++) {
            double f = A[r][col] / A[col][col];
            for (int k = col; k < 3; k++)
                A[r][k] -= f * A[col][k];
            B[r] -= f * B[col];
        }
    }
    for (int r = 2; r >= 0; r--) {
        double v = B[r];
        for (int k = r + 1; k < 3; k++)
            v -= A[r][k] * c[k];
        c[r] = v / A[r][r];
    }
    return true;
}

/* Robust quadratic (order 1 or 2) through points, dropping points that lie
 * shallower than the fit (an effusion only ever lifts the dark onset). */
static bool fit_lower(const float *u, const float *z, uint32_t n, int order, double c[3])
{
    float uu[AN_MAX_STRIPS], zz[AN_MAX_STRIPS];
    memcpy(uu, u, n * sizeof *u);
    memcpy(zz, z, n * sizeof *z);
    uint32_t m = n;
    c[0] = c[1] = c[2] = 0;
    for (int iter = 0; iter < 8; iter++) {
        if (m < 4)
            return iter > 0;
        if (order == 2) {
            if (!fit_quad(uu, zz, m, c))
                return false;
        } else {
            double su = 0, sz = 0, suu = 0, suz = 0;
            for (uint32_t i = 0; i < m; i++) {
                su += uu[i];
                sz += zz[i];
                suu += (double)uu[i] * uu[i];
                suz += (double)uu[i] * zz[i];
            }
            double den = m * suu - su * su;
            if (fabs(den) < 1e-9)
                return false;
            c[1] = (m * suz - su * sz) / den;
            c[0] = (sz - c[1] * su) / m;
            c[2] = 0;
        }
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
            double f = c[0] + c[1] * u[i] + c[2] * (double)u[i] * u[i];
            if (z[i] > f - 0.12) {
                uu[k] = u[i];
                zz[k] = z[i];
                k++;
            }
        }
        m = k;
    }
    return true;
}

void an_ankle(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r)
{
    an_find_bone(a, 3.0f);
    const uint32_t ns = a->ns, h = a->h;
    const float sp = a->sp, strip_mm = (float)a->sw * sp;
    /* Dark onset per strip: where the echoes end (bone, cartilage, fluid). */
    uint32_t nt = 0;
    for (uint32_t s = 0; s < ns; s += 3)
        for (uint32_t rr = (uint32_t)(2.0f / sp); rr < h; rr += 6) {
            float v = an_sm(a, s)[rr];
            if (!isnan(v) && v > 1.0f && nt < h)
                a->tmp[nt++] = v;
        }
    float tissue = an_percentile_f(a->tmp, nt, 50);
    float thr = 0.3f * tissue;
    float D[AN_MAX_STRIPS];
    int sv0 = -1, sv1 = -1;
    const int run = (int)(0.5f / sp);
    for (uint32_t s = 0; s < ns; s++) {
        D[s] = NAN;
        const float *m = an_sm(a, s);
        if (isnan(an_prof(a, s)[h / 2]))
            continue;
        for (int rr = (int)(3.0f / sp); rr + run < (int)h; rr++) {
            if (!(m[rr] < thr) || !(m[rr - 1] >= thr))
                continue;
            if (!(an_mean(m, h, (float)rr, (float)(rr + run)) < 0.6f * thr))
                continue;
            D[s] = ((float)rr - 1 + (m[rr - 1] - thr) / (m[rr - 1] - m[rr] + 1e-6f)) * sp;
            break;
        }
        if (!isnan(D[s])) {
            if (sv0 < 0)
                sv0 = (int)s;
            sv1 = (int)s;
        }
    }
    if (sv0 < 0 || sv1 - sv0 < (int)(16.0f / strip_mm)) {
        an_polyline(a, a->bone_row, &r->bone);
        return;
    }
    /* Tibia: a line through the left 8 mm; talar dome: a quadratic through
     * the right half (the joint is centred when the recess is scanned). */
    float u[AN_MAX_STRIPS], z[AN_MAX_STRIPS];
    uint32_t n = 0;
    int lsplit = sv0 + (int)(10.0f / strip_mm);
    for (int s = sv0; s <= lsplit; s++)
        if (!isnan(D[s])) {
            u[n] = an_strip_x(a, (uint32_t)s);
            z[n++] = D[s];
        }
    double tl[3];
    bool ok = fit_lower(u, z, n, 1, tl);
    if (!ok || tl[1] <= 0) {
        an_polyline(a, a->bone_row, &r->bone);
        an_warn(r, "tibia not found: centre the anterior joint in the image");
        return;
    }
    /* The joint space lets sound through to depth between two shadows:
     * find the strip with the most echo well below the onset. */
    float deep[AN_MAX_STRIPS], dv[AN_MAX_STRIPS];
    uint32_t nd = 0;
    for (uint32_t s = 0; s < ns; s++) {
        deep[s] = NAN;
        if (isnan(D[s]))
            continue;
        deep[s] = an_mean(an_prof(a, s), h, (D[s] + 3.0f) / sp, (float)h);
        if (!isnan(deep[s]))
            dv[nd++] = deep[s];
    }
    float dmed = an_percentile_f(dv, nd, 50);
    int joint = -1;
    float jbest = 0;
    int c0 = sv0 + (int)(8.0f / strip_mm), c1 = sv1 - (int)(4.0f / strip_mm);
    for (int s = c0; s <= c1; s++)
        if (!isnan(deep[s]) && deep[s] > jbest) {
            jbest = deep[s];
            joint = s;
        }
    if (joint < 0 || !(jbest > 3.0f * dmed + 1.0f)) {
        an_polyline(a, a->bone_row, &r->bone);
        an_warn(r, "joint space not seen: centre the anterior tibiotalar joint");
        return;
    }
    /* Tibia (the fitted line up to the joint) and the dome cortex beyond. */
    float tib[AN_MAX_STRIPS], tal[AN_MAX_STRIPS], cv[AN_MAX_STRIPS];
    uint32_t nc = 0;
    for (uint32_t s = 0; s < ns; s++) {
        tib[s] = tal[s] = NAN;
        float x = an_strip_x(a, s);
        if ((int)s <= joint && !isnan(D[s]) && (int)s >= sv0)
            tib[s] = (float)((tl[0] + tl[1] * x) / sp);
        /* a cortex line under an anechoic layer (cartilage) */
        if ((int)s > joint && a->bone_line[s] && !isnan(D[s]) &&
            a->bone_row[s] * sp > D[s] + 0.15f && a->bone_row[s] * sp < D[s] + 3.0f) {
            tal[s] = a->bone_row[s];
            cv[nc++] = a->bone_row[s] * sp - D[s];
        }
    }
    memcpy(a->bone_row, tib, ns * sizeof(float));
    memcpy(a->bone2_row, tal, ns * sizeof(float));
    an_polyline(a, a->bone_row, &r->bone);
    an_polyline(a, a->bone2_row, &r->bone2);
    r->structure_found = true;
    /* cartilage: the thinnest anechoic layer over the cortex (fluid only adds) */
    r->cartilage_mm = nc >= 3 ? an_percentile_f(cv, nc, 20) : NAN;

    /* Effusion: how far the end of the echoes is lifted above the tibial
     * line at the joint (the deepest pocket of the recess). */
    float lift = 0;
    int n_l = 0;
    for (int s = joint - 1; s <= joint; s++)
        if (s >= 0 && !isnan(D[s])) {
            lift += (float)(tl[0] + tl[1] * an_strip_x(a, (uint32_t)s)) - D[s];
            n_l++;
        }
    float depth = n_l ? fmaxf(0.0f, lift / (float)n_l) : 0.0f;
    if (depth < 0.6f)
        depth = 0;
    r->effusion_depth_mm = depth;
    r->thickness_mm = depth;
    r->thickness_sd_mm = 0.15f;
    r->effusion_area_mm2 = 0;
    r->effusion_grade = 0;
    float top = NAN;
    if (depth > 0) {
        /* lateral extent: where the onset stays within half the depth of
         * the pocket's top; centroid between the joint and the top */
        float dj = D[joint] - 0.0f;
        int e0 = joint, e1 = joint, smin = joint;
        while (e0 > sv0 && !isnan(D[e0 - 1]) && D[e0 - 1] < dj + 0.5f * depth)
            e0--;
        while (e1 < sv1 && !isnan(D[e1 + 1]) && D[e1 + 1] < dj + 0.5f * depth)
            e1++;
        double sum = 0;
        int cnt = 0;
        for (int s = e0; s <= e1; s++) {
            if (D[s] < D[smin])
                smin = s;
            const float *m = an_sm(a, (uint32_t)s);
            for (float zz = D[s] + 0.2f; zz < D[s] + 0.5f * depth; zz += sp) {
                sum += m[(int)(zz / sp)];
                cnt++;
            }
        }
        top = D[joint];
        r->effusion_area_mm2 = depth * (float)(e1 - e0 + 1) * strip_mm * 0.7f;
        /* Depth stands in for the EULAR-OMERACT grade (1 at or below the bony
         * joint line, 2 above it, 3 distending the capsule). */
        r->effusion_grade = depth < 2.6f ? 1 : depth < 4.8f ? 2 : 3;
        tl_analysis_target t;
        t.kind = TL_TARGET_EFFUSION;
        t.x_mm = 0.5f * (an_strip_x(a, (uint32_t)joint) + an_strip_x(a, (uint32_t)smin));
        t.z_mm = top + 0.5f * depth;
        t.width_mm = (float)(e1 - e0 + 1) * strip_mm;
        t.depth_mm = depth;
        t.area_mm2 = r->effusion_area_mm2;
        float lvl = cnt ? (float)(sum / cnt) : 0.0f;
        t.contrast_db = (fmaxf(lvl, 0.5f) - tissue) * p->dynamic_range_db / 255.0f;
        t.confidence = fminf(1.0f, 0.4f + depth / 4.0f);
        r->targets[0] = t;
        r->n_targets = 1;
        r->best_target = 0;
        r->site_x_mm = t.x_mm;
        r->site_z_mm = t.z_mm;
    } else {
        r->site_x_mm = an_strip_x(a, (uint32_t)joint);
        r->site_z_mm = D[joint];
    }
    r->abnormal_limit_mm = 2.6f;
    r->abnormal = r->effusion_grade >= 2;
    if (r->effusion_grade > 0)
        an_warn(r, "joint effusion grade %d (depth %.1f mm)", r->effusion_grade,
                r->effusion_depth_mm);
}
