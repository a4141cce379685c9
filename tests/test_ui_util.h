/* Shared by the ui tests: a scratch folder per test program (kept for a
 * look when TALUS_KEEP_TEST_DIR is set), small file helpers, and the hooks
 * that wire a script's "button" / "fault" to a simulated probe. */
#ifndef TEST_UI_UTIL_H
#define TEST_UI_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static inline void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static inline int setup_dir(const char *name)
{
    snprintf(dir, sizeof dir, "/tmp/talus-ui-%s-XXXXXX", name);
    return mkdtemp(dir) ? 0 : -1;
}

static inline int teardown(void **state)
{
    (void)state;
    if (getenv("TALUS_KEEP_TEST_DIR")) {
        fprintf(stderr, "kept %s\n", dir);
        return 0;
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#ifdef TL_SIMUSB_H
static inline int press(void *user)
{
    return tl_simusb_press_button(user);
}

static inline int fault(void *user, const char *name)
{
    uint32_t mask;
    if (tl_fault_parse(name, &mask, NULL) != TL_OK)
        return TL_ERR_INVALID_ARG;
    return tl_simusb_inject(user, (tl_fault_kind)mask);
}
#endif

#endif
