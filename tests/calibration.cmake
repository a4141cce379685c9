tl_test(test_calibration_procedures SOURCES test_calibration_procedures.c
        LIBS tl_calibration tl_sim TIMEOUT 120)
tl_test(test_calibration_store SOURCES test_calibration_store.c LIBS tl_calibration TIMEOUT 60)
tl_test(test_calibration_dots SOURCES test_calibration_dots.c LIBS tl_calibration tl_recording TIMEOUT 120)
# End to end through talus / talus-sim (emulated USB bus, driver, store).
tl_test(test_calibration_cli SOURCES test_calibration_cli.c LIBS PkgConfig::CJSON TIMEOUT 180)
add_dependencies(test_calibration_cli talus talus-sim)
