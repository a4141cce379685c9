/* The operator script: timed events that replay a procedure without a person
 * (format in tl_ui.h). Strict: anything not understood is an error naming the
 * line, because a silently skipped "button" would log one injection less. */
#include "tl_ui.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 16
#define TOKEN_MAX 256

static void set_err(char *err, size_t len, const char *fmt, ...)
{
    if (!err || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* Split a line into tokens; "quoted text" keeps spaces (also inside
 * key="value"). Returns the count or -1 on an unterminated quote / too many. */
static int tokenize(const char *line, char tok[MAX_TOKENS][TOKEN_MAX])
{
    int n = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            return n;
        if (n == MAX_TOKENS)
            return -1;
        size_t k = 0;
        while (*p && *p != ' ' && *p != '\t') {
            if (*p == '"') {
                p++;
                while (*p && *p != '"') {
                    if (k + 1 >= TOKEN_MAX)
                        return -1;
                    tok[n][k++] = *p++;
                }
                if (*p != '"')
                    return -1;
                p++;
                continue;
            }
            if (k + 1 >= TOKEN_MAX)
                return -1;
            tok[n][k++] = *p++;
        }
        tok[n][k] = '\0';
        n++;
    }
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

static const struct {
    const char *name;
    tl_script_action action;
    int min_args, max_args;
} actions[] = {
    { "session", TL_SCRIPT_SESSION, 1, 7 },  { "product", TL_SCRIPT_PRODUCT, 1, 4 },
    { "key", TL_SCRIPT_KEY, 1, 1 },          { "button", TL_SCRIPT_BUTTON, 0, 0 },
    { "tap", TL_SCRIPT_TAP, 2, 2 },          { "caliper", TL_SCRIPT_CALIPER, 4, 4 },
    { "fault", TL_SCRIPT_FAULT, 1, 1 },      { "note", TL_SCRIPT_NOTE, 1, 12 },
    { "close", TL_SCRIPT_CLOSE, 0, 0 },      { "snapshot", TL_SCRIPT_SNAPSHOT, 1, 1 },
    { "quit", TL_SCRIPT_QUIT, 0, 0 },        { "type", TL_SCRIPT_TYPE, 1, 1 },
    { "wait", TL_SCRIPT_WAIT, 1, 2 },
};

static const char *known_keys[] = { "space", "enter", "return", "f", "left", "right", "t",
                                    "n", "c", "?", "h", "esc", "q", "1", "2", "3",
                                    "4", "5", "6", "7", "8", "pagedown", "f5", "s", "p", "o",
                                    "tab", "backspace", "up", "down" };

/* key=value fields of `session` and `product`. */
static tl_status parse_fields(tl_script_event *ev, int ntok, char tok[MAX_TOKENS][TOKEN_MAX],
                              char *err, size_t err_len)
{
    for (int i = 2; i < ntok; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq || eq == tok[i]) {
            set_err(err, err_len, "script:%d: expected key=value, got '%s'", ev->line, tok[i]);
            return TL_ERR_FORMAT;
        }
        *eq = '\0';
        const char *k = tok[i], *v = eq + 1;
        bool ok = true;
        if (ev->action == TL_SCRIPT_SESSION && strcmp(k, "patient") == 0)
            ok = copy_field(ev->patient, sizeof ev->patient, v) && v[0];
        else if (ev->action == TL_SCRIPT_SESSION && strcmp(k, "side") == 0) {
            ok = (v[0] == 'L' || v[0] == 'R' || v[0] == 'l' || v[0] == 'r') && v[1] == '\0';
            ev->side = (char)toupper((unsigned char)v[0]);
        } else if (ev->action == TL_SCRIPT_SESSION && strcmp(k, "anatomy") == 0)
            ok = copy_field(ev->anatomy, sizeof ev->anatomy, v) && v[0];
        else if (ev->action == TL_SCRIPT_SESSION && strcmp(k, "operator") == 0)
            ok = copy_field(ev->operator_name, sizeof ev->operator_name, v) && v[0];
        else if (ev->action == TL_SCRIPT_SESSION && strcmp(k, "diagnosis") == 0)
            ok = copy_field(ev->diagnosis, sizeof ev->diagnosis, v);
        else if (ev->action == TL_SCRIPT_SESSION && strcmp(k, "age") == 0) {
            double a;
            ok = parse_double(v, &a) && a >= 1 && a <= 120;
            ev->age = ok ? (int)a : 0;
        } else if (ev->action == TL_SCRIPT_SESSION && strcmp(k, "sex") == 0) {
            ok = (v[0] == 'M' || v[0] == 'F') && v[1] == '\0';
            ev->sex = v[0];
        } else if (ev->action == TL_SCRIPT_PRODUCT && strcmp(k, "name") == 0)
            ok = copy_field(ev->product, sizeof ev->product, v) && v[0];
        else if (ev->action == TL_SCRIPT_PRODUCT && strcmp(k, "lot") == 0)
            ok = copy_field(ev->lot, sizeof ev->lot, v);
        else if (ev->action == TL_SCRIPT_PRODUCT && strcmp(k, "expiry") == 0)
            ok = copy_field(ev->expiry, sizeof ev->expiry, v);
        else if (ev->action == TL_SCRIPT_PRODUCT && strcmp(k, "volume") == 0)
            ok = parse_double(v, &ev->volume_ml) && ev->volume_ml > 0 && ev->volume_ml <= 100;
        else {
            set_err(err, err_len, "script:%d: unknown field '%s'", ev->line, k);
            return TL_ERR_FORMAT;
        }
        if (!ok) {
            set_err(err, err_len, "script:%d: bad value for %s: '%s'", ev->line, k, v);
            return TL_ERR_FORMAT;
        }
    }
    if (ev->action == TL_SCRIPT_SESSION &&
        (!ev->patient[0] || !ev->side || !ev->anatomy[0] || !ev->operator_name[0])) {
        set_err(err, err_len, "script:%d: session needs patient=, side=, anatomy= and operator=",
                ev->line);
        return TL_ERR_FORMAT;
    }
    if (ev->action == TL_SCRIPT_PRODUCT && !ev->product[0]) {
        set_err(err, err_len, "script:%d: product needs name=", ev->line);
        return TL_ERR_FORMAT;
    }
    return TL_OK;
}

static tl_status parse_line(const char *line, int lineno, tl_script_event *ev, bool *empty,
                            char *err, size_t err_len)
{
    char tok[MAX_TOKENS][TOKEN_MAX];
    int n = tokenize(line, tok);
    *empty = false;
    if (n < 0) {
        set_err(err, err_len, "script:%d: unterminated quote or line too long", lineno);
        return TL_ERR_FORMAT;
    }
    if (n == 0) {
        *empty = true;
        return TL_OK;
    }
    memset(ev, 0, sizeof *ev);
    ev->line = lineno;
    ev->volume_ml = -1;
    if (tok[0][0] == 'f') {
        double f;
        if (!parse_double(tok[0] + 1, &f) || f < 0 || f > 1e9 || f != floor(f)) {
            set_err(err, err_len, "script:%d: bad frame time '%s'", lineno, tok[0]);
            return TL_ERR_FORMAT;
        }
        ev->at_frame = true;
        ev->frame = (uint32_t)f;
    } else if (!parse_double(tok[0], &ev->t_s) || ev->t_s < 0 || ev->t_s > 1e6) {
        set_err(err, err_len, "script:%d: bad time '%s' (seconds, or fN for a frame)", lineno,
                tok[0]);
        return TL_ERR_FORMAT;
    }
    if (n < 2) {
        set_err(err, err_len, "script:%d: missing action", lineno);
        return TL_ERR_FORMAT;
    }
    size_t a = 0;
    while (a < sizeof actions / sizeof actions[0] && strcmp(actions[a].name, tok[1]) != 0)
        a++;
    if (a == sizeof actions / sizeof actions[0]) {
        set_err(err, err_len, "script:%d: unknown action '%s'", lineno, tok[1]);
        return TL_ERR_FORMAT;
    }
    ev->action = actions[a].action;
    int nargs = n - 2;
    if (nargs < actions[a].min_args || nargs > actions[a].max_args) {
        set_err(err, err_len, "script:%d: %s takes %d to %d arguments, got %d", lineno,
                tok[1], actions[a].min_args, actions[a].max_args, nargs);
        return TL_ERR_FORMAT;
    }
    switch (ev->action) {
    case TL_SCRIPT_SESSION:
    case TL_SCRIPT_PRODUCT:
        return parse_fields(ev, n, tok, err, err_len);
    case TL_SCRIPT_KEY: {
        size_t k = 0;
        while (k < sizeof known_keys / sizeof known_keys[0] && strcmp(known_keys[k], tok[2]))
            k++;
        if (k == sizeof known_keys / sizeof known_keys[0]) {
            set_err(err, err_len, "script:%d: unknown key '%s'", lineno, tok[2]);
            return TL_ERR_FORMAT;
        }
        copy_field(ev->text, sizeof ev->text, tok[2]);
        return TL_OK;
    }
    case TL_SCRIPT_TAP:
    case TL_SCRIPT_CALIPER:
        for (int i = 0; i < nargs; i++) {
            double v;
            if (!parse_double(tok[2 + i], &v) || v < -1000 || v > 1000) {
                set_err(err, err_len, "script:%d: bad coordinate '%s' (mm)", lineno, tok[2 + i]);
                return TL_ERR_FORMAT;
            }
            ev->v[i] = (float)v;
        }
        return TL_OK;
    case TL_SCRIPT_WAIT: {
        double n = 0;
        bool ok = (!strcmp(tok[2], "unplugged") || !strcmp(tok[2], "connected")) && nargs == 1;
        if (!strcmp(tok[2], "logged"))
            ok = nargs == 2 && parse_double(tok[3], &n) && n >= 0 && n <= 10000 && n == floor(n);
        if (!ok) {
            set_err(err, err_len,
                    "script:%d: wait takes 'unplugged', 'connected' or 'logged N'", lineno);
            return TL_ERR_FORMAT;
        }
        copy_field(ev->text, sizeof ev->text, tok[2]);
        ev->v[0] = (float)n;
        return TL_OK;
    }
    case TL_SCRIPT_FAULT:
    case TL_SCRIPT_TYPE:
    case TL_SCRIPT_SNAPSHOT:
        if (ev->action == TL_SCRIPT_SNAPSHOT &&
            (strchr(tok[2], '/') || strstr(tok[2], "..") || !strstr(tok[2], ".png"))) {
            set_err(err, err_len, "script:%d: snapshot takes a plain NAME.png, got '%s'", lineno,
                    tok[2]);
            return TL_ERR_FORMAT;
        }
        copy_field(ev->text, sizeof ev->text, tok[2]);
        return TL_OK;
    case TL_SCRIPT_NOTE: {
        /* The rest of the line is the note: join the tokens back. */
        size_t used = 0;
        for (int i = 2; i < n; i++) {
            size_t len = strlen(tok[i]);
            if (used + len + 2 > sizeof ev->text) {
                set_err(err, err_len, "script:%d: note too long", lineno);
                return TL_ERR_FORMAT;
            }
            if (used)
                ev->text[used++] = ' ';
            memcpy(ev->text + used, tok[i], len + 1);
            used += len;
        }
        return TL_OK;
    }
    default:
        return TL_OK;
    }
}

tl_status tl_script_parse(const char *text, tl_script *out, char *err, size_t err_len)
{
    if (!text || !out)
        return TL_ERR_INVALID_ARG;
    out->events = NULL;
    out->n = 0;
    size_t cap = 0;
    int lineno = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        char line[1024];
        if (len >= sizeof line) {
            set_err(err, err_len, "script:%d: line too long", lineno);
            tl_script_free(out);
            return TL_ERR_FORMAT;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        if (len && line[len - 1] == '\r')
            line[len - 1] = '\0';
        tl_script_event ev;
        bool empty;
        tl_status st = parse_line(line, lineno, &ev, &empty, err, err_len);
        if (st != TL_OK) {
            tl_script_free(out);
            return st;
        }
        if (!empty) {
            if (out->n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                tl_script_event *ne = realloc(out->events, ncap * sizeof *ne);
                if (!ne) {
                    tl_script_free(out);
                    return TL_ERR_NO_MEM;
                }
                out->events = ne;
                cap = ncap;
            }
            out->events[out->n++] = ev;
        }
        p = nl ? nl + 1 : p + len;
    }
    return TL_OK;
}

tl_status tl_script_load(const char *path, tl_script *out, char *err, size_t err_len)
{
    if (!path || !out)
        return TL_ERR_INVALID_ARG;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        set_err(err, err_len, "cannot read script %s: %s", path, strerror(e));
        return tl_status_from_errno(e);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return TL_ERR_NO_MEM;
    }
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            if (cap > (1u << 22)) {
                set_err(err, err_len, "script %s is larger than 4 MiB", path);
                free(buf);
                fclose(f);
                return TL_ERR_FORMAT;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return TL_ERR_NO_MEM;
            }
            buf = nb;
            cap *= 2;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        set_err(err, err_len, "cannot read script %s", path);
        free(buf);
        return TL_ERR_IO;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        set_err(err, err_len, "script %s is not text", path);
        free(buf);
        return TL_ERR_FORMAT;
    }
    tl_status st = tl_script_parse(buf, out, err, err_len);
    free(buf);
    return st;
}

void tl_script_free(tl_script *s)
{
    if (!s)
        return;
    free(s->events);
    s->events = NULL;
    s->n = 0;
}
