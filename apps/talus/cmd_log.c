/* talus log list | show SESSION | export SESSION --format csv|json | check [--db FILE] */
#include "commands.h"
#include "injlog_cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus log list [--patient ID] [--json] [--db FILE]\n"
            "       talus log show SESSION [--json] [--db FILE]\n"
            "       talus log export SESSION --format csv|json [-o FILE] [--db FILE]\n"
            "       talus log check [--db FILE]\n\n"
            "The injection log: sessions, their findings and injections.\n"
            "  list     one line per session (id, date, patient, side, anatomy, operator,\n"
            "           findings, injections, open/closed)\n"
            "  show     a session with every finding and injection\n"
            "  export   the session as CSV (one row per record: session, finding,\n"
            "           injection; RFC 4180 quoting; text cells starting with = + - @ get a\n"
            "           leading ' so spreadsheets do not run them) or as one JSON object\n"
            "  check    integrity_check of the database and every image the log names\n"
            "           (present, a whole PNG); one JSON object; exit 1 if anything is wrong\n"
            "  --db FILE     the database (default $TALUS_DB, else\n"
            "                ~/.local/share/talus/talus.db)\n"
            "  -o FILE       write the export there (mode 0600) instead of stdout\n"
            "Exit status: 0 ok, 1 failed (unknown session, unreadable database), 2 usage.\n");
}

/* ---- JSON ----------------------------------------------------------------- */

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static void add_char(cJSON *o, const char *k, char c)
{
    char s[2] = { c, 0 };
    if (c)
        cJSON_AddStringToObject(o, k, s);
    else
        cJSON_AddNullToObject(o, k);
}

static void add_time(cJSON *o, const char *k, int64_t ms)
{
    char buf[40];
    injlog_cli_time(ms, buf, sizeof buf);
    if (ms > 0)
        cJSON_AddStringToObject(o, k, buf);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *session_json(const tl_injlog_session *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)s->id);
    cJSON_AddStringToObject(o, "patient_id", s->patient_id);
    add_char(o, "side", s->side);
    cJSON_AddStringToObject(o, "anatomy", s->anatomy);
    cJSON_AddStringToObject(o, "diagnosis", s->diagnosis);
    cJSON_AddStringToObject(o, "operator", s->operator_name);
    if (s->age_years > 0)
        cJSON_AddNumberToObject(o, "age_years", s->age_years);
    else
        cJSON_AddNullToObject(o, "age_years");
    add_char(o, "sex", s->sex);
    add_time(o, "started", s->started_ms);
    add_time(o, "ended", s->ended_ms);
    cJSON_AddStringToObject(o, "note", s->note);
    cJSON_AddNumberToObject(o, "findings", s->findings);
    cJSON_AddNumberToObject(o, "injections", s->injections);
    return o;
}

static cJSON *finding_json(const tl_injlog_finding *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)f->id);
    add_time(o, "time", f->time_ms);
    cJSON_AddStringToObject(o, "structure", f->structure);
    cJSON_AddStringToObject(o, "measure", f->measure);
    add_num(o, "value", f->value);
    cJSON_AddStringToObject(o, "unit", f->unit);
    cJSON_AddBoolToObject(o, "abnormal", f->abnormal);
    add_num(o, "threshold", f->threshold);
    cJSON_AddStringToObject(o, "note", f->note);
    if (f->image[0])
        cJSON_AddStringToObject(o, "image", f->image);
    else
        cJSON_AddNullToObject(o, "image");
    return o;
}

static cJSON *injection_json(const tl_injlog_injection *in)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)in->id);
    add_time(o, "time", in->time_ms);
    cJSON_AddStringToObject(o, "anatomy", in->anatomy);
    add_char(o, "side", in->side);
    add_num(o, "target_x_mm", in->target_x_mm);
    add_num(o, "target_z_mm", in->target_z_mm);
    add_num(o, "tip_x_mm", in->tip_x_mm);
    add_num(o, "tip_z_mm", in->tip_z_mm);
    add_num(o, "depth_mm", in->depth_mm);
    cJSON_AddBoolToObject(o, "in_target", in->in_target);
    add_num(o, "volume_ml", in->volume_ml);
    cJSON_AddStringToObject(o, "product", in->product.name);
    cJSON_AddStringToObject(o, "lot", in->product.lot);
    cJSON_AddStringToObject(o, "expiry", in->product.expiry);
    cJSON_AddStringToObject(o, "operator", in->operator_name);
    if (in->image[0])
        cJSON_AddStringToObject(o, "image", in->image);
    else
        cJSON_AddNullToObject(o, "image");
    return o;
}

/* ---- CSV ------------------------------------------------------------------ */

static void csv_text(FILE *fp, const char *s, int first)
{
    if (!first)
        fputc(',', fp);
    int formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@';
    int quote = formula || strpbrk(s, ",\"\r\n") != NULL ||
                (s[0] && (s[0] == ' ' || s[strlen(s) - 1] == ' '));
    if (!quote) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    if (formula)
        fputc('\'', fp);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

static void csv_num(FILE *fp, double v)
{
    fputc(',', fp);
    if (isfinite(v))
        fprintf(fp, "%.6g", v);
}

static void csv_int(FILE *fp, long long v)
{
    fprintf(fp, ",%lld", v);
}

static void csv_char(FILE *fp, char c)
{
    char s[2] = { c, 0 };
    csv_text(fp, s, 0);
}

static const char *csv_header =
    "record,session_id,id,time_utc,patient_id,anatomy,side,diagnosis,age_years,sex,"
    "structure,measure,value,unit,abnormal,threshold,target_x_mm,target_z_mm,tip_x_mm,"
    "tip_z_mm,depth_mm,in_target,volume_ml,product,lot,expiry,operator,image,note,"
    "ended_utc\r\n";

static void write_csv(FILE *fp, const tl_injlog_session *s, const tl_injlog_finding *f,
                      size_t nf, const tl_injlog_injection *in, size_t ni)
{
    char t[40], e[40];
    fputs(csv_header, fp);
    injlog_cli_time(s->started_ms, t, sizeof t);
    injlog_cli_time(s->ended_ms, e, sizeof e);
    csv_text(fp, "session", 1);
    csv_int(fp, s->id);
    csv_int(fp, s->id);
    csv_text(fp, t, 0);
    csv_text(fp, s->patient_id, 0);
    csv_text(fp, s->anatomy, 0);
    csv_char(fp, s->side);
    csv_text(fp, s->diagnosis, 0);
    csv_num(fp, s->age_years > 0 ? s->age_years : NAN);
    csv_char(fp, s->sex);
    fputs(",,,,,,,,,,,,,,,,", fp); /* structure .. expiry: 16 empty */
    csv_text(fp, s->operator_name, 0);
    fputs(",", fp);                 /* image */
    csv_text(fp, s->note, 0);
    csv_text(fp, e, 0);
    fputs("\r\n", fp);
    for (size_t i = 0; i < nf; i++) {
        injlog_cli_time(f[i].time_ms, t, sizeof t);
        csv_text(fp, "finding", 1);
        csv_int(fp, s->id);
        csv_int(fp, f[i].id);
        csv_text(fp, t, 0);
        csv_text(fp, s->patient_id, 0);
        fputs(",,,,,", fp); /* anatomy side diagnosis age sex */
        csv_text(fp, f[i].structure, 0);
        csv_text(fp, f[i].measure, 0);
        csv_num(fp, f[i].value);
        csv_text(fp, f[i].unit, 0);
        csv_int(fp, f[i].abnormal);
        csv_num(fp, f[i].threshold);
        fputs(",,,,,,,,,,,", fp); /* target_x .. operator */
        csv_text(fp, f[i].image, 0);
        csv_text(fp, f[i].note, 0);
        fputs(",\r\n", fp);
    }
    for (size_t i = 0; i < ni; i++) {
        injlog_cli_time(in[i].time_ms, t, sizeof t);
        csv_text(fp, "injection", 1);
        csv_int(fp, s->id);
        csv_int(fp, in[i].id);
        csv_text(fp, t, 0);
        csv_text(fp, s->patient_id, 0);
        csv_text(fp, in[i].anatomy, 0);
        csv_char(fp, in[i].side);
        fputs(",,,,,,,,,", fp); /* diagnosis .. threshold */
        csv_num(fp, in[i].target_x_mm);
        csv_num(fp, in[i].target_z_mm);
        csv_num(fp, in[i].tip_x_mm);
        csv_num(fp, in[i].tip_z_mm);
        csv_num(fp, in[i].depth_mm);
        csv_int(fp, in[i].in_target);
        csv_num(fp, in[i].volume_ml);
        csv_text(fp, in[i].product.name, 0);
        csv_text(fp, in[i].product.lot, 0);
        csv_text(fp, in[i].product.expiry, 0);
        csv_text(fp, in[i].operator_name, 0);
        csv_text(fp, in[i].image, 0);
        fputs(",,\r\n", fp);
    }
}

/* ---- Commands ------------------------------------------------------------- */

static int print_json(FILE *fp, cJSON *root)
{
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return 1;
    fputs(text, fp);
    fputc('\n', fp);
    free(text);
    return 0;
}

static int do_list(tl_injlog *log, const char *patient, int json)
{
    tl_injlog_session *s = NULL;
    size_t n = 0;
    if (tl_injlog_list_sessions(log, patient, &s, &n) != TL_OK) {
        fprintf(stderr, "talus log: %s\n", tl_injlog_errmsg(log));
        return 1;
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "db", tl_injlog_path(log));
        cJSON *arr = cJSON_AddArrayToObject(root, "sessions");
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, session_json(&s[i]));
        free(s);
        return print_json(stdout, root);
    }
    printf("%-6s %-20s %-16s %-4s %-20s %-16s %8s %10s  %s\n", "id", "started (UTC)",
           "patient", "side", "anatomy", "operator", "findings", "injections", "state");
    for (size_t i = 0; i < n; i++) {
        char t[40];
        injlog_cli_time(s[i].started_ms, t, sizeof t);
        printf("%-6lld %-20s %-16s %-4c %-20s %-16s %8d %10d  %s\n", (long long)s[i].id, t,
               s[i].patient_id, s[i].side, s[i].anatomy, s[i].operator_name, s[i].findings,
               s[i].injections, s[i].ended_ms ? "closed" : "open");
    }
    if (n == 0)
        fprintf(stderr, "talus log: no sessions%s%s in %s\n", patient ? " for patient " : "",
                patient ? patient : "", tl_injlog_path(log));
    free(s);
    return 0;
}

static int do_check(tl_injlog *log)
{
    tl_injlog_check_result r;
    if (tl_injlog_check(log, &r) != TL_OK) {
        fprintf(stderr, "talus log: %s\n", tl_injlog_errmsg(log));
        return 1;
    }
    int ok = r.integrity_ok && r.images_missing == 0;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "db", tl_injlog_path(log));
    cJSON_AddBoolToObject(root, "ok", ok);
    cJSON_AddStringToObject(root, "integrity", r.integrity);
    cJSON_AddNumberToObject(root, "schema_version", tl_injlog_schema_version(log));
    cJSON_AddNumberToObject(root, "sessions", (double)r.sessions);
    cJSON_AddNumberToObject(root, "findings", (double)r.findings);
    cJSON_AddNumberToObject(root, "injections", (double)r.injections);
    cJSON_AddNumberToObject(root, "images", (double)r.images);
    cJSON_AddNumberToObject(root, "images_missing", (double)r.images_missing);
    cJSON_AddNumberToObject(root, "images_orphaned", (double)r.images_orphaned);
    if (!r.integrity_ok)
        fprintf(stderr, "talus log: the database is damaged: %s\n", r.integrity);
    if (r.images_missing)
        fprintf(stderr, "talus log: %zu image(s) named by the log are missing or cut short "
                        "(e.g. injection %lld)\n", r.images_missing,
                (long long)r.first_missing_injection);
    return print_json(stdout, root) || !ok;
}

typedef struct {
    tl_injlog_session s;
    tl_injlog_finding *f;
    size_t nf;
    tl_injlog_injection *in;
    size_t ni;
} session_dump;

static int load(tl_injlog *log, int64_t id, session_dump *d)
{
    memset(d, 0, sizeof *d);
    if (tl_injlog_get_session(log, id, &d->s) != TL_OK ||
        tl_injlog_list_findings(log, id, &d->f, &d->nf) != TL_OK ||
        tl_injlog_list_injections(log, id, &d->in, &d->ni) != TL_OK) {
        fprintf(stderr, "talus log: %s\n", tl_injlog_errmsg(log));
        free(d->f);
        return 1;
    }
    return 0;
}

static cJSON *dump_json(tl_injlog *log, const session_dump *d)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "db", tl_injlog_path(log));
    cJSON_AddItemToObject(root, "session", session_json(&d->s));
    cJSON *fa = cJSON_AddArrayToObject(root, "findings");
    for (size_t i = 0; i < d->nf; i++)
        cJSON_AddItemToArray(fa, finding_json(&d->f[i]));
    cJSON *ia = cJSON_AddArrayToObject(root, "injections");
    for (size_t i = 0; i < d->ni; i++)
        cJSON_AddItemToArray(ia, injection_json(&d->in[i]));
    return root;
}

/* "1.5" with the precision asked for, "-" where not measured. */
static const char *fmt_num(char *buf, size_t cap, double v, int decimals)
{
    if (isfinite(v))
        snprintf(buf, cap, "%.*f", decimals, v);
    else
        snprintf(buf, cap, "-");
    return buf;
}

static void show_text(const session_dump *d)
{
    const tl_injlog_session *s = &d->s;
    char t[40], e[40];
    injlog_cli_time(s->started_ms, t, sizeof t);
    injlog_cli_time(s->ended_ms, e, sizeof e);
    printf("session %lld  patient %s  side %c  %s\n", (long long)s->id, s->patient_id, s->side,
           s->anatomy);
    printf("  operator %s, started %s, %s%s\n", s->operator_name, t,
           s->ended_ms ? "ended " : "open", e);
    if (s->diagnosis[0])
        printf("  diagnosis: %s\n", s->diagnosis);
    if (s->age_years > 0 || s->sex)
        printf("  age %d, sex %c\n", s->age_years, s->sex ? s->sex : '-');
    printf("findings (%zu):\n", d->nf);
    for (size_t i = 0; i < d->nf; i++) {
        const tl_injlog_finding *f = &d->f[i];
        printf("  #%lld %s %s = %.2f %s%s", (long long)f->id, f->structure, f->measure,
               f->value, f->unit, f->abnormal ? "  ABNORMAL" : "");
        if (isfinite(f->threshold))
            printf(" (threshold %.2f)", f->threshold);
        printf("%s%s%s%s\n", f->note[0] ? "  " : "", f->note, f->image[0] ? "  image " : "",
               f->image);
    }
    printf("injections (%zu):\n", d->ni);
    for (size_t i = 0; i < d->ni; i++) {
        const tl_injlog_injection *in = &d->in[i];
        injlog_cli_time(in->time_ms, t, sizeof t);
        char d0[24], x0[24], z0[24], x1[24], z1[24], vol[24];
        printf("  #%lld %s %s %c  depth %s mm  tip (%s, %s) target (%s, %s)  %s\n",
               (long long)in->id, t, in->anatomy, in->side, fmt_num(d0, 24, in->depth_mm, 1),
               fmt_num(x0, 24, in->tip_x_mm, 1), fmt_num(z0, 24, in->tip_z_mm, 1),
               fmt_num(x1, 24, in->target_x_mm, 1), fmt_num(z1, 24, in->target_z_mm, 1),
               in->in_target ? "in target" : "NOT in target");
        fmt_num(vol, sizeof vol, in->volume_ml, 2);
        printf("      %s ml %s  lot %s  expiry %s  by %s  image %s\n", vol,
               in->product.name, in->product.lot[0] ? in->product.lot : "-",
               in->product.expiry[0] ? in->product.expiry : "-", in->operator_name,
               in->image[0] ? in->image : "(none)");
    }
    if (s->note[0])
        printf("note: %s\n", s->note);
}

int cmd_log(int argc, char **argv)
{
    const char *db = NULL, *patient = NULL, *format = NULL, *out = NULL, *sub = NULL,
               *session = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if ((strcmp(a, "--db") == 0 || strcmp(a, "--patient") == 0 ||
                    strcmp(a, "--format") == 0 || strcmp(a, "-o") == 0) && i + 1 < argc) {
            const char **dst = a[2] == 'd' ? &db : a[2] == 'p' ? &patient
                             : a[2] == 'f' ? &format : &out;
            *dst = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "talus log: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 2;
        } else if (!sub) {
            sub = a;
        } else if (!session) {
            session = a;
        } else {
            fprintf(stderr, "talus log: unexpected argument %s\n", a);
            return 2;
        }
    }
    int is_list = sub && strcmp(sub, "list") == 0, is_show = sub && strcmp(sub, "show") == 0,
        is_export = sub && strcmp(sub, "export") == 0, is_check = sub && strcmp(sub, "check") == 0;
    if (!is_list && !is_show && !is_export && !is_check) {
        fprintf(stderr, "talus log: say list, show SESSION, export SESSION or check\n");
        usage(stderr);
        return 2;
    }
    int64_t id = 0;
    if (!is_list && !is_check) {
        int rc = injlog_cli_session_id("log", session, &id);
        if (rc)
            return rc;
    }
    if (is_export && (!format || (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0))) {
        fprintf(stderr, "talus log export: --format csv or --format json is required\n");
        return 2;
    }
    umask(077);
    tl_injlog *log;
    if (injlog_cli_open("log", db, &log))
        return 1;
    int rc = 0;
    session_dump d;
    if (is_check) {
        rc = do_check(log);
    } else if (is_list) {
        rc = do_list(log, patient, json);
    } else if ((rc = load(log, id, &d)) == 0) {
        if (is_show && !json) {
            show_text(&d);
        } else {
            FILE *fp = out && is_export ? injlog_cli_create("log", out) : stdout;
            if (!fp) {
                rc = 1;
            } else {
                if (is_export && strcmp(format, "csv") == 0)
                    write_csv(fp, &d.s, d.f, d.nf, d.in, d.ni);
                else
                    rc = print_json(fp, dump_json(log, &d));
                if (fp != stdout)
                    rc |= injlog_cli_finish("log", out, fp);
                else if (fflush(stdout) != 0)
                    rc = 1;
            }
        }
        free(d.f);
        free(d.in);
    }
    tl_injlog_close(log);
    return rc;
}
