/* One simulated case of `talus eval tissue`: randomised scene -> RF ->
 * B-mode -> analysis, scored against the simulator's ground truth. */
#ifndef TALUS_EVAL_TISSUE_CASE_H
#define TALUS_EVAL_TISSUE_CASE_H

#include "tl_analysis.h"

#define EVAL_MAX_LESIONS 8

typedef struct {
    bool found;
    double thickness_err;        /* |measured - truth| mm; NAN when truth has none */
    bool abnormal_ok;
    int lesions, lesions_hit;            /* truth lesions, found */
    int lesions_big, lesions_big_hit;    /* >= 3 mm wide at <= -6 dB */
    int n_centroid;
    double centroid_err[EVAL_MAX_LESIONS];
    bool lesion_called;          /* any target reported */
    bool anisotropic;
    double analysis_ms;
    double analysis_cpu_ms;   /* thread CPU of a warm call; NAN if it failed */
    char summary[320];
    char detail[640];            /* truth lesions and targets, for --verbose */
} eval_case_result;

typedef struct eval_ctx eval_ctx;

tl_status eval_ctx_create(eval_ctx **out);
void eval_ctx_destroy(eval_ctx *ctx);
/* Write each case's B-mode image and overlay to DIR/case_NNNN{,_ov}.png
 * (NULL: don't); for looking at the cases the figures come from. */
void eval_ctx_set_dump(eval_ctx *ctx, const char *dir);

/* Case `index` of the run with `seed` for this anatomy: the scene parameters
 * depend only on (seed, index, anatomy). */
tl_status eval_run_case(eval_ctx *ctx, int anatomy, uint64_t seed, uint64_t index,
                        eval_case_result *out, char *err, size_t errlen);

#endif
