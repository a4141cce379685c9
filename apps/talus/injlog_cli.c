/* Helpers for the injection-log commands (see injlog_cli.h). */
#include "injlog_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int injlog_cli_open(const char *cmd, const char *db, tl_injlog **log)
{
    char path[4096], err[1024];
    if (!db) {
        tl_status st = tl_injlog_default_path(path, sizeof path);
        if (st != TL_OK) {
            fprintf(stderr, "talus %s: no database given: use --db FILE or set TALUS_DB\n", cmd);
            return 1;
        }
        db = path;
    }
    tl_status st = tl_injlog_open(db, 0, log, err, sizeof err);
    if (st == TL_ERR_PERMISSION)
        st = tl_injlog_open(db, TL_INJLOG_READONLY, log, err, sizeof err);
    if (st != TL_OK) {
        fprintf(stderr, "talus %s: %s\n", cmd, err[0] ? err : tl_strerror(st));
        return 1;
    }
    return 0;
}

int injlog_cli_session_id(const char *cmd, const char *text, int64_t *id)
{
    char *end = NULL;
    errno = 0;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (!text || !*text || *end || errno || v <= 0) {
        fprintf(stderr, "talus %s: session must be a positive number (see `talus log list`), "
                        "not '%s'\n", cmd, text ? text : "");
        return 2;
    }
    *id = v;
    return 0;
}

FILE *injlog_cli_create(const char *cmd, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "talus %s: cannot create %s: %s\n", cmd, path, strerror(errno));
        return NULL;
    }
    /* An existing file keeps its old mode through O_CREAT: patient data is 0600. */
    if (fchmod(fd, 0600) != 0) {
        fprintf(stderr, "talus %s: cannot make %s private: %s\n", cmd, path, strerror(errno));
        close(fd);
        return NULL;
    }
    FILE *fp = fdopen(fd, "w");
    if (!fp) {
        fprintf(stderr, "talus %s: %s: %s\n", cmd, path, strerror(errno));
        close(fd);
    }
    return fp;
}

int injlog_cli_finish(const char *cmd, const char *path, FILE *fp)
{
    int bad = fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) != 0;
    int e = errno;
    if (fclose(fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        fprintf(stderr, "talus %s: writing %s failed: %s\n", cmd, path, strerror(e));
        return 1;
    }
    return 0;
}

void injlog_cli_time(int64_t ms, char *buf, size_t cap)
{
    if (ms <= 0) {
        if (cap)
            buf[0] = '\0';
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "%lld", (long long)ms);
}
