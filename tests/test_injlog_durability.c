/* injlog durability: a scripted procedure is killed with SIGKILL at 50
 * random moments. Every injection acknowledged before the kill must be in
 * the database afterwards, with its image readable, and
 * PRAGMA integrity_check must say "ok" every time.
 *
 * The child is swappable: by default it is run_procedure() below (the
 * library directly). With TALUS_DURABILITY_CMD set, the child instead runs
 * that shell command with TALUS_DB=<database> in its environment and its
 * stdout on the acknowledgement pipe; it must print each injection id on a
 * line of its own (other lines are ignored) right after it is acknowledged (e.g. the station's
 * `talus run --headless --script ...` with an ack stream).
 *
 * The child runs in its own process group and the whole group is killed,
 * so a shell pipeline (station | filter) dies as one.
 *
 * TALUS_DURABILITY_SEED / _ROUNDS / _WINDOW_MS override the seed, the
 * number of kills and the longest delay before a kill (default 250 ms; a
 * station that takes a second to start wants a few seconds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "test_injlog_util.h"

/* The scripted procedure: sessions of a finding and a few injections each,
 * an image with every record, acknowledging ids on ack_fd. Never returns. */
static void run_procedure(const char *db, int ack_fd, uint64_t seed)
{
    tl_injlog *log = NULL;
    char err[512];
    if (tl_injlog_open(db, TL_INJLOG_CREATE, &log, err, sizeof err) != TL_OK) {
        fprintf(stderr, "child: %s\n", err);
        _exit(3);
    }
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    test_image im;
    for (int session = 0; session < 1000; session++) {
        tl_injlog_session_info si = demo_session("P-DUR");
        int64_t sid;
        if (tl_injlog_start_session(log, &si, &sid) != TL_OK)
            _exit(4);
        make_image(&im, session);
        tl_injlog_finding_info fi = { "plantar fascia", "thickness",
                                      tl_rng_range(&rng, 3, 7), "mm", 1, 4.0, NULL };
        if (tl_injlog_add_finding(log, sid, &fi, &im.img, NULL) != TL_OK)
            _exit(5);
        int count = 1 + (int)(tl_rng_next(&rng) % 4);
        for (int k = 0; k < count; k++) {
            tl_injlog_injection_info in = demo_injection(k);
            make_image(&im, session * 7 + k);
            int64_t id = 0;
            if (tl_injlog_mark_injection(log, sid, &in, &im.img, &id) != TL_OK) {
                fprintf(stderr, "child: %s\n", tl_injlog_errmsg(log));
                _exit(6);
            }
            /* Acknowledged: tell the parent at once. */
            char line[32];
            int n = snprintf(line, sizeof line, "%lld\n", (long long)id);
            if (write(ack_fd, line, (size_t)n) != n)
                _exit(7);
        }
        if (tl_injlog_close_session(log, sid, "ok") != TL_OK)
            _exit(8);
    }
    tl_injlog_close(log);
    _exit(0);
}

static pid_t spawn_child(const char *db, int ack_fd, int read_fd, uint64_t seed)
{
    pid_t pid = fork();
    if (pid != 0) {
        if (pid > 0)
            setpgid(pid, pid); /* both sides, so the kill never races it */
        return pid;
    }
    setpgid(0, 0);
    close(read_fd);
    const char *cmd = getenv("TALUS_DURABILITY_CMD");
    if (cmd && *cmd) {
        setenv("TALUS_DB", db, 1);
        if (dup2(ack_fd, STDOUT_FILENO) < 0)
            _exit(9);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(10);
    }
    run_procedure(db, ack_fd, seed);
    _exit(0);
}

/* Read every acknowledged id the child wrote before it died. */
static size_t read_acks(int fd, int64_t **ids)
{
    size_t cap = 64, n = 0, len = 0;
    char buf[8192];
    *ids = malloc(cap * sizeof **ids);
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        char *start = buf, *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            /* Only lines that are a bare id are acks; a swapped-in child
             * may print other things too. */
            char *end;
            long long v = strtoll(start, &end, 10);
            if (end != start && *end == '\0' && v > 0) {
                if (n == cap)
                    *ids = realloc(*ids, (cap *= 2) * sizeof **ids);
                (*ids)[n++] = v;
            }
            start = nl + 1;
        }
        len = (size_t)(buf + len - start);
        memmove(buf, start, len);
    }
    return n; /* a partial last line (killed mid-write) is not an ack */
}

static void test_sigkill_at_random_moments(void **state)
{
    (void)state;
    const char *env_seed = getenv("TALUS_DURABILITY_SEED");
    const char *env_rounds = getenv("TALUS_DURABILITY_ROUNDS");
    uint64_t seed = env_seed ? strtoull(env_seed, NULL, 10) : 20261124u;
    int rounds = env_rounds ? atoi(env_rounds) : 50;
    const char *env_window = getenv("TALUS_DURABILITY_WINDOW_MS");
    uint64_t window_ms = env_window ? strtoull(env_window, NULL, 10) : 250;
    if (window_ms < 1)
        window_ms = 1;
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    char *dir = tmp_dir();
    assert_non_null(dir);
    char db[600];
    join(db, sizeof db, dir, "dur.db");

    size_t total_acked = 0, max_acked = 0, zero_ack_rounds = 0, unacked_committed = 0;
    int64_t *all = NULL, checked_to = 0;
    size_t all_n = 0;
    uint64_t t0 = tl_now_ns();
    for (int round = 0; round < rounds; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        /* A random moment: from "still opening" to well into a session. */
        uint64_t delay_us = 200 + tl_rng_next(&rng) % (window_ms * 1000);
        pid_t pid = spawn_child(db, fds[1], fds[0], seed + (uint64_t)round);
        assert_true(pid > 0);
        close(fds[1]);
        tl_sleep_ns(delay_us * 1000);
        if (kill(-pid, SIGKILL) != 0)
            kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        /* Grandchildren (a swapped-in pipeline) die asynchronously: wait
         * until the group is gone before looking at the database. */
        for (int i = 0; i < 200 && kill(-pid, 0) == 0; i++)
            tl_sleep_ns(10000000);
        int64_t *ids = NULL;
        size_t n = read_acks(fds[0], &ids);
        close(fds[0]);
        /* The child must have died by our kill (or finished: a swapped-in
         * script may be short), not by its own failure. */
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) &&
            !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            fprintf(stderr, "round %d: child exited with status %d before the kill\n", round,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            fail();
        }
        if (access(db, F_OK) != 0) { /* killed before the log even existed */
            assert_int_equal(n, 0);
            zero_ack_rounds++;
            free(ids);
            continue;
        }
        assert_true(integrity_ok(db));

        tl_injlog *log = NULL;
        char err[512];
        assert_int_equal(tl_injlog_open(db, 0, &log, err, sizeof err), TL_OK);
        all = realloc(all, (all_n + n + 1) * sizeof *all);
        memcpy(all + all_n, ids, n * sizeof *ids);
        all_n += n;
        /* Every id acknowledged in any round so far is still there. */
        for (size_t i = 0; i < all_n; i++) {
            tl_injlog_injection inj;
            if (tl_injlog_get_injection(log, all[i], &inj) != TL_OK) {
                fprintf(stderr, "round %d: acknowledged injection %lld lost: %s\n", round,
                        (long long)all[i], tl_injlog_errmsg(log));
                fail();
            }
            if (i < all_n - n)
                continue; /* images of earlier rounds were checked then */
            char p[1024];
            assert_int_equal(tl_injlog_image_path(log, inj.image, p, sizeof p), TL_OK);
            uint8_t *px = NULL;
            uint32_t w, h;
            if (tl_png_read(p, 3, &px, &w, &h) != TL_OK) {
                fprintf(stderr, "round %d: image of injection %lld unreadable: %s\n", round,
                        (long long)all[i], p);
                fail();
            }
            if (!getenv("TALUS_DURABILITY_CMD"))
                assert_int_equal(w, 48);
            free(px);
        }
        /* Rows committed but not acknowledged (killed between COMMIT and the
         * ack) are allowed; fewer rows than acks is not. */
        sqlite3 *h;
        assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        sqlite3_stmt *s;
        assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM injections", -1, &s, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        size_t rows = (size_t)sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        sqlite3_close(h);
        assert_true(rows >= all_n);
        unacked_committed = rows - all_n;
        /* No committed row without its image, acknowledged or not: the image
         * must be on disk before the row commits. */
        assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(h, "SELECT id, image FROM injections WHERE id > ?",
                                            -1, &s, NULL), SQLITE_OK);
        sqlite3_bind_int64(s, 1, checked_to);
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *img = (const char *)sqlite3_column_text(s, 1);
            char p[1024];
            uint8_t *px = NULL;
            uint32_t w, hh;
            if (!img || tl_injlog_image_path(log, img, p, sizeof p) != TL_OK ||
                tl_png_read(p, 3, &px, &w, &hh) != TL_OK) {
                fprintf(stderr, "round %d: injection %lld committed without a readable image\n",
                        round, (long long)sqlite3_column_int64(s, 0));
                fail();
            }
            free(px);
            checked_to = sqlite3_column_int64(s, 0);
        }
        sqlite3_finalize(s);
        sqlite3_close(h);
        tl_injlog_close(log);
        total_acked += n;
        if (n > max_acked)
            max_acked = n;
        if (n == 0)
            zero_ack_rounds++;
        free(ids);
    }
    double secs = (double)(tl_now_ns() - t0) / 1e9;
    printf("durability: seed %llu, %d SIGKILLs in %.1f s: %zu injections acknowledged "
           "(max %zu in one run, %zu runs killed before the first ack), all present; "
           "%zu committed but unacknowledged; integrity_check ok every time\n",
           (unsigned long long)seed, rounds, secs, total_acked, max_acked, zero_ack_rounds,
           unacked_committed);
    /* The kills must land mid-procedure, not only at start-up (a loaded
     * machine delays the first ack, so ask for a quarter of the runs). */
    assert_true((size_t)rounds - zero_ack_rounds >= (size_t)rounds / 4);
    assert_true(total_acked > (size_t)rounds);
    free(all);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_at_random_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
