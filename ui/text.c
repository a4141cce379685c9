/* Text with SDL2_ttf (DejaVu Sans), cached as textures: the status bar and
 * panels redraw the same strings every frame, and rasterising them each time
 * would cost more than the whole B-mode pipeline. */
#include "ui_internal.h"

#include <SDL.h>
#include <SDL_ttf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FONT_REGULAR "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#define FONT_BOLD "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

static const int sizes[] = { 16, 20, 26, 34, 52 };
#define N_SIZES (int)(sizeof sizes / sizeof sizes[0])
#define CACHE_SLOTS 256

typedef struct {
    char s[128];
    int size;
    uint32_t rgba;
    SDL_Texture *tex;
    int w, h;
    uint64_t used;
} cache_entry;

struct ui_text {
    SDL_Renderer *r;
    TTF_Font *font[N_SIZES];
    cache_entry cache[CACHE_SLOTS];
    uint64_t clock;
};

tl_status ui_text_create(SDL_Renderer *r, ui_text **out, char *err, size_t err_len)
{
    *out = NULL;
    if (!TTF_WasInit() && TTF_Init() != 0) {
        snprintf(err, err_len, "SDL2_ttf: %s", TTF_GetError());
        return TL_ERR_UNSUPPORTED;
    }
    ui_text *t = calloc(1, sizeof *t);
    if (!t)
        return TL_ERR_NO_MEM;
    t->r = r;
    for (int i = 0; i < N_SIZES; i++) {
        /* Bold from the middle size up: the numbers read at a glance. */
        const char *path = sizes[i] >= 26 ? FONT_BOLD : FONT_REGULAR;
        t->font[i] = TTF_OpenFont(path, sizes[i]);
        if (!t->font[i]) {
            snprintf(err, err_len, "cannot open font %s (package fonts-dejavu-core): %s", path,
                     TTF_GetError());
            ui_text_destroy(t);
            return TL_ERR_NOT_FOUND;
        }
    }
    *out = t;
    return TL_OK;
}

void ui_text_destroy(ui_text *t)
{
    if (!t)
        return;
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (t->cache[i].tex)
            SDL_DestroyTexture(t->cache[i].tex);
    for (int i = 0; i < N_SIZES; i++)
        if (t->font[i])
            TTF_CloseFont(t->font[i]);
    free(t);
}

static int size_index(int size)
{
    for (int i = 0; i < N_SIZES; i++)
        if (sizes[i] >= size)
            return i;
    return N_SIZES - 1;
}

static cache_entry *lookup(ui_text *t, const char *s, int size, uint32_t rgba)
{
    if (!s || !s[0] || strlen(s) >= sizeof t->cache[0].s)
        return NULL;
    int si = size_index(size);
    cache_entry *victim = &t->cache[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
        cache_entry *e = &t->cache[i];
        if (e->tex && e->size == si && e->rgba == rgba && strcmp(e->s, s) == 0) {
            e->used = ++t->clock;
            return e;
        }
        if (!e->tex || e->used < victim->used)
            victim = e;
    }
    SDL_Color c = { (Uint8)(rgba >> 24), (Uint8)(rgba >> 16), (Uint8)(rgba >> 8),
                    (Uint8)rgba };
    SDL_Surface *surf = TTF_RenderUTF8_Blended(t->font[si], s, c);
    if (!surf)
        return NULL;
    SDL_Texture *tex = SDL_CreateTextureFromSurface(t->r, surf);
    int w = surf->w, h = surf->h;
    SDL_FreeSurface(surf);
    if (!tex)
        return NULL;
    if (victim->tex)
        SDL_DestroyTexture(victim->tex);
    snprintf(victim->s, sizeof victim->s, "%s", s);
    victim->size = si;
    victim->rgba = rgba;
    victim->tex = tex;
    victim->w = w;
    victim->h = h;
    victim->used = ++t->clock;
    return victim;
}

int ui_text_draw(ui_text *t, const char *s, int size, int x, int y, uint32_t rgba, int align)
{
    cache_entry *e = lookup(t, s, size, rgba);
    if (!e)
        return 0;
    SDL_Rect dst = { x, y, e->w, e->h };
    if (align == 1)
        dst.x -= e->w / 2;
    else if (align == 2)
        dst.x -= e->w;
    SDL_RenderCopy(t->r, e->tex, NULL, &dst);
    return e->w;
}

int ui_text_width(ui_text *t, const char *s, int size)
{
    int w = 0, h = 0;
    if (!s || !s[0])
        return 0;
    TTF_SizeUTF8(t->font[size_index(size)], s, &w, &h);
    return w;
}
