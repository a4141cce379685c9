# guidance/log (tl_injlog): the injection log.
tl_test(test_injlog_basic SOURCES test_injlog_basic.c LIBS tl_injlog PkgConfig::SQLITE3 TIMEOUT 60)
tl_test(test_injlog_durability SOURCES test_injlog_durability.c LIBS tl_injlog PkgConfig::SQLITE3 TIMEOUT 120)
tl_test(test_injlog_faults SOURCES test_injlog_faults.c LIBS tl_injlog PkgConfig::SQLITE3 TIMEOUT 60)
tl_test(test_injlog_cli SOURCES test_injlog_cli.c LIBS tl_injlog PkgConfig::CJSON TIMEOUT 60)
add_dependencies(test_injlog_cli talus)
