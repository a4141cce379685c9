/* On-screen forms: start a session (S), the injectate (P), the post-procedure
 * note (O). Big type, one field at a time highlighted; Tab / Enter move on,
 * Enter on the last field submits, Esc cancels. A form is pre-filled with
 * what is known (the last product is offered again). */
#include "ui_internal.h"

#include <SDL.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy, cut to the destination (typing is already limited to it). */
static void put(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Bytes of s that fit in cap with its NUL: a longer value (a long note) is
 * cut for editing on a character boundary. Not inlined: inlined into a call
 * with a short literal, GCC's -Warray-bounds flags the (unreachable) cut. */
__attribute__((noinline)) static size_t fitting_len(const char *s, size_t cap)
{
    size_t len = strnlen(s, cap);
    if (len == cap) {
        len--;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    return len;
}

static void add(ui_form *f, const char *label, const char *value, size_t max)
{
    if (f->n >= UI_FORM_FIELDS)
        return;
    f->max[f->n] = max < UI_FORM_VALUE ? max : UI_FORM_VALUE;
    f->labels[f->n] = label;
    size_t len = value ? fitting_len(value, sizeof f->values[0]) : 0;
    if (len)
        memcpy(f->values[f->n], value, len);
    f->values[f->n][len] = '\0';
    f->n++;
}

void ui_form_open(ui_station *st, ui_form_kind kind)
{
    ui_form *f = &st->form;
    memset(f, 0, sizeof *f);
    f->kind = kind;
    char num[32];
    switch (kind) {
    case UI_FORM_SESSION:
        add(f, "Patient ID", "", 64);
        add(f, "Side (L/R)", st->side ? (char[]){ st->side, 0 } : "", 2);
        add(f, "Anatomy", st->anatomy, 128);
        add(f, "Diagnosis", "", 256);
        add(f, "Operator", st->operator_name, 64);
        add(f, "Age (years)", "", 4);
        add(f, "Sex (M/F)", "", 2);
        break;
    case UI_FORM_PRODUCT:
        add(f, "Injectate", st->product, 128);
        add(f, "Lot", st->lot, 64);
        add(f, "Expiry", st->expiry, 64);
        snprintf(num, sizeof num, "%.2g", st->volume_ml > 0 ? st->volume_ml : 1.0);
        add(f, "Volume (ml)", num, 16);
        break;
    case UI_FORM_NOTE:
        add(f, "Post-procedure note", st->note, UI_FORM_VALUE);
        break;
    case UI_FORM_NONE:
        return;
    }
    if (st->win)
        SDL_StartTextInput();
}

static void close_form(ui_station *st)
{
    st->form.kind = UI_FORM_NONE;
    if (st->win)
        SDL_StopTextInput();
}

static bool submit(ui_station *st)
{
    ui_form *f = &st->form;
    char(*v)[UI_FORM_VALUE] = f->values;
    switch (f->kind) {
    case UI_FORM_SESSION: {
        char side = (char)toupper((unsigned char)v[1][0]);
        char sex = (char)toupper((unsigned char)v[6][0]);
        char *end;
        long age = v[5][0] ? strtol(v[5], &end, 10) : 0;
        if (!v[0][0] || !v[2][0] || !v[4][0]) {
            snprintf(f->error, sizeof f->error, "patient ID, anatomy and operator are needed");
            return false;
        }
        if ((side != 'L' && side != 'R') || v[1][1]) {
            snprintf(f->error, sizeof f->error, "side is L or R");
            f->field = 1;
            return false;
        }
        if (v[5][0] && (*end || age < 1 || age > 120)) {
            snprintf(f->error, sizeof f->error, "age is a number of years (1-120)");
            f->field = 5;
            return false;
        }
        if (v[6][0] && ((sex != 'M' && sex != 'F') || v[6][1])) {
            snprintf(f->error, sizeof f->error, "sex is M or F (or empty)");
            f->field = 6;
            return false;
        }
        ui_workflow_new_session(st, v[0], side, v[2], v[3], v[4], (int)age,
                                v[6][0] ? sex : 0);
        return true;
    }
    case UI_FORM_PRODUCT: {
        char *end;
        double ml = strtod(v[3], &end);
        if (!v[0][0]) {
            snprintf(f->error, sizeof f->error, "the injectate's name is needed");
            f->field = 0;
            return false;
        }
        if (end == v[3] || *end || ml <= 0 || ml > 100) {
            snprintf(f->error, sizeof f->error, "volume in ml (0-100)");
            f->field = 3;
            return false;
        }
        put(st->product, sizeof st->product, v[0]);
        put(st->lot, sizeof st->lot, v[1]);
        put(st->expiry, sizeof st->expiry, v[2]);
        st->volume_ml = ml;
        return true;
    }
    case UI_FORM_NOTE:
        put(st->note, sizeof st->note, v[0]);
        return true;
    case UI_FORM_NONE:
        break;
    }
    return true;
}

void ui_form_text(ui_station *st, const char *text)
{
    ui_form *f = &st->form;
    if (f->kind == UI_FORM_NONE)
        return;
    char *val = f->values[f->field];
    size_t len = strlen(val), add_len = strlen(text);
    if (len + add_len < f->max[f->field]) {
        memcpy(val + len, text, add_len + 1);
        f->error[0] = '\0';
    }
}

bool ui_form_key(ui_station *st, const char *k)
{
    ui_form *f = &st->form;
    if (f->kind == UI_FORM_NONE)
        return false;
    if (!strcmp(k, "esc")) {
        close_form(st);
    } else if (!strcmp(k, "backspace")) {
        char *val = f->values[f->field];
        size_t len = strlen(val);
        /* Remove one UTF-8 character. */
        while (len > 0 && ((unsigned char)val[len - 1] & 0xC0) == 0x80)
            len--;
        if (len > 0)
            len--;
        val[len] = '\0';
    } else if (!strcmp(k, "tab") || !strcmp(k, "down")) {
        f->field = (f->field + 1) % f->n;
    } else if (!strcmp(k, "up")) {
        f->field = (f->field + f->n - 1) % f->n;
    } else if (!strcmp(k, "enter") || !strcmp(k, "return")) {
        if (f->field + 1 < f->n)
            f->field++;
        else if (submit(st))
            close_form(st);
    }
    /* Every other key is text (arrives as text input) or ignored. */
    return true;
}

void ui_draw_form(ui_station *st)
{
    const ui_form *f = &st->form;
    if (f->kind == UI_FORM_NONE)
        return;
    static const char *titles[] = { "", "START SESSION", "INJECTATE", "POST-PROCEDURE NOTE" };
    int w = 980, h = 150 + f->n * 56, x = (st->W - w) / 2, y = (st->H - h) / 2;
    ui_fill(st->r, x, y, w, h, 0x0B0D10F4u);
    ui_fill(st->r, x, y, w, 4, C_CYAN);
    ui_text_draw(st->text, titles[f->kind], 34, x + w / 2, y + 14, C_WHITE, 1);
    for (int i = 0; i < f->n; i++) {
        int fy = y + 70 + i * 56;
        bool cur = i == f->field;
        if (cur)
            ui_fill(st->r, x + 16, fy - 6, w - 32, 50, 0x1F3A4AFFu);
        ui_text_draw(st->text, f->labels[i], 26, x + 30, fy, cur ? C_YELLOW : C_GREY, 0);
        char shown[UI_FORM_VALUE + 4];
        snprintf(shown, sizeof shown, "%s%s", f->values[i], cur ? "_" : "");
        ui_text_draw(st->text, shown[0] ? shown : " ", 26, x + 360, fy, C_WHITE, 0);
    }
    const char *help = f->error[0] ? f->error
                                   : "TAB / ENTER next field    ENTER on the last: save    ESC cancel";
    ui_text_draw(st->text, help, 20, x + w / 2, y + h - 40, f->error[0] ? C_RED : C_GREY, 1);
}
