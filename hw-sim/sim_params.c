/* Presets and their parameters: one table, per-preset defaults, parsing and
 * validation. Parameters are kept as text (so `talus sim list` shows exactly
 * what a user may type) and parsed into sim_params when a scene is built. */
#include "sim_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B(p) (1u << (p))
#define ALL 0xFFu
#define ANAT (B(PRESET_PLANTAR) | B(PRESET_ACHILLES) | B(PRESET_ANKLE) | B(PRESET_NEEDLE_INSERTION))
#define NEEDLE (ANAT | B(PRESET_NEEDLE_GUIDE))

static const struct {
    const char *name, *desc;
} presets[PRESET_COUNT] = {
    [PRESET_PLANTAR] = { "plantar-fascia",
                         "heel, long axis: fat pad, plantar fascia inserting on the calcaneus, "
                         "flexor digitorum brevis; thickness, lesion, perifascial fluid" },
    [PRESET_ACHILLES] = { "achilles",
                          "Achilles tendon, long axis, midportion or insertion, over Kager's fat "
                          "pad; thickness, hypoechoic area or anechoic cleft (partial tear)" },
    [PRESET_ANKLE] = { "ankle-recess",
                       "anterior ankle, sagittal: distal tibia, talar dome with cartilage, "
                       "anterior recess fat pad, effusion grade 0-3" },
    [PRESET_WIRE] = { "wire-phantom", "calibration phantom: a known grid of wires in water" },
    [PRESET_UNIFORM] = { "uniform-phantom",
                         "tissue-mimicking phantom with uniform scattering and attenuation" },
    [PRESET_AIR] = { "in-air", "probe in air: lens ring-down and electronic noise only "
                               "(element checks)" },
    [PRESET_NEEDLE_INSERTION] = { "needle-insertion",
                                  "an in-plane needle advancing towards a lesion in the "
                                  "chosen anatomy" },
    [PRESET_NEEDLE_GUIDE] = { "needle-guide",
                              "a needle through a guide bracket at guide_angle_deg into a "
                              "gel phantom (guide calibration)" },
};

#define F(field) offsetof(sim_params, field)

typedef struct {
    sim_param_def d;
    size_t off;
    int enum_base;
} param_row;

static const param_row rows[] = {
    { { "thickness_mm", "3.0", "fascia / Achilles thickness at the standard site (mm; Achilles insertion: 4.0 unless set)",
        'f', 0.5, 15, NULL, B(PRESET_PLANTAR) | B(PRESET_ACHILLES) | B(PRESET_NEEDLE_INSERTION) },
      F(thickness_mm), 0 },
    { { "lesion", "0", "a lesion in the structure (0/1)", 'b', 0, 1, NULL, ANAT }, F(lesion), 0 },
    { { "lesion_width_mm", "6.0", "lesion lateral extent (mm)", 'f', 0.5, 30, NULL, ANAT },
      F(lesion_width_mm), 0 },
    { { "lesion_depth_mm", "1.5", "lesion axial extent (mm)", 'f', 0.3, 15, NULL, ANAT },
      F(lesion_depth_mm), 0 },
    { { "lesion_contrast_db", "-10", "hypoechoic lesion echo level against the structure (dB)",
        'f', -60, -1, NULL, ANAT },
      F(lesion_contrast_db), 0 },
    { { "lesion_kind", "hypoechoic", "hypoechoic|anechoic: hypoechoic area or anechoic cleft (partial tear)", 'e', 0,
        1, "hypoechoic|anechoic", ANAT },
      F(lesion_kind), 0 },
    { { "fluid", "0", "perifascial fluid deep to the fascia (0/1)", 'b', 0, 1, NULL,
        B(PRESET_PLANTAR) | B(PRESET_NEEDLE_INSERTION) },
      F(fluid), 0 },
    { { "effusion_grade", "0", "ankle joint effusion grade 0-3 (EULAR-OMERACT)", 'i', 0, 3, NULL,
        B(PRESET_ANKLE) | B(PRESET_NEEDLE_INSERTION) },
      F(effusion_grade), 0 },
    { { "cartilage_mm", "1.1", "talar dome cartilage thickness (mm)", 'f', 0.2, 4, NULL,
        B(PRESET_ANKLE) | B(PRESET_NEEDLE_INSERTION) },
      F(cartilage_mm), 0 },
    { { "site", "midportion", "midportion|insertion: Achilles site imaged", 'e', 0, 1, "midportion|insertion",
        B(PRESET_ACHILLES) | B(PRESET_NEEDLE_INSERTION) },
      F(site_insertion), 0 },
    { { "anisotropy_deg", "0", "probe tilt against the fibres (deg): fibrillar tissue darkens",
        'f', -30, 30, NULL, ANAT },
      F(anisotropy_deg), 0 },
    { { "f0_mhz", "10", "transmit centre frequency (MHz)", 'f', 7.5, 15, NULL, ALL }, F(f0_mhz),
      0 },
    { { "fs_mhz", "0", "RF sampling frequency (MHz), >= 4 f0; 0 = max(40, 4 f0)", 'f', 0, 160,
        NULL, ALL },
      F(fs_mhz), 0 },
    { { "depth_mm", "0", "imaging depth (mm, 20-60); 0 = from samples", 'f', 0, 60, NULL, ALL },
      F(depth_mm), 0 },
    { { "gain_db", "0", "overall receive gain (dB)", 'f', -40, 40, NULL, ALL }, F(gain_db), 0 },
    { { "noise_db", "-65", "electronic noise before TGC against the tissue echo (dB)", 'f', -140,
        0, NULL, ALL },
      F(noise_db), 0 },
    { { "speckle", "1", "random scatterers and fibre texture (0 = noise-free render for "
                        "measurement)",
        'b', 0, 1, NULL, ALL },
      F(speckle), 0 },
    { { "lines", "128", "scan lines", 'i', 16, 1024, NULL, ALL }, F(lines), 0 },
    { { "samples", "2048", "RF samples per line", 'i', 256, 8192, NULL, ALL }, F(samples), 0 },
    { { "convex", "0", "convex array (0 = linear)", 'b', 0, 1, NULL, ALL }, F(convex), 0 },
    { { "radius_mm", "40", "convex face radius (mm)", 'f', 5, 100, NULL, ALL }, F(radius_mm), 0 },
    { { "pitch_mm", "0.3", "line pitch on the face (mm)", 'f', 0.05, 1.0, NULL, ALL },
      F(pitch_mm), 0 },
    { { "anatomy", "plantar-fascia", "plantar-fascia|achilles|ankle-recess: anatomy the needle goes into", 'e', 0, 2,
        "plantar-fascia|achilles|ankle-recess", B(PRESET_NEEDLE_INSERTION) },
      F(anatomy), 1 },
    { { "needle", "0", "an in-plane needle in the scene (0/1)", 'b', 0, 1, NULL, NEEDLE },
      F(needle), 0 },
    { { "needle_angle_deg", "30", "needle angle from the skin surface (deg)", 'f', 5, 80, NULL,
        ANAT },
      F(needle_angle_deg), 0 },
    { { "needle_gauge", "22", "needle gauge (18-30)", 'f', 18, 30, NULL, NEEDLE },
      F(needle_gauge), 0 },
    { { "needle_speed_mm", "0.25", "needle advance per frame (mm)", 'f', 0, 10, NULL, NEEDLE },
      F(needle_speed_mm), 0 },
    { { "needle_drift_mm", "0", "out-of-plane drift per frame (mm): the needle fades away",
        'f', -2, 2, NULL, NEEDLE },
      F(needle_drift_mm), 0 },
    { { "needle_start_frame", "0", "frame at which the needle enters the skin", 'i', 0, 1e7,
        NULL, NEEDLE },
      F(needle_start_frame), 0 },
    { { "needle_start_mm", "4", "shaft length under the skin at the start frame (mm)", 'f', 0,
        100, NULL, NEEDLE },
      F(needle_start_mm), 0 },
    { { "sos_error_pct", "0", "true speed of sound vs the 1540 m/s assumed (%): axial scale "
                              "error",
        'f', -10, 10, NULL, ALL },
      F(sos_error_pct), 0 },
    { { "lateral_offset_mm", "0", "lateral offset of the image against the true position (mm)",
        'f', -10, 10, NULL, ALL },
      F(lateral_offset_mm), 0 },
    { { "dead_elements", "", "dead elements (0-127), e.g. \"3,17,90\"", 'l', 0, 127, NULL,
        ALL },
      0, 0 },
    { { "weak_elements", "", "weak (-6 dB) elements (0-127), e.g. \"40,41\"", 'l', 0, 127, NULL, ALL },
      0, 0 },
    { { "gain_tilt_db", "0", "gain error growing linearly with depth to this at the bottom (dB)",
        'f', -30, 30, NULL, ALL },
      F(gain_tilt_db), 0 },
    { { "guide_angle_deg", "45", "needle guide bracket angle from the skin (deg)", 'f', 10, 80,
        NULL, B(PRESET_NEEDLE_GUIDE) },
      F(guide_angle_deg), 0 },
    { { "attenuation_db_cm_mhz", "0.5", "soft tissue / phantom attenuation (dB/cm/MHz)", 'f', 0,
        3, NULL, ALL },
      F(attenuation), 0 },
    { { "tgc_db_cm", "-1", "time-gain compensation (dB/cm); -1 = compensate soft tissue", 'f',
        -1, 60, NULL, ALL },
      F(tgc_db_cm), 0 },
    { { "bandwidth", "0.6", "fractional -6 dB pulse bandwidth", 'f', 0.3, 1.2, NULL, ALL },
      F(bandwidth), 0 },
    { { "beam_mm", "0.5", "lateral -6 dB beam width at 10 MHz (mm; scales with 1/f0)", 'f', 0.15,
        3, NULL, ALL },
      F(beam_mm), 0 },
    { { "scatterers_per_cell", "20", "random scatterers per resolution cell", 'f', 1, 200, NULL,
        ALL },
      F(scatterers_per_cell), 0 },
    { { "steer_deg", "0", "beam steering of a linear array (deg, + towards +x): every line "
                          "leaves its element at this angle (needle enhancement)",
        'f', -30, 30, NULL, ALL },
      F(steer_deg), 0 },
    { { "motion", "0.15", "speckle decorrelation per frame (radians of mixing phase)", 'f', 0, 3,
        NULL, ALL },
      F(motion), 0 },
};

#define NROWS ((int)(sizeof rows / sizeof rows[0]))
_Static_assert(sizeof rows / sizeof rows[0] <= SIM_NPARAMS, "raise SIM_NPARAMS");

/* Defaults that differ per preset. */
static const struct {
    sim_preset p;
    const char *name, *value;
} overrides[] = {
    { PRESET_ACHILLES, "thickness_mm", "5.5" },
    { PRESET_NEEDLE_INSERTION, "lesion", "1" },
    { PRESET_NEEDLE_INSERTION, "needle", "1" },
    { PRESET_NEEDLE_GUIDE, "needle", "1" },
    { PRESET_NEEDLE_GUIDE, "needle_speed_mm", "0" },
    { PRESET_NEEDLE_GUIDE, "needle_start_mm", "30" },
    { PRESET_AIR, "noise_db", "-40" },
    { PRESET_WIRE, "attenuation_db_cm_mhz", "0.002" },
    { PRESET_WIRE, "speckle", "0" },
};

int sim_param_total(void) { return NROWS; }

int sim_param_index(const char *name)
{
    for (int i = 0; i < NROWS; i++)
        if (strcmp(rows[i].d.name, name) == 0)
            return i;
    return -1;
}

const char *sim_param_default(sim_preset p, int idx)
{
    for (size_t k = 0; k < sizeof overrides / sizeof overrides[0]; k++)
        if (overrides[k].p == p && strcmp(overrides[k].name, rows[idx].d.name) == 0)
            return overrides[k].value;
    return rows[idx].d.def;
}

bool sim_param_applies(sim_preset p, int idx) { return (rows[idx].d.presets >> p) & 1u; }

int sim_preset_from_name(const char *name)
{
    for (int i = 0; i < PRESET_COUNT; i++)
        if (name && strcmp(presets[i].name, name) == 0)
            return i;
    return -1;
}

const char *sim_preset_name_of(sim_preset p) { return presets[p].name; }

size_t tl_sim_preset_count(void) { return PRESET_COUNT; }

const char *tl_sim_preset_name(size_t i) { return i < PRESET_COUNT ? presets[i].name : NULL; }

const char *tl_sim_preset_description(size_t i)
{
    return i < PRESET_COUNT ? presets[i].desc : NULL;
}

size_t tl_sim_param_count(const char *preset)
{
    int p = sim_preset_from_name(preset);
    if (p < 0)
        return 0;
    size_t n = 0;
    for (int i = 0; i < NROWS; i++)
        n += sim_param_applies((sim_preset)p, i);
    return n;
}

tl_status tl_sim_param_info(const char *preset, size_t i, const char **name,
                            const char **default_value, const char **help)
{
    int p = sim_preset_from_name(preset);
    if (p < 0)
        return TL_ERR_NOT_FOUND;
    size_t n = 0;
    for (int k = 0; k < NROWS; k++) {
        if (!sim_param_applies((sim_preset)p, k))
            continue;
        if (n++ == i) {
            if (name)
                *name = rows[k].d.name;
            if (default_value)
                *default_value = sim_param_default((sim_preset)p, k);
            if (help)
                *help = rows[k].d.help;
            return TL_OK;
        }
    }
    return TL_ERR_NOT_FOUND;
}

static bool parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    while (end && isspace((unsigned char)*end))
        end++;
    if (errno || !end || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static int parse_list(const char *s, int *out, int max, int hi)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        char *end = NULL;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 0 || v > hi || n >= max)
            return -1;
        if (*end && *end != ',' && *end != ' ')
            return -1;
        out[n++] = (int)v;
        p = end;
    }
    return n;
}

/* Parse one value of row r into the struct (dst may be NULL: check only). */
static tl_status parse_value(int r, const char *text, sim_params *dst)
{
    const param_row *row = &rows[r];
    double v = 0;
    switch (row->d.type) {
    case 'f':
    case 'i':
        if (!parse_double(text, &v) || v < row->d.lo || v > row->d.hi)
            return TL_ERR_INVALID_ARG;
        if (row->d.type == 'i' && v != floor(v))
            return TL_ERR_INVALID_ARG;
        break;
    case 'b':
        if (!strcmp(text, "1") || !strcmp(text, "true") || !strcmp(text, "yes") ||
            !strcmp(text, "on"))
            v = 1;
        else if (!strcmp(text, "0") || !strcmp(text, "false") || !strcmp(text, "no") ||
                 !strcmp(text, "off"))
            v = 0;
        else
            return TL_ERR_INVALID_ARG;
        break;
    case 'e': {
        const char *c = row->d.choices;
        int k = 0;
        size_t len = strlen(text);
        bool found = false;
        while (c && *c) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            if (cl == len && len && strncmp(c, text, cl) == 0) {
                found = true;
                break;
            }
            k++;
            c = bar ? bar + 1 : NULL;
        }
        if (!found)
            return TL_ERR_INVALID_ARG;
        v = k + row->enum_base;
        break;
    }
    case 'l': {
        int tmp[SIM_MAX_DEAD];
        int n = parse_list(text, tmp, SIM_MAX_DEAD, (int)row->d.hi);
        if (n < 0)
            return TL_ERR_INVALID_ARG;
        if (dst) {
            bool dead = strcmp(row->d.name, "dead_elements") == 0;
            memcpy(dead ? dst->dead : dst->weak, tmp, sizeof(int) * (size_t)n);
            *(dead ? &dst->n_dead : &dst->n_weak) = n;
        }
        return TL_OK;
    }
    default:
        return TL_ERR_INVALID_ARG;
    }
    if (dst) {
        char *base = (char *)dst;
        if (row->d.type == 'f')
            *(float *)(base + row->off) = (float)v;
        else
            *(int *)(base + row->off) = (int)v;
    }
    return TL_OK;
}

tl_status tl_sim_set_param(tl_sim *sim, const char *key, const char *value)
{
    if (!sim || !key)
        return TL_ERR_INVALID_ARG;
    char name[64];
    const char *val = value;
    if (!value) {
        const char *eq = strchr(key, '=');
        if (!eq || (size_t)(eq - key) >= sizeof name)
            return TL_ERR_INVALID_ARG;
        memcpy(name, key, (size_t)(eq - key));
        name[eq - key] = '\0';
        val = eq + 1;
    } else {
        if (strlen(key) >= sizeof name)
            return TL_ERR_NOT_FOUND;
        strcpy(name, key);
    }
    int idx = sim_param_index(name);
    if (idx < 0 || !sim_param_applies(sim->preset, idx))
        return TL_ERR_NOT_FOUND;
    if (strlen(val) >= sizeof sim->values[0])
        return TL_ERR_INVALID_ARG;
    tl_status st = parse_value(idx, val, NULL);
    if (st != TL_OK)
        return st;
    /* a geometry set explicitly is replaced by one from parameters */
    if (rows[idx].off == F(lines) || rows[idx].off == F(samples) || rows[idx].off == F(f0_mhz) ||
        rows[idx].off == F(fs_mhz) || rows[idx].off == F(depth_mm) ||
        rows[idx].off == F(convex) || rows[idx].off == F(radius_mm) ||
        rows[idx].off == F(pitch_mm))
        sim->geom_override = false;
    strcpy(sim->values[idx], val);
    /* steering keeps the scenes built: one per angle is cached (a steered
     * sequence alternates angles frame by frame) */
    if (rows[idx].off != F(steer_deg))
        sim->scenes_ok = 0;
    return TL_OK;
}

tl_status sim_params_parse(const tl_sim *sim, sim_params *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < NROWS; i++) {
        const char *text = sim->values[i][0] ? sim->values[i] : sim_param_default(sim->preset, i);
        if (parse_value(i, text, out) != TL_OK)
            return TL_ERR_INVALID_ARG;
    }
    int ti = sim_param_index("thickness_mm");
    out->thickness_set = ti >= 0 && sim->values[ti][0] != '\0';
    if (out->fs_mhz <= 0.0f)
        out->fs_mhz = fmaxf(40.0f, 4.0f * out->f0_mhz);
    if (out->fs_mhz < 4.0f * out->f0_mhz - 1e-3f)
        return TL_ERR_INVALID_ARG; /* fs must be >= 4 f0 */
    if (out->depth_mm > 0.0f && out->depth_mm < 20.0f)
        return TL_ERR_INVALID_ARG;
    if (out->depth_mm > 0.0f) {
        float dz = 1540.0f / (2.0f * out->fs_mhz * 1e6f) * 1e3f;
        int s = (int)lroundf(out->depth_mm / dz) + 1;
        if (s > 8192)
            return TL_ERR_INVALID_ARG;
        out->samples = s;
    }
    if (out->n_dead > 0 || out->n_weak > 0) {
        /* elements are the 128 of the probe whatever the line count */
        for (int i = 0; i < out->n_dead; i++)
            if (out->dead[i] > 127)
                return TL_ERR_INVALID_ARG;
    }
    return TL_OK;
}

tl_status sim_params_geometry(const sim_params *p, tl_geometry *g)
{
    *g = tl_geometry_default_linear();
    g->kind = p->convex ? TL_PROBE_CONVEX : TL_PROBE_LINEAR;
    g->lines = (uint32_t)p->lines;
    g->samples = (uint32_t)p->samples;
    g->pitch_mm = p->pitch_mm;
    g->radius_mm = p->convex ? p->radius_mm : 0.0f;
    g->f0_hz = p->f0_mhz * 1e6f;
    g->fs_hz = p->fs_mhz * 1e6f;
    g->c_m_s = 1540.0f;
    g->depth_start_mm = p->depth_start_mm;
    g->steer_deg = p->steer_deg;
    return tl_geometry_validate(g) == TL_OK ? TL_OK : TL_ERR_INVALID_ARG;
}
