/* Plantar tests on the eval's own cases (header-only, static functions;
 * test_analysis_plantar_trust.c, test_analysis_plantar_muscle.c): plantar
 * cases run exactly as `talus eval tissue --anatomy plantar-fascia --cases
 * 300 --seed S --case K` runs them (apps/talus eval_tissue_case.c:
 * simulator RF -> imaging -> analysis, scored against the truth). The
 * cmocka group's state is the eval context (eval_setup/teardown). */
#ifndef TEST_ANALYSIS_EVALCASE_H
#define TEST_ANALYSIS_EVALCASE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_tissue_case.h"

typedef struct {
    uint64_t seed, index;
} eval_case;

/* Run plantar case c; TL_TEST_VERBOSE prints its --verbose lines. */
static inline eval_case_result run_case(eval_ctx *ctx, eval_case c)
{
    eval_case_result r;
    char err[128];
    assert_int_equal(eval_run_case(ctx, TL_AN_PLANTAR_FASCIA, c.seed, c.index, &r, err, sizeof err),
                     TL_OK);
    if (getenv("TL_TEST_VERBOSE"))
        printf("%llu case %llu: %s\n  %s\n", (unsigned long long)c.seed,
               (unsigned long long)c.index, r.summary, r.detail);
    return r;
}

/* How many of the n lesion-free cases still get a target (each must have
 * no lesion and a band found). */
static inline int lesion_free_called(eval_ctx *ctx, const eval_case *cases, size_t n)
{
    int called = 0;
    for (size_t c = 0; c < n; c++) {
        eval_case_result r = run_case(ctx, cases[c]);
        assert_int_equal(r.lesions, 0);
        assert_true(r.found);
        called += r.lesion_called;
    }
    return called;
}

/* Targets in a result's summary (hit and false ones). */
static inline int targets_of(const eval_case_result *r)
{
    const char *t = strstr(r->summary, " targets ");
    assert_non_null(t);
    return atoi(t + 9);
}

/* Truth lesions, lesions hit and targets summed over n cases. */
static inline void sum_lesions(eval_ctx *ctx, const eval_case *cases, size_t n, int *lesions, int *hits,
                        int *targets)
{
    *lesions = *hits = *targets = 0;
    for (size_t c = 0; c < n; c++) {
        eval_case_result r = run_case(ctx, cases[c]);
        *hits += r.lesions_hit;
        *lesions += r.lesions;
        *targets += targets_of(&r);
    }
}

static inline int eval_setup(void **state)
{
    eval_ctx *ctx = NULL;
    if (eval_ctx_create(&ctx) != TL_OK)
        return -1;
    *state = ctx;
    return 0;
}

static inline int eval_teardown(void **state)
{
    eval_ctx_destroy(*state);
    return 0;
}

#endif
