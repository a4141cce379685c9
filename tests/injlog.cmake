# guidance/log (tl_injlog): the injection log.
tl_test(test_injlog_basic SOURCES test_injlog_basic.c LIBS tl_injlog PkgConfig::SQLITE3 TIMEOUT 60)
