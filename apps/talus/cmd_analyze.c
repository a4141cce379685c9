/* talus analyze IMAGE --spacing-mm S --anatomy A [...] --json
 *
 * One B-mode image (PNG, or a frame of a PLUS .mha sequence: B-mode as is,
 * RF through the imaging chain) through tl_analysis; prints ONE JSON object. */
#include "analyze_io.h"
#include "commands.h"
#include "tl_analysis.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus analyze IMAGE --spacing-mm S --anatomy plantar-fascia|achilles|ankle-recess\n"
            "                     [--age Y --sex M|F] [--site midportion|insertion] [--frame K]\n"
            "                     [--dynamic-range-db D] [--overlay OUT.png] [--needle] --json\n"
            "  IMAGE             a PNG B-mode image, or a PLUS .mha/.mhd sequence (B-mode or RF)\n"
            "  --spacing-mm S    pixel size in mm (isotropic); for .mha defaults to ElementSpacing\n"
            "                    when that is not 1, for RF to the imaging chain's output\n"
            "  --anatomy A       which structure to look for\n"
            "  --age Y --sex M|F patient, for the Achilles age/sex percentile limits\n"
            "  --site S          Achilles site (default: insertion when the calcaneus is in view)\n"
            "  --frame K         frame of a sequence (default 0)\n"
            "  --dynamic-range-db D  dB spanned by grey 0..255 (default 60), for contrasts\n"
            "  --overlay OUT.png the image with outlines, site and targets drawn\n"
            "  --needle          also find the needle (\"needle\" object)\n"
            "  --json            JSON on stdout (the only output format)\n"
            "Prints ONE JSON object: anatomy, structure_found, thickness_mm (null if not found),\n"
            "abnormal, targets [{x_mm, z_mm, width_mm, depth_mm, contrast_db, confidence}],\n"
            "warnings [...], and details. x_mm from the left edge, z_mm from the top edge.\n");
}

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(round(v * 1000.0) / 1000.0) : cJSON_CreateNull();
}

static cJSON *polyline_json(const tl_analysis_polyline *pl)
{
    cJSON *arr = cJSON_CreateArray();
    for (uint32_t i = 0; i < pl->n; i++) {
        cJSON *pt = cJSON_CreateArray();
        cJSON_AddItemToArray(pt, num_or_null(pl->x_mm[i]));
        cJSON_AddItemToArray(pt, num_or_null(pl->z_mm[i]));
        cJSON_AddItemToArray(arr, pt);
    }
    return arr;
}

static void result_json(cJSON *root, const tl_analysis_result *r)
{
    cJSON_AddStringToObject(root, "anatomy", tl_analysis_anatomy_name(r->anatomy));
    cJSON_AddBoolToObject(root, "structure_found", r->structure_found);
    cJSON_AddItemToObject(root, "thickness_mm",
                          num_or_null(r->structure_found ? r->thickness_mm : NAN));
    cJSON_AddItemToObject(root, "thickness_sd_mm", num_or_null(r->thickness_sd_mm));
    cJSON_AddBoolToObject(root, "abnormal", r->abnormal);
    cJSON_AddItemToObject(root, "abnormal_limit_mm", num_or_null(r->abnormal_limit_mm));
    cJSON *site = cJSON_AddObjectToObject(root, "site");
    cJSON_AddItemToObject(site, "x_mm", num_or_null(r->site_x_mm));
    cJSON_AddItemToObject(site, "z_mm", num_or_null(r->site_z_mm));
    cJSON *targets = cJSON_AddArrayToObject(root, "targets");
    for (uint32_t i = 0; i < r->n_targets; i++) {
        const tl_analysis_target *t = &r->targets[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "x_mm", num_or_null(t->x_mm));
        cJSON_AddItemToObject(o, "z_mm", num_or_null(t->z_mm));
        cJSON_AddItemToObject(o, "width_mm", num_or_null(t->width_mm));
        cJSON_AddItemToObject(o, "depth_mm", num_or_null(t->depth_mm));
        cJSON_AddItemToObject(o, "contrast_db", num_or_null(t->contrast_db));
        cJSON_AddItemToObject(o, "confidence", num_or_null(t->confidence));
        cJSON_AddStringToObject(o, "kind", tl_target_kind_name(t->kind));
        cJSON_AddItemToObject(o, "area_mm2", num_or_null(t->area_mm2));
        cJSON_AddItemToArray(targets, o);
    }
    cJSON_AddNumberToObject(root, "best_target", r->best_target);
    cJSON *w = cJSON_AddArrayToObject(root, "warnings");
    for (uint32_t i = 0; i < r->n_warnings; i++)
        cJSON_AddItemToArray(w, cJSON_CreateString(r->warnings[i]));
    cJSON_AddItemToObject(root, "fibre_angle_deg", num_or_null(r->fibre_angle_deg));
    cJSON_AddBoolToObject(root, "anisotropy", r->anisotropy);
    cJSON_AddBoolToObject(root, "bone_found", r->bone.n >= 4);
    cJSON_AddItemToObject(root, "bone_surface", polyline_json(&r->bone));
    if (r->anatomy == TL_AN_ANKLE_RECESS) {
        cJSON_AddItemToObject(root, "talus_surface", polyline_json(&r->bone2));
        cJSON_AddNumberToObject(root, "effusion_grade", r->effusion_grade);
        cJSON_AddItemToObject(root, "effusion_depth_mm", num_or_null(r->effusion_depth_mm));
        cJSON_AddItemToObject(root, "effusion_area_mm2", num_or_null(r->effusion_area_mm2));
        cJSON_AddItemToObject(root, "cartilage_mm", num_or_null(r->cartilage_mm));
        return;
    }
    cJSON_AddItemToObject(root, "echogenicity_db", num_or_null(r->echogenicity_db));
    cJSON_AddBoolToObject(root, "hypoechoic", r->hypoechoic);
    cJSON_AddBoolToObject(root, "cleft", r->cleft);
    if (r->anatomy == TL_AN_PLANTAR_FASCIA)
        cJSON_AddBoolToObject(root, "perifascial_fluid", r->perifascial_fluid);
    if (r->anatomy == TL_AN_ACHILLES) {
        cJSON_AddItemToObject(root, "midportion_mm", num_or_null(r->midportion_mm));
        cJSON_AddItemToObject(root, "insertion_mm", num_or_null(r->insertion_mm));
        cJSON_AddBoolToObject(root, "insertion_view", r->insertion_view);
        cJSON_AddBoolToObject(root, "fusiform", r->fusiform);
    }
    cJSON *prof = cJSON_AddArrayToObject(root, "thickness_profile");
    for (uint32_t i = 0; i < r->n_profile; i++) {
        cJSON *pt = cJSON_CreateArray();
        cJSON_AddItemToArray(pt, num_or_null(r->profile_x_mm[i]));
        cJSON_AddItemToArray(pt, num_or_null(r->profile_mm[i]));
        cJSON_AddItemToArray(prof, pt);
    }
    cJSON_AddItemToObject(root, "superficial_border", polyline_json(&r->superficial));
    cJSON_AddItemToObject(root, "deep_border", polyline_json(&r->deep));
}

int cmd_analyze(int argc, char **argv)
{
    const char *path = NULL, *overlay = NULL;
    float spacing = 0, age = 0, dr = 60;
    int anatomy = -1, site = TL_ACHILLES_SITE_AUTO;
    long frame = 0;
    char sex = 0;
    bool needle = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
        } else if (strcmp(a, "--needle") == 0) {
            needle = true;
        } else if (v && strcmp(a, "--spacing-mm") == 0) {
            spacing = strtof(v, &end);
            if (*end || !(spacing > 0.001f && spacing < 5.0f)) {
                fprintf(stderr, "talus analyze: --spacing-mm must be a number in (0.001, 5)\n");
                return 2;
            }
            i++;
        } else if (v && strcmp(a, "--anatomy") == 0) {
            anatomy = tl_analysis_anatomy_from_name(v);
            if (anatomy < 0) {
                fprintf(stderr, "talus analyze: unknown anatomy '%s' (plantar-fascia, achilles, "
                                "ankle-recess)\n", v);
                return 2;
            }
            i++;
        } else if (v && strcmp(a, "--age") == 0) {
            age = strtof(v, &end);
            if (*end || !(age > 0 && age < 130)) {
                fprintf(stderr, "talus analyze: --age must be years in (0, 130)\n");
                return 2;
            }
            i++;
        } else if (v && strcmp(a, "--sex") == 0) {
            if (strcmp(v, "M") && strcmp(v, "F") && strcmp(v, "m") && strcmp(v, "f")) {
                fprintf(stderr, "talus analyze: --sex must be M or F\n");
                return 2;
            }
            sex = (char)(v[0] == 'm' ? 'M' : v[0] == 'f' ? 'F' : v[0]);
            i++;
        } else if (v && strcmp(a, "--site") == 0) {
            if (strcmp(v, "midportion") == 0)
                site = TL_ACHILLES_SITE_MIDPORTION;
            else if (strcmp(v, "insertion") == 0)
                site = TL_ACHILLES_SITE_INSERTION;
            else {
                fprintf(stderr, "talus analyze: --site must be midportion or insertion\n");
                return 2;
            }
            i++;
        } else if (v && strcmp(a, "--frame") == 0) {
            frame = strtol(v, &end, 10);
            if (*end || frame < 0) {
                fprintf(stderr, "talus analyze: --frame must be a frame index >= 0\n");
                return 2;
            }
            i++;
        } else if (v && strcmp(a, "--dynamic-range-db") == 0) {
            dr = strtof(v, &end);
            if (*end || !(dr > 1 && dr < 200)) {
                fprintf(stderr, "talus analyze: --dynamic-range-db must be in (1, 200)\n");
                return 2;
            }
            i++;
        } else if (v && strcmp(a, "--overlay") == 0) {
            overlay = v;
            i++;
        } else if (a[0] != '-' && !path) {
            path = a;
        } else {
            fprintf(stderr, "talus analyze: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!path || anatomy < 0) {
        fprintf(stderr, "talus analyze: need IMAGE and --anatomy\n");
        usage(stderr);
        return 2;
    }
    tl_bmode img;
    char err[256] = "";
    tl_status st = analyze_load_image(path, (uint32_t)frame, spacing, &img, err, sizeof err);
    if (st != TL_OK) {
        fprintf(stderr, "talus analyze: %s: %s\n", path, err[0] ? err : tl_strerror(st));
        return st == TL_ERR_INVALID_ARG ? 2 : 1;
    }
    tl_analyzer *an = NULL;
    tl_analysis_result res;
    tl_analysis_params p = tl_analysis_params_default(anatomy);
    p.age_years = age;
    p.sex = sex;
    p.dynamic_range_db = dr;
    p.achilles_site = site;
    st = tl_analyzer_create(&an);
    if (st == TL_OK)
        st = tl_analyze(an, &img, &p, &res);
    tl_analyzer_destroy(an);
    if (st != TL_OK) {
        fprintf(stderr, "talus analyze: %s\n", tl_strerror(st));
        analyze_free_image(&img);
        return 1;
    }
    cJSON *root = cJSON_CreateObject();
    result_json(root, &res);
    cJSON_AddNumberToObject(root, "width", img.width);
    cJSON_AddNumberToObject(root, "height", img.height);
    cJSON_AddNumberToObject(root, "spacing_mm", img.spacing_mm);
    int rc = 0;
    if (overlay) {
        size_t stride = (size_t)img.width * 3;
        uint8_t *rgb = malloc(stride * img.height);
        st = rgb ? tl_analysis_draw_overlay(&img, &res, rgb, (uint32_t)stride) : TL_ERR_NO_MEM;
        if (st == TL_OK)
            st = tl_png_write(overlay, rgb, img.width, img.height, (uint32_t)stride, 3);
        free(rgb);
        if (st != TL_OK) {
            fprintf(stderr, "talus analyze: cannot write overlay %s: %s\n", overlay,
                    tl_strerror(st));
            rc = 1;
        } else {
            cJSON_AddStringToObject(root, "overlay", overlay);
        }
    }
    if (needle && analyze_add_needle(&img, root) != 0) {
        fprintf(stderr, "talus analyze: needle detection failed\n");
        rc = 1;
    }
    char *text = cJSON_PrintUnformatted(root);
    if (text)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(root);
    analyze_free_image(&img);
    return rc;
}
