/* talus report SESSION -o DIR [--db FILE]: the procedure report for the
 * chart, DIR/report.html plus the images it shows, copied into DIR/images. */
#include "commands.h"
#include "injlog_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus report SESSION -o DIR [--db FILE]\n\n"
            "Writes DIR/report.html, the procedure report for the patient's chart: patient\n"
            "ID, date, operator, anatomy and side, diagnosis, the findings with their\n"
            "measurements and abnormal flags, and each injection with its recorded image\n"
            "(needle in target), depth, volume, product, lot and expiry; the images are\n"
            "copied into DIR/images. DIR and everything in it are private (0700/0600).\n"
            "  --db FILE   the database (default $TALUS_DB, else ~/.local/share/talus/talus.db)\n"
            "Exit status: 0 ok, 1 failed (unknown session, an image missing: the report is\n"
            "still written and says which), 2 usage.\n");
}

/* Everything that came from the log is escaped: it was typed by people. */
static void html(FILE *fp, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", fp); break;
        case '<': fputs("&lt;", fp); break;
        case '>': fputs("&gt;", fp); break;
        case '"': fputs("&quot;", fp); break;
        case '\'': fputs("&#39;", fp); break;
        default: fputc(*s, fp);
        }
    }
}

static void num(FILE *fp, double v, const char *fmt, const char *unit)
{
    if (!isfinite(v)) {
        fputs("&ndash;", fp);
        return;
    }
    fprintf(fp, fmt, v);
    if (unit && *unit) {
        fputc(' ', fp);
        html(fp, unit);
    }
}

/* Copy src to dst (mode 0600, fsynced). 0 ok, else errno. */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = errno;
        close(in);
        return e;
    }
    char buf[65536];
    ssize_t r;
    int e = 0;
    while ((r = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0) {
                e = errno;
                break;
            }
            off += w;
        }
        if (e)
            break;
    }
    if (r < 0 && !e)
        e = errno;
    if (!e && (fchmod(out, 0600) != 0 || fsync(out) != 0))
        e = errno;
    close(in);
    if (close(out) != 0 && !e)
        e = errno;
    return e;
}

/* Copy a record's image into DIR/images/<name>; fills rel ("images/<name>").
 * Returns 0, or 1 after printing why (the report then says it is missing). */
static int copy_image(tl_injlog *log, const char *image, const char *dir, const char *name,
                      char *rel, size_t cap)
{
    char src[4096], dst[4096];
    rel[0] = '\0';
    if (!image[0])
        return 0;
    if (tl_injlog_image_path(log, image, src, sizeof src) != TL_OK)
        return 1;
    snprintf(dst, sizeof dst, "%s/images/%s", dir, name);
    int e = copy_file(src, dst);
    if (e) {
        fprintf(stderr, "talus report: image %s: %s\n", src, strerror(e));
        return 1;
    }
    snprintf(rel, cap, "images/%s", name);
    return 0;
}

static const char *style =
    "body{font-family:sans-serif;max-width:60em;margin:1em auto;color:#111}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}"
    "th{background:#eee}.abn{color:#b00;font-weight:bold}.miss{color:#b00}"
    ".inj{border-top:2px solid #444;margin-top:1.2em}img{max-width:100%;border:1px solid #888}.note{white-space:pre-wrap}";

static void row(FILE *fp, const char *k, const char *v)
{
    fprintf(fp, "<tr><th>%s</th><td>", k);
    html(fp, v && *v ? v : "-");
    fputs("</td></tr>\n", fp);
}

static void write_head(FILE *fp, const tl_injlog_session *s)
{
    char t[40], e[40], buf[64];
    injlog_cli_time(s->started_ms, t, sizeof t);
    injlog_cli_time(s->ended_ms, e, sizeof e);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
          "Procedure report: ", fp);
    html(fp, s->patient_id);
    fprintf(fp, "</title>\n<style>%s</style></head><body>\n", style);
    fputs("<h1>Ultrasound-guided injection: procedure report</h1>\n<table>\n", fp);
    row(fp, "Patient ID", s->patient_id);
    row(fp, "Date", t);
    row(fp, "Ended", s->ended_ms ? e : "session still open");
    row(fp, "Operator", s->operator_name);
    snprintf(buf, sizeof buf, "%s", s->side == 'L' ? "left" : s->side == 'R' ? "right" : "?");
    fputs("<tr><th>Anatomy / side</th><td>", fp);
    html(fp, s->anatomy);
    fprintf(fp, " / %s</td></tr>\n", buf);
    row(fp, "Diagnosis", s->diagnosis);
    char age[16] = "-", sex[2] = { s->sex ? s->sex : '-', 0 };
    if (s->age_years > 0)
        snprintf(age, sizeof age, "%d", s->age_years);
    snprintf(buf, sizeof buf, "%s / %s", age, sex);
    row(fp, "Age / sex", buf);
    snprintf(buf, sizeof buf, "%lld", (long long)s->id);
    row(fp, "Session", buf);
    fputs("</table>\n", fp);
}

static int write_findings(FILE *fp, tl_injlog *log, const char *dir, const tl_injlog_finding *f,
                          size_t n)
{
    int missing = 0;
    fprintf(fp, "<h2>Findings (%zu)</h2>\n", n);
    if (n == 0) {
        fputs("<p>No findings recorded.</p>\n", fp);
        return 0;
    }
    fputs("<table><tr><th>Structure</th><th>Measure</th><th>Value</th><th>Threshold</th>"
          "<th>Flag</th><th>Note</th><th>Image</th></tr>\n", fp);
    for (size_t i = 0; i < n; i++) {
        char name[64], rel[128];
        snprintf(name, sizeof name, "finding-%lld.png", (long long)f[i].id);
        int miss = copy_image(log, f[i].image, dir, name, rel, sizeof rel);
        missing += miss;
        fputs("<tr><td>", fp);
        html(fp, f[i].structure);
        fputs("</td><td>", fp);
        html(fp, f[i].measure);
        fputs("</td><td>", fp);
        num(fp, f[i].value, "%.2f", f[i].unit);
        fputs("</td><td>", fp);
        num(fp, f[i].threshold, "%.2f", f[i].unit);
        fprintf(fp, "</td><td%s>%s</td><td>", f[i].abnormal ? " class=\"abn\"" : "",
                f[i].abnormal ? "ABNORMAL" : "normal");
        html(fp, f[i].note);
        fputs("</td><td>", fp);
        if (rel[0])
            fprintf(fp, "<a href=\"%s\"><img src=\"%s\" width=\"160\" alt=\"finding %lld\"></a>",
                    rel, rel, (long long)f[i].id);
        else if (miss) {
            fputs("<span class=\"miss\">image missing: ", fp);
            html(fp, f[i].image);
            fputs("</span>", fp);
        } else
            fputs("-", fp);
        fputs("</td></tr>\n", fp);
    }
    fputs("</table>\n", fp);
    return missing;
}

static int write_injection(FILE *fp, tl_injlog *log, const char *dir,
                           const tl_injlog_injection *in, size_t k)
{
    char name[64], rel[128], t[40];
    snprintf(name, sizeof name, "injection-%lld.png", (long long)in->id);
    int miss = copy_image(log, in->image, dir, name, rel, sizeof rel);
    injlog_cli_time(in->time_ms, t, sizeof t);
    fprintf(fp, "<div class=\"inj\" id=\"injection-%lld\"><h3>Injection %zu (record %lld) at %s"
                "</h3>\n", (long long)in->id, k, (long long)in->id, t);
    if (rel[0])
        fprintf(fp, "<p><img src=\"%s\" alt=\"injection %lld: %s\"></p>\n", rel,
                (long long)in->id, in->in_target ? "needle in target" : "needle position");
    else if (miss) {
        fputs("<p class=\"miss\">Image missing: ", fp);
        html(fp, in->image);
        fputs("</p>\n", fp);
    } else
        fputs("<p>No image recorded.</p>\n", fp);
    fputs("<table>\n<tr><th>Anatomy / side</th><td>", fp);
    html(fp, in->anatomy);
    fprintf(fp, " / %c</td></tr>\n<tr><th>Needle tip (x, z)</th><td>", in->side);
    num(fp, in->tip_x_mm, "%.1f", NULL);
    fputs(", ", fp);
    num(fp, in->tip_z_mm, "%.1f", "mm");
    fputs("</td></tr>\n<tr><th>Target (x, z)</th><td>", fp);
    num(fp, in->target_x_mm, "%.1f", NULL);
    fputs(", ", fp);
    num(fp, in->target_z_mm, "%.1f", "mm");
    fprintf(fp, "</td></tr>\n<tr><th>Tip in target</th><td%s>%s</td></tr>\n",
            in->in_target ? "" : " class=\"abn\"", in->in_target ? "yes" : "no");
    fputs("<tr><th>Depth</th><td>", fp);
    num(fp, in->depth_mm, "%.1f", "mm");
    fputs("</td></tr>\n<tr><th>Volume</th><td>", fp);
    num(fp, in->volume_ml, "%.2f", "ml");
    fputs("</td></tr>\n", fp);
    row(fp, "Product", in->product.name);
    row(fp, "Lot", in->product.lot);
    row(fp, "Expiry", in->product.expiry);
    row(fp, "Operator", in->operator_name);
    fputs("</table></div>\n", fp);
    return miss;
}

/* With two or more visits of the patient, the thickness trend up to this
 * visit, so the chart shows the response to earlier injections. */
static void write_trend(FILE *fp, tl_injlog *log, const char *dir, const tl_injlog_session *s)
{
    tl_injlog_trend_point *p = NULL;
    size_t n = 0;
    if (tl_injlog_trend(log, s->patient_id, "thickness", &p, &n) != TL_OK) {
        free(p);
        return;
    }
    size_t upto = 0;
    while (upto < n && p[upto].time_ms <= s->started_ms)
        upto++;
    char path[4096];
    snprintf(path, sizeof path, "%s/images/trend.png", dir);
    if (upto >= 2 &&
        tl_injlog_plot_trend(p, upto, 4.0, "thickness per visit", 720, 400, path) == TL_OK)
        fprintf(fp, "<h2>Thickness per visit (%zu visits)</h2>\n"
                    "<p><img src=\"images/trend.png\" alt=\"thickness per visit\"></p>\n", upto);
    free(p);
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "talus report: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "talus report: %s is not a folder\n", path);
        return 1;
    }
    return 0;
}

int cmd_report(int argc, char **argv)
{
    const char *db = NULL, *dir = NULL, *session = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (argv[i][0] == '-' || session) {
            fprintf(stderr, "talus report: unexpected argument %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            session = argv[i];
        }
    }
    int64_t id;
    if (!session || !dir) {
        fprintf(stderr, "talus report: SESSION and -o DIR are required\n");
        usage(stderr);
        return 2;
    }
    int rc = injlog_cli_session_id("report", session, &id);
    if (rc)
        return rc;
    umask(077);
    tl_injlog *log;
    if (injlog_cli_open("report", db, &log))
        return 1;
    tl_injlog_session s;
    tl_injlog_finding *f = NULL;
    tl_injlog_injection *in = NULL;
    size_t nf = 0, ni = 0;
    if (tl_injlog_get_session(log, id, &s) != TL_OK ||
        tl_injlog_list_findings(log, id, &f, &nf) != TL_OK ||
        tl_injlog_list_injections(log, id, &in, &ni) != TL_OK) {
        fprintf(stderr, "talus report: %s\n", tl_injlog_errmsg(log));
        free(f);
        tl_injlog_close(log);
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/images", dir);
    FILE *fp = NULL;
    if (make_dir(dir) == 0 && make_dir(path) == 0) {
        snprintf(path, sizeof path, "%s/report.html", dir);
        fp = injlog_cli_create("report", path);
    }
    int missing = 0;
    if (!fp) {
        rc = 1;
    } else {
        write_head(fp, &s);
        missing += write_findings(fp, log, dir, f, nf);
        fprintf(fp, "<h2>Injections (%zu)</h2>\n", ni);
        if (ni == 0)
            fputs("<p>No injection recorded.</p>\n", fp);
        for (size_t i = 0; i < ni; i++)
            missing += write_injection(fp, log, dir, &in[i], i + 1);
        write_trend(fp, log, dir, &s);
        fputs("<h2>Post-procedure note</h2>\n<p class=\"note\">", fp);
        html(fp, s.note[0] ? s.note : "-");
        fputs("</p>\n<p><small>From the talus injection log ", fp);
        html(fp, tl_injlog_path(log));
        fputs(".</small></p>\n</body></html>\n", fp);
        rc = injlog_cli_finish("report", path, fp);
        if (rc == 0)
            printf("talus report: wrote %s (%zu findings, %zu injections, %d images missing)\n",
                   path, nf, ni, missing);
        if (missing) {
            fprintf(stderr, "talus report: %d image(s) missing from the log's image folder\n",
                    missing);
            rc = 1;
        }
    }
    free(f);
    free(in);
    tl_injlog_close(log);
    return rc;
}
