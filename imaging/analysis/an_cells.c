/* The lesion cell map's machinery: connected regions, box sums over the
 * band's cells, robust spreads, the small linear solve of the level fit and
 * the work buffers (shared by an_lesion.c and an_fluid.c). */
#include "an_lesion.h"

#include <stdlib.h>
#include <string.h>

int an_label_regions(tl_analyzer *a, int16_t *lab, an_region *reg, int max_reg,
                     uint32_t min_cells, const float *res, const float *z)
{
    const uint32_t ns = a->ns, nc = a->cell_rows;
    int nreg = 0, ncomp = 0;
    for (uint32_t s = 0; s < ns; s++)
        for (uint32_t c = 0; c < nc; c++) {
            size_t i = (size_t)s * nc + c;
            if (lab[i] != 1)
                continue;
            /* every component gets its own label (rejected ones keep it:
             * no second pass over the map to undo them) */
            if (ncomp + 3 > INT16_MAX)
                return nreg;
            int16_t id = (int16_t)(3 + ncomp++);
            an_region R = { 0, s, s, c, c, 0, 0, 0, 0, INFINITY, id };
            int32_t top = 0;
            a->stack[top++] = (int32_t)i;
            lab[i] = id;
            while (top) {
                int32_t j = a->stack[--top];
                uint32_t js = (uint32_t)j / nc, jc = (uint32_t)j % nc;
                R.n++;
                R.sx += js;
                R.sz += jc;
                R.sum += res[j];
                R.raw += a->cell[j];
                if (z && z[j] < R.zmin)
                    R.zmin = z[j];
                if (js < R.s0) R.s0 = js;
                if (js > R.s1) R.s1 = js;
                if (jc < R.c0) R.c0 = jc;
                if (jc > R.c1) R.c1 = jc;
                const int32_t nb[4] = { j - (int32_t)nc, j + (int32_t)nc, jc > 0 ? j - 1 : -1,
                                        jc + 1 < nc ? j + 1 : -1 };
                for (int k = 0; k < 4; k++)
                    if (nb[k] >= 0 && nb[k] < (int32_t)(ns * nc) && lab[nb[k]] == 1) {
                        lab[nb[k]] = id;
                        a->stack[top++] = nb[k];
                    }
            }
            /* with a z map, only significant regions are kept (a frame can
             * have more faint candidates than there are slots) */
            if (R.n >= min_cells && (!z || R.zmin < 0) && nreg < max_reg)
                reg[nreg++] = R;
        }
    return nreg;
}

void an_add_target(tl_analysis_result *r, const tl_analysis_target *t)
{
    uint32_t i = r->n_targets;
    if (i == TL_ANALYSIS_MAX_TARGETS) {
        /* full: replace the weakest if this one is stronger */
        uint32_t w = 0;
        for (uint32_t k = 1; k < i; k++)
            if (r->targets[k].confidence < r->targets[w].confidence)
                w = k;
        if (r->targets[w].confidence >= t->confidence)
            return;
        i = w;
    } else {
        r->n_targets++;
    }
    r->targets[i] = *t;
}

/* Work buffers: cell residual, the residual with dark clusters set to the
 * normal level, a scratch third for percentiles; z map; box-sum tables. */
bool an_cells_grow(tl_analyzer *a)
{
    size_t tab = (size_t)(a->ns + 1) * (a->cell_rows + 1);
    if (tab <= a->les_cap)
        return true;
    float *r = realloc(a->les_res, 3 * tab * sizeof *r);
    if (!r)
        return false;
    a->les_res = r;
    float *z = realloc(a->les_z, tab * sizeof *z);
    if (!z)
        return false;
    a->les_z = z;
    double *s = realloc(a->les_sum, tab * sizeof *s);
    if (!s)
        return false;
    a->les_sum = s;
    double *c = realloc(a->les_cnt, tab * sizeof *c);
    if (!c)
        return false;
    a->les_cnt = c;
    a->les_cap = tab;
    return true;
}

/* Solve the n x n system A x = b (n <= 4) by elimination with pivoting. */
bool an_solve(int n, double A[4][4], double *b, double *x)
{
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(A[i][k]) > fabs(A[p][k]))
                p = i;
        if (fabs(A[p][k]) < 1e-12)
            return false;
        for (int j = 0; j < n; j++) {
            double t = A[k][j];
            A[k][j] = A[p][j];
            A[p][j] = t;
        }
        double t = b[k];
        b[k] = b[p];
        b[p] = t;
        for (int i = k + 1; i < n; i++) {
            double f = A[i][k] / A[k][k];
            for (int j = k; j < n; j++)
                A[i][j] -= f * A[k][j];
            b[i] -= f * b[k];
        }
    }
    for (int k = n - 1; k >= 0; k--) {
        double s = b[k];
        for (int j = k + 1; j < n; j++)
            s -= A[k][j] * x[j];
        x[k] = s / A[k][k];
    }
    return true;
}

/* Box sums over band cells (lab != 0) of v: 2-D prefix tables. */
void an_cells_tables(tl_analyzer *a, const int16_t *lab, const float *v)
{
    const uint32_t ns = a->ns, nc = a->cell_rows, W = nc + 1;
    double *S = a->les_sum, *C = a->les_cnt;
    for (uint32_t c = 0; c <= nc; c++)
        S[c] = C[c] = 0;
    for (uint32_t s = 0; s < ns; s++) {
        double rs = 0, rc = 0;
        S[(size_t)(s + 1) * W] = C[(size_t)(s + 1) * W] = 0;
        for (uint32_t c = 0; c < nc; c++) {
            size_t i = (size_t)s * nc + c;
            if (lab[i]) {
                rs += v[i];
                rc += 1;
            }
            S[(size_t)(s + 1) * W + c + 1] = S[(size_t)s * W + c + 1] + rs;
            C[(size_t)(s + 1) * W + c + 1] = C[(size_t)s * W + c + 1] + rc;
        }
    }
}

/* Shrink region R (label id) to its cells where the smoothed residual b3
 * is below half the region's minimum; false when nothing is left. */
bool an_half_max_extent(const tl_analyzer *a, const int16_t *lab, int16_t id, const float *b3,
                            const float *res, an_region *R)
{
    const uint32_t nc = a->cell_rows;
    float peak = 0;
    for (uint32_t s = R->s0; s <= R->s1; s++)
        for (uint32_t c = R->c0; c <= R->c1; c++)
            if (lab[(size_t)s * nc + c] == id)
                peak = an_minf(peak, b3[(size_t)s * nc + c]);
    if (!(peak < 0))
        return false;
    an_region Q = { 0, R->s1, R->s0, R->c1, R->c0, 0, 0, 0, 0, INFINITY, id };
    for (uint32_t s = R->s0; s <= R->s1; s++)
        for (uint32_t c = R->c0; c <= R->c1; c++) {
            size_t i = (size_t)s * nc + c;
            if (lab[i] != id || !(b3[i] < 0.5f * peak))
                continue;
            Q.n++;
            Q.sx += s;
            Q.sz += c;
            Q.sum += res[i];
            Q.raw += a->cell[i];
            Q.s0 = s < Q.s0 ? s : Q.s0;
            Q.s1 = s > Q.s1 ? s : Q.s1;
            Q.c0 = c < Q.c0 ? c : Q.c0;
            Q.c1 = c > Q.c1 ? c : Q.c1;
        }
    if (!Q.n)
        return false;
    *R = Q;
    return true;
}

/* Robust spread (grey) of the upper half of v: (q75 - median) / 0.674; a
 * dark lesion, however large, sits in the lower half. */
float an_upper_sigma(float *v, uint32_t n, float *median)
{
    float med, q75;
    an_percentile_pair(v, n, 50, 75, &med, &q75);
    if (median)
        *median = med;
    return (q75 - med) / 0.674f;
}

/* Robust spread (grey) of the lower half of v: (median - q25) / 0.674. */
float an_lower_sigma(float *v, uint32_t n, float *median)
{
    float med, q25;
    an_percentile_pair(v, n, 50, 25, &med, &q25);
    if (median)
        *median = med;
    return (med - q25) / 0.674f;
}
