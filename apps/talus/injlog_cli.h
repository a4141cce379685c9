/* Shared by `talus log`, `talus report` and `talus trend`: opening the
 * injection log from --db or the default, private output files, times. */
#ifndef TALUS_INJLOG_CLI_H
#define TALUS_INJLOG_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "tl_injlog.h"

/* Open the log at db (NULL = $TALUS_DB or ~/.local/share/talus/talus.db)
 * for reading: read-write when possible (so an older schema is migrated),
 * read-only when the file or disk is. On failure prints
 * "talus CMD: <why>" and returns 1; 0 on success. */
int injlog_cli_open(const char *cmd, const char *db, tl_injlog **log);

/* Parse a session id (positive integer); 0 ok, prints and returns 2 if not. */
int injlog_cli_session_id(const char *cmd, const char *text, int64_t *id);

/* Create (or truncate) path with mode 0600 for writing; prints on failure. */
FILE *injlog_cli_create(const char *cmd, const char *path);
/* fflush + fsync + fclose; 0 ok, prints and returns 1 on failure. */
int injlog_cli_finish(const char *cmd, const char *path, FILE *fp);

/* "2026-11-24T08:20:01Z" (UTC); "" for 0. */
void injlog_cli_time(int64_t ms, char *buf, size_t cap);

#endif
