/* talus eval needle: randomised simulated insertions through the real chain
 * (tl_sim RF -> tl_imaging B-mode -> tl_guidance detect + track + path),
 * scored against the simulator's ground truth. ONE JSON object on stdout,
 * a progress bar on stderr. */
#include "commands.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "needle_pipeline.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus eval needle [--cases N] [--seed S] [--frames F] [--json]\n"
            "Randomised simulated insertions through the real pipeline (RF -> B-mode ->\n"
            "needle detection and tracking). Every fifth case is needle-free (thick\n"
            "fascia, tendon, bone); the others insert a needle into each anatomy in turn\n"
            "(angle 10-60 deg, gauge 21-27, 0.2-1.0 mm/frame; a quarter drift out of\n"
            "plane). The needle appears at frame 2 with 4-10 mm of shaft in the image.\n"
            "  --cases N    cases (default 200)\n"
            "  --seed S     seed of the case generator (default 1)\n"
            "  --frames F   frames per case (default 12, 4..200)\n"
            "  --json       print the JSON result (the default; kept for symmetry)\n"
            "  --from K     start at case K (cases are independent: reproduce one)\n"
            "  --dump DIR   write every B-mode frame as PNG and a line per frame (stderr)\n"
            "  --steer-deg B, --straight-every N\n"
            "               the acquisition scheme (default: the station's needle-guidance\n"
            "               scheme, tl_needle_scheme_default: beams steered 15 deg towards\n"
            "               the insertion side, one straight frame in 4); --steer-deg 0 =\n"
            "               straight frames only (as before needle enhancement)\n"
            "  --trace      only the line per frame (stderr), no images\n"
            "  --needle-free-only\n"
            "               run only the needle-free cases (every fifth: K %% 5 == 4) of\n"
            "               the same case list, scored as usual: a cheap survey of the\n"
            "               false-positive rate (needle-free cases only, without the two\n"
            "               frames before each needle appears); --cases counts the cases\n"
            "               run\n"
            "Prints ONE JSON object: tip_err_mm {median, p95}, angle_err_deg {median,\n"
            "p95}, detection_rate, false_positive_rate, frames_to_lock {median},\n"
            "miss_distance_err_mm {median}, cases, and the counts behind them.\n");
}

/* Growable list of doubles. */
typedef struct {
    double *v;
    size_t n, cap;
} dlist;

static int dl_push(dlist *l, double x)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 256;
        double *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = x;
    return 0;
}

typedef struct {
    dlist tip, ang, lock, lock_ok, miss;
    size_t in_plane, in_plane_found;
    size_t free_frames, free_found;
    size_t oop_frames, oop_shown, oop_flagged;
    size_t short_frames, short_shown; /* in plane, < 2 mm of shaft in the image */
    size_t never_locked, needle_cases;
    size_t band_frames[5], band_found[5]; /* by insertion angle: 10-20 ... 50-60 */
    size_t kind_frames[2], kind_found[2];  /* in-plane frames: straight, steered */
    double detect_ms;
    size_t detect_n;
} stats;

static const char *const anatomies[3] = { "plantar-fascia", "achilles", "ankle-recess" };

static void progress(int done, int total)
{
    int w = 40, k = total ? done * w / total : w;
    fprintf(stderr, "\r  eval needle [");
    for (int i = 0; i < w; i++)
        fputc(i < k ? '#' : '.', stderr);
    fprintf(stderr, "] %d/%d", done, total);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

/* Where the simulator aims the needle (the target it stops at): the tip of
 * a very late frame. Also the skin entry point (the shaft's start). */
static tl_status aim(needle_pipe *p, uint32_t start_frame, float *tx, float *tz, float *ex,
                     float *ez)
{
    tl_sim_truth t;
    tl_status st = tl_sim_render(p->sim, 1000000u, NULL, 0, &t);
    if (st != TL_OK)
        return st;
    *tx = t.needle.tip_x_mm;
    *tz = t.needle.tip_z_mm;
    st = tl_sim_render(p->sim, start_frame, NULL, 0, &t);
    if (st != TL_OK)
        return st;
    /* At the start frame with a 0.5 mm shaft the entry is the skin point. */
    *ex = t.needle.tip_x_mm - 0.5f * cosf(t.needle.angle_deg * (float)M_PI / 180.0f);
    *ez = t.needle.tip_z_mm - 0.5f * sinf(t.needle.angle_deg * (float)M_PI / 180.0f);
    return t.needle.present ? TL_OK : TL_ERR_STATE;
}

static tl_status run_case(int ci, uint64_t seed, int frames, const tl_needle_scheme *scheme,
                          stats *S, const char *dump, char *err, size_t errlen)
{
    tl_rng rng;
    tl_rng_seed(&rng, seed * 1000003ull + (uint64_t)ci);
    bool needle = ci % 5 != 4;
    const char *anat = anatomies[(ci / (needle ? 1 : 5)) % 3];
    char pa[12][64];
    const char *params[13];
    int np = 0, start_kv = 0;
    const uint32_t start = 2;
    float angle = (float)tl_rng_range(&rng, 10.0, 60.0);
    float drift = tl_rng_uniform(&rng) < 0.25 ? (float)tl_rng_range(&rng, 0.06, 0.2) : 0.0f;
    float speed = (float)tl_rng_range(&rng, 0.2, 1.0);
    int gauge = 21 + (int)(tl_rng_uniform(&rng) * 7.0);
    float thick = (float)tl_rng_range(&rng, 2.5, 7.5);
    const char *preset = needle ? "needle-insertion" : anat;
    if (needle) {
        snprintf(pa[np++], 64, "anatomy=%s", anat);
        snprintf(pa[np++], 64, "needle_angle_deg=%.2f", angle);
        snprintf(pa[np++], 64, "needle_gauge=%d", gauge);
        snprintf(pa[np++], 64, "needle_speed_mm=%.3f", speed);
        snprintf(pa[np++], 64, "needle_drift_mm=%.3f", drift);
        snprintf(pa[np++], 64, "needle_start_frame=%u", start);
        start_kv = np;
        snprintf(pa[np++], 64, "needle_start_mm=0.5");
    } else if (strcmp(anat, "ankle-recess") != 0) {
        /* thick fascia / tendon */
        snprintf(pa[np++], 64, "thickness_mm=%.2f", strcmp(anat, "achilles") == 0 ? thick + 2.0f
                                                                                   : thick);
    }
    if (tl_rng_uniform(&rng) < 0.3)
        snprintf(pa[np++], 64, "anisotropy_deg=%.1f", tl_rng_range(&rng, 2.0, 8.0));
    for (int i = 0; i < np; i++)
        params[i] = pa[i];
    params[np] = NULL;

    needle_pipe p;
    tl_status st = needle_pipe_open(&p, preset, seed * 7919ull + (uint64_t)ci, params, err, errlen);
    if (st != TL_OK)
        return st;
    float tgx = 0, tgz = 0;
    if (needle) {
        /* Start with 2-8 mm of shaft inside the image (the needle appears). */
        float ex, ez;
        st = aim(&p, start, &tgx, &tgz, &ex, &ez);
        if (st != TL_OK) {
            snprintf(err, errlen, "case %d: the simulator placed no needle", ci);
            needle_pipe_close(&p);
            return st;
        }
        float a = angle * (float)M_PI / 180.0f;
        float left = -0.5f * tl_geometry_width_mm(&p.geom);
        float to_edge = fmaxf(0.0f, (left - ex) / cosf(a));
        float maxlen = hypotf(tgx - ex, tgz - ez);
        float len0 = fminf(to_edge + (float)tl_rng_range(&rng, 4.0, 10.0), maxlen - 1.0f);
        char kv[64];
        snprintf(kv, sizeof kv, "needle_start_mm=%.3f", fmaxf(len0, 0.5f));
        tl_sim_set_param(p.sim, kv, NULL);
        snprintf(pa[start_kv], 64, "%s", kv); /* for the trace below */
    }
    if (dump) {
        /* the case's simulator parameters (to replay it in a test) */
        fprintf(stderr, "case %d %s: sim seed %llu", ci, preset,
                (unsigned long long)(seed * 7919ull + (uint64_t)ci));
        for (int i = 0; i < np; i++)
            fprintf(stderr, ", %s", pa[i]);
        fputc('\n', stderr);
    }

    /* The station's scheme: every case, with or without a needle, runs the
     * same acquisition (the operator's insertion side: the simulator's
     * needles come from the left). */
    st = needle_pipe_scheme(&p, scheme, +1, err, errlen);
    if (st != TL_OK) {
        needle_pipe_close(&p);
        return st;
    }
    tl_needle_follower *fol = NULL;
    st = tl_needle_follower_create(NULL, NULL, &fol);
    int first_visible = -1, lock_frame = -1;
    for (int k = 0; st == TL_OK && k < frames; k++) {
        tl_sim_truth t;
        st = needle_pipe_frame(&p, (uint32_t)k, &t);
        if (st != TL_OK) {
            snprintf(err, errlen, "case %d frame %d: %s", ci, k, tl_strerror(st));
            break;
        }
        uint64_t t0 = tl_now_ns();
        tl_needle_detection d;
        tl_needle_track trk;
        st = tl_needle_follower_frame(fol, &p.img, p.img_steer_deg, NULL, &d, &trk);
        S->detect_ms += (double)(tl_now_ns() - t0) * 1e-6;
        S->detect_n++;
        if (st != TL_OK) {
            snprintf(err, errlen, "case %d frame %d: detection: %s", ci, k, tl_strerror(st));
            break;
        }
        const tl_sim_needle *n = &t.needle;
        if (dump) {
            char path[512];
            if (*dump) {
                snprintf(path, sizeof path, "%s/case%03d_f%02d.png", dump, ci, k);
                tl_png_write(path, p.img.pixels, p.img.width, p.img.height, p.img.stride, 1);
            }
            float tx = 0, tz = 0;
            needle_pipe_to_image(&p, n->tip_x_mm, n->tip_z_mm, &tx, &tz);
            fprintf(stderr,
                    "case %d %s frame %d (steer %.0f): truth %s%s oop %.2f tip (%.2f, %.2f) %.1f deg vis %.2f | det %d "
                    "(%.2f, %.2f) %.1f deg len %.1f con %.1f conf %.2f chg %.1f %s | track %s shown %d "
                    "(%.2f, %.2f) %.1f deg%s\n",
                    ci, anat, k, (double)p.img_steer_deg, n->present ? "needle" : "none", n->in_plane ? "" : " (out)",
                    n->out_of_plane_mm, tx,
                    tz, n->angle_deg, n->visibility, d.found, d.tip_x_mm, d.tip_z_mm,
                    d.angle_deg, d.length_mm, d.contrast, d.confidence, (double)d.change, d.reason,
                    tl_track_state_name(trk.state), trk.found, trk.tip_x_mm, trk.tip_z_mm,
                    trk.angle_deg, trk.out_of_plane ? " flagged out of plane" : "");
        }
        if (!n->present) {
            S->free_frames++;
            S->free_found += trk.found;
            continue;
        }
        /* In-plane frame: the shaft's centre line within half the slice
         * thickness of the plane (the simulator's in_plane: echo within
         * -6 dB of the elevation profile) and at least 2 mm of it inside
         * the image. Shorter stubs are counted apart: nobody (human or
         * detector) calls 2 mm of a dotted line a needle. */
        if (n->in_plane && hypotf(n->tip_x_mm - n->entry_x_mm, n->tip_z_mm - n->entry_z_mm) <
                               2.0f) {
            S->short_frames++;
            S->short_shown += trk.found;
            continue;
        }
        if (!n->in_plane) {
            S->oop_frames++;
            S->oop_shown += trk.found;
            S->oop_flagged += trk.out_of_plane;
            continue;
        }
        S->in_plane++;
        int band = (int)((n->angle_deg - 10.0f) / 10.0f);
        band = band < 0 ? 0 : band > 4 ? 4 : band;
        S->band_frames[band]++;
        S->band_found[band] += trk.found;
        S->kind_frames[p.img_steer_deg != 0.0f]++;
        S->kind_found[p.img_steer_deg != 0.0f] += trk.found;
        if (first_visible < 0)
            first_visible = k;
        if (lock_frame < 0 && trk.state == TL_TRACK_LOCKED)
            lock_frame = k;
        if (!trk.found)
            continue;
        S->in_plane_found++;
        float tx, tz;
        needle_pipe_to_image(&p, n->tip_x_mm, n->tip_z_mm, &tx, &tz);
        dl_push(&S->tip, hypot(trk.tip_x_mm - tx, trk.tip_z_mm - tz));
        dl_push(&S->ang, fabs(trk.angle_deg - n->angle_deg));
        /* Predicted lateral miss at the target's depth, against the truth's. */
        float gx, gz;
        needle_pipe_to_image(&p, tgx, tgz, &gx, &gz);
        tl_target tg = { gx, gz, 1.0f };
        tl_path pp, pt;
        if (gz - tz > 1.0f &&
            tl_needle_path(trk.tip_x_mm, trk.tip_z_mm, trk.angle_deg, &tg, NULL, NULL, 0.0f,
                           &pp) == TL_OK &&
            tl_needle_path(tx, tz, n->angle_deg, &tg, NULL, NULL, 0.0f, &pt) == TL_OK &&
            isfinite(pp.miss_at_depth_mm) && isfinite(pt.miss_at_depth_mm))
            dl_push(&S->miss, fabs(pp.miss_at_depth_mm - pt.miss_at_depth_mm));
    }
    if (st == TL_OK && needle && first_visible >= 0) {
        S->needle_cases++;
        if (lock_frame < 0) {
            S->never_locked++;
            lock_frame = frames; /* counted as one past the sequence */
        } else {
            dl_push(&S->lock_ok, (double)(lock_frame - first_visible + 1));
        }
        dl_push(&S->lock, (double)(lock_frame - first_visible + 1));
    }
    tl_needle_follower_destroy(fol);
    needle_pipe_close(&p);
    return st;
}

static cJSON *med_p95(const dlist *l, bool p95)
{
    cJSON *o = cJSON_CreateObject();
    double m = tl_median(l->v, l->n);
    cJSON_AddItemToObject(o, "median", isfinite(m) ? cJSON_CreateNumber(m) : cJSON_CreateNull());
    if (p95) {
        double q = tl_percentile(l->v, l->n, 95.0);
        cJSON_AddItemToObject(o, "p95", isfinite(q) ? cJSON_CreateNumber(q) : cJSON_CreateNull());
    }
    cJSON_AddNumberToObject(o, "n", (double)l->n);
    return o;
}

static double ratio(size_t a, size_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

int eval_needle(int argc, char **argv)
{
    long cases = 200, frames = 12, from = 0;
    tl_needle_scheme scheme = tl_needle_scheme_default();
    const char *dump = NULL;
    unsigned long long seed = 1;
    bool free_only = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            continue;
        } else if (strcmp(a, "--from") == 0 && i + 1 < argc) {
            from = strtol(argv[++i], &end, 10);
            if (*end || from < 0 || from > 1000000) {
                fprintf(stderr, "talus eval needle: --from wants 0..1000000\n");
                return 2;
            }
        } else if (strcmp(a, "--steer-deg") == 0 && i + 1 < argc) {
            double v = strtod(argv[++i], &end);
            if (*end || !(v >= 0.0 && v <= 30.0)) {
                fprintf(stderr, "talus eval needle: --steer-deg wants 0..30 (the simulated "
                                "probe's range)\n");
                return 2;
            }
            scheme.steer_deg = (float)v;
        } else if (strcmp(a, "--straight-every") == 0 && i + 1 < argc) {
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > 16) {
                fprintf(stderr, "talus eval needle: --straight-every wants 0..16\n");
                return 2;
            }
            scheme.straight_every = (uint32_t)v;
        } else if (strcmp(a, "--needle-free-only") == 0) {
            free_only = true;
        } else if (strcmp(a, "--trace") == 0) {
            if (!dump)
                dump = ""; /* the per-frame lines without the images */
        } else if (strcmp(a, "--dump") == 0 && i + 1 < argc) {
            dump = argv[++i];
        } else if (strcmp(a, "--cases") == 0 && i + 1 < argc) {
            cases = strtol(argv[++i], &end, 10);
            if (*end || cases < 1 || cases > 100000) {
                fprintf(stderr, "talus eval needle: --cases wants 1..100000\n");
                return 2;
            }
        } else if (strcmp(a, "--frames") == 0 && i + 1 < argc) {
            frames = strtol(argv[++i], &end, 10);
            if (*end || frames < 4 || frames > 200) {
                fprintf(stderr, "talus eval needle: --frames wants 4..200\n");
                return 2;
            }
        } else if (strcmp(a, "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], &end, 10);
            if (*end) {
                fprintf(stderr, "talus eval needle: --seed wants a number\n");
                return 2;
            }
        } else {
            fprintf(stderr, "talus eval needle: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    stats S;
    memset(&S, 0, sizeof S);
    char err[256] = "";
    int rc = 0;
    for (long c = 0; c < cases; c++) {
        progress((int)c, (int)cases);
        /* the c-th needle-free case from `from` on (case K is needle-free
         * when K % 5 == 4; each case has its own generator state, so the
         * cases are the same as in a full run) */
        long k = free_only ? from + (4 - from % 5) + 5 * c : from + c;
        if (run_case((int)k, seed, (int)frames, &scheme, &S, dump, err, sizeof err) !=
            TL_OK) {
            fprintf(stderr, "\ntalus eval needle: %s\n", err);
            rc = 1;
            break;
        }
    }
    if (rc == 0)
        progress((int)cases, (int)cases);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "tip_err_mm", med_p95(&S.tip, true));
    cJSON_AddItemToObject(o, "angle_err_deg", med_p95(&S.ang, true));
    cJSON_AddNumberToObject(o, "detection_rate", ratio(S.in_plane_found, S.in_plane));
    cJSON_AddNumberToObject(o, "false_positive_rate", ratio(S.free_found, S.free_frames));
    cJSON_AddItemToObject(o, "frames_to_lock", med_p95(&S.lock, true));
    /* the same over the cases that did lock (a never-locked case counts as
     * frames + 1 above) */
    cJSON_AddItemToObject(o, "frames_to_lock_when_locked", med_p95(&S.lock_ok, true));
    cJSON_AddItemToObject(o, "miss_distance_err_mm", med_p95(&S.miss, true));
    cJSON_AddNumberToObject(o, "cases", (double)cases);
    cJSON_AddBoolToObject(o, "needle_free_only", free_only);
    cJSON_AddNumberToObject(o, "seed", (double)seed);
    cJSON_AddNumberToObject(o, "frames_per_case", (double)frames);
    cJSON_AddNumberToObject(o, "in_plane_frames", (double)S.in_plane);
    cJSON_AddNumberToObject(o, "needle_free_frames", (double)S.free_frames);
    cJSON_AddNumberToObject(o, "out_of_plane_frames", (double)S.oop_frames);
    cJSON_AddNumberToObject(o, "out_of_plane_shown_rate", ratio(S.oop_shown, S.oop_frames));
    cJSON_AddNumberToObject(o, "out_of_plane_flagged_rate", ratio(S.oop_flagged, S.oop_frames));
    cJSON_AddNumberToObject(o, "short_shaft_frames", (double)S.short_frames);
    cJSON_AddNumberToObject(o, "short_shaft_shown_rate", ratio(S.short_shown, S.short_frames));
    cJSON_AddNumberToObject(o, "needle_cases", (double)S.needle_cases);
    cJSON_AddNumberToObject(o, "never_locked", (double)S.never_locked);
    cJSON *bands = cJSON_AddObjectToObject(o, "detection_rate_by_angle");
    for (int b = 0; bands && b < 5; b++) {
        char key[16];
        snprintf(key, sizeof key, "%d-%d", 10 + 10 * b, 20 + 10 * b);
        cJSON_AddNumberToObject(bands, key, ratio(S.band_found[b], S.band_frames[b]));
    }
    cJSON *sch = cJSON_AddObjectToObject(o, "scheme");
    if (sch) {
        cJSON_AddNumberToObject(sch, "steer_deg", scheme.steer_deg);
        cJSON_AddNumberToObject(sch, "straight_every", scheme.straight_every);
    }
    cJSON_AddNumberToObject(o, "detection_rate_straight_frames",
                            ratio(S.kind_found[0], S.kind_frames[0]));
    cJSON_AddNumberToObject(o, "detection_rate_steered_frames",
                            ratio(S.kind_found[1], S.kind_frames[1]));
    cJSON_AddNumberToObject(o, "detect_track_ms_mean", S.detect_n ? S.detect_ms / S.detect_n : 0.0);
    if (rc)
        cJSON_AddStringToObject(o, "error", err);
    char *text = cJSON_PrintUnformatted(o);
    if (text)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
    free(S.tip.v);
    free(S.ang.v);
    free(S.lock.v);
    free(S.lock_ok.v);
    free(S.miss.v);
    return rc;
}
