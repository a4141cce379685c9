tl_test(test_recording_plus SOURCES test_recording_plus.c LIBS tl_recording TIMEOUT 60)
tl_test(test_recording_roundtrip SOURCES test_recording_roundtrip.c LIBS tl_recording TIMEOUT 60)
# record / replay through talus and talus-sim (emulated USB bus, driver).
tl_test(test_recording_cli SOURCES test_recording_cli.c LIBS tl_recording tl_sim PkgConfig::CJSON TIMEOUT 120)
add_dependencies(test_recording_cli talus talus-sim)
