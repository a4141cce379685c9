/* Anterior ankle recess (sagittal): tibia and talar dome cortices, the
 * anechoic effusion in the recess between them with its depth, area and
 * EULAR-OMERACT grade, and the talar cartilage over the dome. */
#include "an_internal.h"

#include <string.h>

/* Split the bone strips into runs of continuous depth. */
static int bone_runs(const tl_analyzer *a, uint32_t *r0, uint32_t *r1, int max_runs)
{
    int n = 0;
    const float tol = 1.0f / a->sp;
    uint32_t s = 0;
    while (s < a->ns && n < max_runs) {
        while (s < a->ns && isnan(a->bone_row[s]))
            s++;
        if (s >= a->ns)
            break;
        uint32_t start = s;
        while (s + 1 < a->ns && !isnan(a->bone_row[s + 1]) &&
               fabsf(a->bone_row[s + 1] - a->bone_row[s]) < tol)
            s++;
        r0[n] = start;
        r1[n] = s;
        n++;
        s++;
    }
    return n;
}

/* Talar cartilage: the hypoechoic layer between the cortex and the thin
 * bright chondrosynovial line above it. */
static float cartilage(tl_analyzer *a, uint32_t s0, uint32_t s1)
{
    float v[AN_MAX_STRIPS];
    uint32_t n = 0;
    for (uint32_t s = s0; s <= s1; s++) {
        if (isnan(a->bone2_row[s]))
            continue;
        const float *m = an_sm(a, s);
        int b = (int)a->bone2_row[s];
        int lo = b - (int)(3.0f / a->sp), hi = b - (int)(0.3f / a->sp);
        if (lo < 1)
            lo = 1;
        float dark = INFINITY, best = 0;
        int br = -1;
        /* the darkest row just above the cortex, then the brightest line above it */
        int dr = hi;
        for (int r = hi; r >= lo + 2; r--)
            if (m[r] < dark) {
                dark = m[r];
                dr = r;
            }
        for (int r = dr - 1; r >= lo; r--)
            if (m[r] - dark > best && m[r] >= m[r - 1] && m[r] >= m[r + 1]) {
                best = m[r] - dark;
                br = r;
            }
        if (br < 0 || best < 8.0f)
            continue;
        /* the line's deep edge: half way down to the dark layer */
        float half = 0.5f * (m[br] + dark), row = (float)br;
        for (int r = br; r < dr; r++)
            if (m[r + 1] < half) {
                row = (float)r + (m[r] - half) / (m[r] - m[r + 1] + 1e-6f);
                break;
            }
        v[n++] = (a->bone2_row[s] - row) * a->sp;
    }
    return n >= 3 ? an_percentile_f(v, n, 50) : NAN;
}

void an_ankle(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r)
{
    an_find_bone(a, 3.0f);
    uint32_t r0[16], r1[16];
    int n = bone_runs(a, r0, r1, 16);
    /* the two longest runs: tibia on the left, talus on the right */
    int i1 = -1, i2 = -1;
    for (int i = 0; i < n; i++) {
        uint32_t len = r1[i] - r0[i] + 1;
        if (i1 < 0 || len > r1[i1] - r0[i1] + 1) {
            i2 = i1;
            i1 = i;
        } else if (i2 < 0 || len > r1[i2] - r0[i2] + 1) {
            i2 = i;
        }
    }
    if (i1 < 0 || r1[i1] - r0[i1] + 1 < 4)
        return;
    if (i2 >= 0 && r1[i2] - r0[i2] + 1 < 3)
        i2 = -1;
    int it = i1, ik = i2;           /* tibia, talus */
    if (ik >= 0 && r0[ik] < r0[it]) {
        int t = it;
        it = ik;
        ik = t;
    }
    float tib[AN_MAX_STRIPS], tal[AN_MAX_STRIPS];
    for (uint32_t s = 0; s < a->ns; s++) {
        tib[s] = (s >= r0[it] && s <= r1[it]) ? a->bone_row[s] : NAN;
        tal[s] = (ik >= 0 && s >= r0[ik] && s <= r1[ik]) ? a->bone_row[s] : NAN;
    }
    memcpy(a->bone2_row, tal, a->ns * sizeof(float));
    memcpy(a->bone_row, tib, a->ns * sizeof(float));
    an_polyline(a, a->bone_row, &r->bone);
    an_polyline(a, a->bone2_row, &r->bone2);
    r->structure_found = ik >= 0;
    if (!r->structure_found)
        return;
    r->cartilage_mm = cartilage(a, r0[ik], r1[ik]);

    /* Effusion: anechoic cells above the bones around the joint. */
    const uint32_t nc = a->cell_rows;
    const float rpc = AN_CELL_MM / a->sp, db = p->dynamic_range_db / 255.0f;
    float vals[4096];
    uint32_t nv = 0;
    float floor_row[AN_MAX_STRIPS];
    for (uint32_t s = 0; s < a->ns; s++) {
        float b = !isnan(tib[s]) ? tib[s] : !isnan(tal[s]) ? tal[s] : NAN;
        if (isnan(b)) {
            /* the gap between the bones: interpolate the deeper of the two ends */
            b = fmaxf(a->bone_row[r1[it]], a->bone2_row[r0[ik]]);
            if (s < r1[it] || s > r0[ik])
                b = NAN;
        }
        floor_row[s] = b;
        if (isnan(b))
            continue;
        for (uint32_t c = (uint32_t)(1.0f / AN_CELL_MM); c < nc; c++) {
            float rc = ((float)c + 0.5f) * rpc;
            if (rc > b - 0.8f / a->sp)
                break;
            float v = a->cell[(size_t)s * nc + c];
            if (!isnan(v) && nv < 4096 && ((s + c) & 1))
                vals[nv++] = v;
        }
    }
    float soft = an_percentile_f(vals, nv, 50);
    float thr = soft - 12.0f / db;
    int16_t *lab = a->label;
    memset(lab, 0, (size_t)a->ns * nc * sizeof *lab);
    for (uint32_t s = 0; s < a->ns; s++) {
        if (isnan(floor_row[s]))
            continue;
        for (uint32_t c = (uint32_t)(1.0f / AN_CELL_MM); c < nc; c++) {
            float rc = ((float)c + 0.5f) * rpc;
            if (rc > floor_row[s] - 0.3f / a->sp)
                break;
            float v = a->cell[(size_t)s * nc + c];
            if (!isnan(v) && v < thr)
                lab[(size_t)s * nc + c] = 1;
        }
    }
    /* the largest dark component touching the joint region */
    uint32_t sj0 = r1[it] > 4 ? r1[it] - 4 : 0, sj1 = r0[ik] + 4 < a->ns ? r0[ik] + 4 : a->ns - 1;
    uint32_t best_n = 0;
    int best_id = 0;
    int id = 3;
    for (uint32_t s = sj0; s <= sj1; s++)
        for (uint32_t c = 0; c < nc; c++) {
            size_t i = (size_t)s * nc + c;
            if (lab[i] != 1)
                continue;
            uint32_t cnt = 0;
            int32_t top = 0;
            a->stack[top++] = (int32_t)i;
            lab[i] = (int16_t)id;
            while (top) {
                int32_t j = a->stack[--top];
                cnt++;
                uint32_t jc = (uint32_t)j % nc;
                const int32_t nb[4] = { j - (int32_t)nc, j + (int32_t)nc, jc ? j - 1 : -1,
                                        jc + 1 < nc ? j + 1 : -1 };
                for (int k = 0; k < 4; k++)
                    if (nb[k] >= 0 && nb[k] < (int32_t)(a->ns * nc) && lab[nb[k]] == 1) {
                        lab[nb[k]] = (int16_t)id;
                        a->stack[top++] = nb[k];
                    }
            }
            if (cnt > best_n) {
                best_n = cnt;
                best_id = id;
            }
            id++;
        }
    const float strip_mm = (float)a->sw * a->sp, cell_area = strip_mm * AN_CELL_MM;
    r->effusion_depth_mm = 0;
    r->effusion_area_mm2 = 0;
    r->thickness_mm = 0;
    if (best_n * cell_area >= 1.5f) {
        double sx = 0, sz = 0, sum = 0;
        float depth = 0, top_min = INFINITY, dx = NAN;
        uint32_t smin = a->ns, smax = 0;
        for (uint32_t s = 0; s < a->ns; s++) {
            int c0 = -1, c1 = -1;
            for (uint32_t c = 0; c < nc; c++)
                if (lab[(size_t)s * nc + c] == best_id) {
                    if (c0 < 0)
                        c0 = (int)c;
                    c1 = (int)c;
                    sx += s;
                    sz += c;
                    sum += a->cell[(size_t)s * nc + c];
                }
            if (c0 < 0)
                continue;
            smin = s < smin ? s : smin;
            smax = s;
            float d = (float)(c1 - c0 + 1) * AN_CELL_MM;
            if (d > depth) {
                depth = d;
                dx = an_strip_x(a, s);
            }
            top_min = fminf(top_min, (float)c0 * AN_CELL_MM);
        }
        tl_analysis_target t;
        t.kind = TL_TARGET_EFFUSION;
        t.x_mm = ((float)(sx / best_n) + 0.5f) * strip_mm;
        t.z_mm = ((float)(sz / best_n) + 0.5f) * AN_CELL_MM;
        t.width_mm = (float)(smax - smin + 1) * strip_mm;
        t.depth_mm = depth;
        t.area_mm2 = (float)best_n * cell_area;
        t.contrast_db = (float)(sum / best_n - soft) * db;
        t.confidence = fminf(1.0f, 0.3f + t.area_mm2 / 20.0f);
        r->targets[0] = t;
        r->n_targets = 1;
        r->best_target = 0;
        r->effusion_depth_mm = depth;
        r->effusion_area_mm2 = t.area_mm2;
        r->thickness_mm = depth;
        r->site_x_mm = dx;
        /* Grade against the bony joint line (the shallower bone edge at the
         * joint): 1 at or below it, 2 above it, 3 well above (convex). */
        float line = fminf(a->bone_row[r1[it]], a->bone2_row[r0[ik]]) * a->sp;
        float above = line - top_min;
        r->effusion_grade = above <= 0.5f ? 1 : above <= 3.0f ? 2 : 3;
        r->site_z_mm = top_min + 0.5f * depth;
    }
    r->thickness_sd_mm = 0.1f;
    r->abnormal_limit_mm = NAN;
    r->abnormal = r->effusion_grade >= 2;
    if (r->effusion_grade > 0)
        an_warn(r, "joint effusion grade %d (depth %.1f mm)", r->effusion_grade,
                r->effusion_depth_mm);
}
