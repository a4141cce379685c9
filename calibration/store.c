/* The calibration store: DIR/<serial>/cal-NNNNNN.json, one file per version,
 * never rewritten. A new version is written to a temporary file, fsynced and
 * link()ed to its name (link refuses to replace an existing file, so two
 * technicians calibrating at once cannot overwrite each other: the loser
 * takes the next number), then the directory is fsynced. */
#include "cal_internal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>

#define SCHEMA 1
#define MAX_RECORD_BYTES (4u << 20)

const char *tl_cal_state_name(tl_cal_state s)
{
    switch (s) {
    case TL_CAL_VALID: return "valid";
    case TL_CAL_MISSING: return "missing";
    case TL_CAL_EXPIRED: return "expired";
    case TL_CAL_MISMATCH: return "mismatched";
    case TL_CAL_FAILED: return "failed";
    case TL_CAL_CORRUPT: return "corrupt";
    }
    return "unknown";
}

void tl_cal_state_message(tl_cal_state s, const char *serial, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    const char *who = serial && *serial ? serial : "?";
    switch (s) {
    case TL_CAL_VALID: buf[0] = '\0'; return;
    case TL_CAL_MISSING:
        snprintf(buf, size, "probe %s has no calibration: distances use the nominal geometry", who);
        return;
    case TL_CAL_EXPIRED:
        snprintf(buf, size, "calibration of probe %s has expired: recalibrate; distances use the nominal geometry", who);
        return;
    case TL_CAL_MISMATCH:
        snprintf(buf, size, "the calibration record found for probe %s names another probe: not applied", who);
        return;
    case TL_CAL_FAILED:
        snprintf(buf, size, "probe %s failed its last calibration/QA: check it before clinical use", who);
        return;
    case TL_CAL_CORRUPT:
        snprintf(buf, size, "calibration record of probe %s cannot be read: not applied", who);
        return;
    }
    snprintf(buf, size, "calibration state of probe %s unknown", who);
}

tl_status tl_cal_default_dir(char *buf, size_t size)
{
    if (!buf || size == 0)
        return TL_ERR_INVALID_ARG;
    const char *v = getenv("TALUS_CAL_DIR");
    int n;
    if (v && *v)
        n = snprintf(buf, size, "%s", v);
    else if ((v = getenv("XDG_DATA_HOME")) && *v)
        n = snprintf(buf, size, "%s/talus/calibration", v);
    else if ((v = getenv("HOME")) && *v)
        n = snprintf(buf, size, "%s/.local/share/talus/calibration", v);
    else
        return TL_ERR_NOT_FOUND;
    return n > 0 && (size_t)n < size ? TL_OK : TL_ERR_INVALID_ARG;
}

/* snprintf that says whether it fitted (paths are checked, never cut). */
static bool fmt(char *buf, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));
static bool fmt(char *buf, size_t size, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(buf, size, f, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < size;
}

static bool valid_serial(const char *s)
{
    if (!s || !*s || strlen(s) > 31 || s[0] == '.')
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

static tl_status mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return TL_ERR_INVALID_ARG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return tl_status_from_errno(errno);
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return tl_status_from_errno(errno);
    return TL_OK;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);   /* best effort: some file systems refuse it */
        close(fd);
    }
}

/* "cal-000012.json" -> 12; 0 for anything else. */
static uint32_t version_of(const char *name)
{
    unsigned v;
    char tail[8];
    if (strlen(name) != 15 || sscanf(name, "cal-%6u.%5s", &v, tail) != 2 ||
        strcmp(tail, "json") != 0)
        return 0;
    for (int i = 4; i < 10; i++)
        if (name[i] < '0' || name[i] > '9')
            return 0;
    return v;
}

tl_status tl_cal_history(const char *dir, const char *serial, uint32_t *count, uint32_t *newest)
{
    if (!dir || !valid_serial(serial) || !count || !newest)
        return TL_ERR_INVALID_ARG;
    *count = *newest = 0;
    char path[PATH_MAX];
    if (!fmt(path, sizeof path, "%s/%s", dir, serial))
        return TL_ERR_INVALID_ARG;
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? TL_OK : tl_status_from_errno(errno);
    struct dirent *e;
    while ((e = readdir(d))) {
        uint32_t v = version_of(e->d_name);
        if (v == 0)
            continue;
        (*count)++;
        if (v > *newest)
            *newest = v;
    }
    closedir(d);
    return TL_OK;
}

static char *slurp(const char *path, tl_status *st)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *st = errno == ENOENT ? TL_ERR_NOT_FOUND : tl_status_from_errno(errno);
        return NULL;
    }
    char *buf = malloc(MAX_RECORD_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_RECORD_BYTES + 1, f) : 0;
    bool err = ferror(f);
    fclose(f);
    if (!buf || err || n > MAX_RECORD_BYTES) {
        free(buf);
        *st = !buf ? TL_ERR_NO_MEM : err ? TL_ERR_IO : TL_ERR_FORMAT;
        return NULL;
    }
    buf[n] = '\0';
    *st = TL_OK;
    return buf;
}

static bool get_num(const cJSON *o, const char *k, double *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return false;
    *v = it->valuedouble;
    return true;
}

static bool get_str(const cJSON *o, const char *k, char *buf, size_t size)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsString(it) || strlen(it->valuestring) >= size)
        return false;
    strcpy(buf, it->valuestring);
    return true;
}

/* Check a parsed record and copy out what the station applies. */
static tl_status from_json(const cJSON *root, tl_cal_record *r)
{
    memset(r, 0, sizeof *r);
    double schema, version, created, expires;
    if (!cJSON_IsObject(root) || !get_num(root, "schema", &schema) || schema != SCHEMA ||
        !get_num(root, "version", &version) || version < 1 || version > 999999 ||
        version != floor(version) || !get_str(root, "serial", r->serial, sizeof r->serial) ||
        !get_str(root, "model", r->model, sizeof r->model) ||
        !get_str(root, "technician", r->technician, sizeof r->technician) ||
        !get_num(root, "created_s", &created) || created < 0 ||
        !get_num(root, "expires_s", &expires) || expires < created)
        return TL_ERR_FORMAT;
    const cJSON *pass = cJSON_GetObjectItemCaseSensitive(root, "pass");
    const cJSON *procs = cJSON_GetObjectItemCaseSensitive(root, "procedures");
    if (!cJSON_IsBool(pass) || !cJSON_IsObject(procs) || !valid_serial(r->serial))
        return TL_ERR_FORMAT;
    r->schema = SCHEMA;
    r->version = (uint32_t)version;
    r->created_s = (uint64_t)created;
    r->expires_s = (uint64_t)expires;
    r->pass = cJSON_IsTrue(pass);
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(procs, "spatial");
    if (sp) {
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(sp, "results");
        const cJSON *ok = cJSON_GetObjectItemCaseSensitive(sp, "pass");
        if (!cJSON_IsObject(res) || !cJSON_IsBool(ok))
            return TL_ERR_FORMAT;
        if (cJSON_IsTrue(ok)) {
            if (!get_num(res, "axial_scale", &r->axial_scale) ||
                !get_num(res, "lateral_scale", &r->lateral_scale) ||
                !get_num(res, "axial_offset_mm", &r->axial_offset_mm) ||
                !get_num(res, "lateral_offset_mm", &r->lateral_offset_mm) ||
                !get_num(res, "speed_of_sound_m_s", &r->speed_of_sound_m_s) ||
                !(r->axial_scale > 0.5 && r->axial_scale < 2.0) ||
                !(r->lateral_scale > 0.5 && r->lateral_scale < 2.0) ||
                !(fabs(r->lateral_offset_mm) < 50.0) || !(fabs(r->axial_offset_mm) < 50.0))
                return TL_ERR_FORMAT;
            r->has_spatial = true;
        }
    }
    return TL_OK;
}

tl_status tl_cal_record_json(const char *path, char **json)
{
    if (!path || !json)
        return TL_ERR_INVALID_ARG;
    tl_status st;
    *json = slurp(path, &st);
    return st;
}

tl_status tl_cal_record_read(const char *path, tl_cal_record *out)
{
    if (!path || !out)
        return TL_ERR_INVALID_ARG;
    tl_status st;
    char *text = slurp(path, &st);
    if (!text)
        return st;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root)
        return TL_ERR_FORMAT;
    st = from_json(root, out);
    cJSON_Delete(root);
    if (st == TL_OK)
        snprintf(out->path, sizeof out->path, "%s", path);
    return st;
}

static void iso_time(uint64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Write `text` as DIR/cal-NNNNNN.json without ever replacing a file. */
static tl_status commit(const char *dir, uint32_t version, const char *text, char *path,
                        size_t path_size)
{
    char tmp[PATH_MAX];
    if (!fmt(tmp, sizeof tmp, "%s/.cal-tmp-XXXXXX", dir))
        return TL_ERR_INVALID_ARG;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return tl_status_from_errno(errno);
    size_t n = strlen(text), off = 0;
    tl_status st = TL_OK;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            st = tl_status_from_errno(errno);
            break;
        }
        off += (size_t)w;
    }
    if (st == TL_OK && fchmod(fd, 0644) != 0)
        st = tl_status_from_errno(errno);
    if (st == TL_OK && fsync(fd) != 0)
        st = tl_status_from_errno(errno);
    if (close(fd) != 0 && st == TL_OK)
        st = tl_status_from_errno(errno);
    if (st == TL_OK) {
        if (!fmt(path, path_size, "%s/cal-%06u.json", dir, version))
            st = TL_ERR_INVALID_ARG;
        else if (link(tmp, path) != 0)
            st = errno == EEXIST ? TL_ERR_BUSY : tl_status_from_errno(errno);
    }
    unlink(tmp);
    if (st == TL_OK)
        fsync_dir(dir);
    return st;
}

tl_status tl_cal_store_write(const char *dir, const char *serial, const char *model,
                             const char *technician, const tl_cal_procedure *proc,
                             uint32_t valid_days, uint64_t now_s, tl_cal_record *out)
{
    if (!dir || !valid_serial(serial) || !proc || !proc->name || !proc->json || !out ||
        valid_days == 0 || valid_days > 3650)
        return TL_ERR_INVALID_ARG;
    cJSON *pj = cJSON_Parse(proc->json);
    if (!cJSON_IsObject(pj)) {
        cJSON_Delete(pj);
        return TL_ERR_INVALID_ARG;
    }
    char sdir[PATH_MAX];
    if (!fmt(sdir, sizeof sdir, "%s/%s", dir, serial)) {
        cJSON_Delete(pj);
        return TL_ERR_INVALID_ARG;
    }
    tl_status st = mkdir_p(sdir);
    if (st != TL_OK) {
        cJSON_Delete(pj);
        return st;
    }
    char date[32];
    iso_time(now_s, date, sizeof date);
    cJSON_DeleteItemFromObjectCaseSensitive(pj, "pass");
    cJSON_AddBoolToObject(pj, "pass", proc->pass);
    cJSON_AddStringToObject(pj, "date", date);
    cJSON_AddNumberToObject(pj, "date_s", (double)now_s);

    for (int attempt = 0; attempt < 20; attempt++) {
        uint32_t count, newest;
        st = tl_cal_history(dir, serial, &count, &newest);
        if (st != TL_OK)
            break;
        /* carry the newest record's other procedures, if it is ours and sound */
        cJSON *procs = NULL;
        if (newest > 0) {
            char p[PATH_MAX];
            tl_status rs = TL_ERR_INVALID_ARG;
            char *text = fmt(p, sizeof p, "%s/cal-%06u.json", sdir, newest) ? slurp(p, &rs) : NULL;
            cJSON *old = text ? cJSON_Parse(text) : NULL;
            free(text);
            tl_cal_record chk;
            if (old && from_json(old, &chk) == TL_OK && strcmp(chk.serial, serial) == 0)
                procs = cJSON_DetachItemFromObjectCaseSensitive(old, "procedures");
            cJSON_Delete(old);
        }
        if (!procs)
            procs = cJSON_CreateObject();
        cJSON_DeleteItemFromObjectCaseSensitive(procs, proc->name);
        cJSON_AddItemToObject(procs, proc->name, cJSON_Duplicate(pj, true));
        bool all_pass = true;
        cJSON *it;
        cJSON_ArrayForEach(it, procs)
            all_pass = all_pass && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "pass"));

        cJSON *root = cJSON_CreateObject();
        cJSON_AddNumberToObject(root, "schema", SCHEMA);
        cJSON_AddNumberToObject(root, "version", newest + 1);
        cJSON_AddStringToObject(root, "serial", serial);
        cJSON_AddStringToObject(root, "model", model ? model : "");
        cJSON_AddStringToObject(root, "technician", technician ? technician : "");
        cJSON_AddStringToObject(root, "created", date);
        cJSON_AddNumberToObject(root, "created_s", (double)now_s);
        uint64_t exp = now_s + (uint64_t)valid_days * 86400u;
        char edate[32];
        iso_time(exp, edate, sizeof edate);
        cJSON_AddStringToObject(root, "expires", edate);
        cJSON_AddNumberToObject(root, "expires_s", (double)exp);
        cJSON_AddNumberToObject(root, "valid_days", valid_days);
        cJSON_AddBoolToObject(root, "pass", all_pass);
        cJSON_AddStringToObject(root, "updated_procedure", proc->name);
        if (newest > 0)
            cJSON_AddNumberToObject(root, "previous_version", newest);
        cJSON_AddItemToObject(root, "procedures", procs);
        char *text = cJSON_Print(root);
        cJSON_Delete(root);
        if (!text) {
            st = TL_ERR_NO_MEM;
            break;
        }
        char path[PATH_MAX];
        st = commit(sdir, newest + 1, text, path, sizeof path);
        free(text);
        if (st == TL_ERR_BUSY)
            continue;   /* someone else took that number: next one */
        if (st == TL_OK)
            st = tl_cal_record_read(path, out);
        break;
    }
    cJSON_Delete(pj);
    return st;
}

tl_status tl_cal_check(const char *dir, const char *serial, uint64_t now_s,
                       tl_cal_state *state, tl_cal_record *rec)
{
    if (!dir || !serial || !state)
        return TL_ERR_INVALID_ARG;
    tl_cal_record tmp;
    if (!rec)
        rec = &tmp;
    memset(rec, 0, sizeof *rec);
    *state = TL_CAL_MISSING;
    if (!valid_serial(serial))
        return TL_OK;   /* no record can exist for it */
    uint32_t count, newest;
    if (tl_cal_history(dir, serial, &count, &newest) != TL_OK || newest == 0)
        return TL_OK;
    /* the newest readable version decides; unreadable ones are skipped */
    bool corrupt = false;
    uint32_t tried = 0;
    for (uint32_t v = newest; v >= 1 && tried < 1000; v--, tried++) {
        char p[PATH_MAX];
        tl_status st = fmt(p, sizeof p, "%s/%s/cal-%06u.json", dir, serial, v)
                           ? tl_cal_record_read(p, rec) : TL_ERR_INVALID_ARG;
        if (st == TL_ERR_NOT_FOUND)
            continue;
        if (st != TL_OK) {
            corrupt = true;
            continue;
        }
        if (strcmp(rec->serial, serial) != 0)
            *state = TL_CAL_MISMATCH;
        else if (now_s > rec->expires_s)
            *state = TL_CAL_EXPIRED;
        else if (!rec->pass)
            *state = TL_CAL_FAILED;
        else
            *state = TL_CAL_VALID;
        return TL_OK;
    }
    memset(rec, 0, sizeof *rec);
    *state = corrupt ? TL_CAL_CORRUPT : TL_CAL_MISSING;
    return TL_OK;
}

tl_status tl_cal_apply(const tl_cal_record *rec, const char *probe_serial, uint64_t now_s,
                       tl_geometry *geom, float *lateral_offset_mm)
{
    if (!rec || !probe_serial || !geom)
        return TL_ERR_INVALID_ARG;
    if (strcmp(rec->serial, probe_serial) != 0 || now_s > rec->expires_s || !rec->has_spatial)
        return TL_ERR_CALIBRATION;
    tl_geometry g = *geom;
    g.c_m_s = (float)(g.c_m_s * rec->axial_scale);
    if (tl_geometry_validate(&g) != TL_OK)
        return TL_ERR_CALIBRATION;
    *geom = g;
    if (lateral_offset_mm)
        *lateral_offset_mm = (float)rec->lateral_offset_mm;
    return TL_OK;
}

void tl_cal_correct_point(const tl_cal_record *rec, float x_disp, float z_disp, float *x_true,
                          float *z_true)
{
    *x_true = (float)(rec->lateral_scale * x_disp + rec->lateral_offset_mm);
    *z_true = (float)(rec->axial_scale * z_disp + rec->axial_offset_mm);
}
