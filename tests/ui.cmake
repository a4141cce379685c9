# ui (tl_ui): the station. Display tests run the real SDL2 window under Xvfb.
tl_test(test_ui_script SOURCES test_ui_script.c LIBS tl_ui TIMEOUT 30)
tl_test(test_ui_replay SOURCES test_ui_replay.c
        LIBS tl_ui tl_injlog tl_recording tl_sim PkgConfig::CJSON TIMEOUT 120)
tl_test(test_ui_station SOURCES test_ui_station.c
        LIBS tl_ui tl_injlog tl_simusb tl_sim tl_driver tl_calibration USB DISPLAY TIMEOUT 120)
tl_test(test_ui_unplug SOURCES test_ui_unplug.c
        LIBS tl_ui tl_injlog tl_simusb tl_driver USB TIMEOUT 120)
tl_test(test_ui_steer SOURCES test_ui_steer.c
        LIBS tl_ui tl_simusb tl_sim tl_driver tl_guidance USB TIMEOUT 120)
# The README demo's needle scene end to end (talus run on the emulated bus):
# the injections pressed at and after arrival are logged in target.
tl_test(test_ui_demo SOURCES test_ui_demo.c LIBS PkgConfig::CJSON USB TIMEOUT 180)
add_dependencies(test_ui_demo talus talus-sim)
