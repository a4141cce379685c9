/* The needle part of `talus analyze IMAGE --spacing-mm S --needle --json`:
 * one image, no history, so this is the detector alone (no tracking). */
#include "commands.h"

#include <cjson/cJSON.h>
#include <stdio.h>

#include "tl_guidance.h"

static cJSON *num_or_null(bool ok, double v)
{
    return ok ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

int analyze_add_needle(const struct tl_bmode_s *img, struct cJSON *root)
{
    if (!img || !root)
        return 1;
    tl_needle_detector *det = NULL;
    tl_status st = tl_needle_detector_create(NULL, &det);
    tl_needle_detection d;
    if (st == TL_OK)
        st = tl_needle_detect(det, img, NULL, &d);
    tl_needle_detector_destroy(det);
    if (st != TL_OK) {
        fprintf(stderr, "talus analyze --needle: %s\n", tl_strerror(st));
        return 1;
    }
    cJSON *n = cJSON_CreateObject();
    if (!n)
        return 1;
    cJSON_AddBoolToObject(n, "found", d.found);
    cJSON_AddItemToObject(n, "tip_x_mm", num_or_null(d.found, d.tip_x_mm));
    cJSON_AddItemToObject(n, "tip_z_mm", num_or_null(d.found, d.tip_z_mm));
    cJSON_AddItemToObject(n, "angle_deg", num_or_null(d.found, d.angle_deg));
    cJSON_AddNumberToObject(n, "confidence", d.confidence);
    cJSON_AddItemToObject(n, "entry_x_mm", num_or_null(d.found, d.entry_x_mm));
    cJSON_AddItemToObject(n, "entry_z_mm", num_or_null(d.found, d.entry_z_mm));
    cJSON_AddItemToObject(n, "length_mm", num_or_null(d.found, d.length_mm));
    /* Why the best candidate was turned down: a single image cannot tell
     * "out of plane" from "absent", so this is a hint, not a verdict. */
    if (!d.found)
        cJSON_AddStringToObject(n, "reason", d.reason ? d.reason : "none");
    cJSON_AddItemToObject(root, "needle", n);
    return 0;
}
