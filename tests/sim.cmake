# hw-sim physics tests (owned by hw-sim).
tl_test(test_sim_physics SOURCES test_sim_physics.c LIBS tl_sim TIMEOUT 120)
tl_test(test_sim_api SOURCES test_sim_api.c LIBS tl_sim PkgConfig::CJSON TIMEOUT 120)
tl_test(test_sim_scene SOURCES test_sim_scene.c LIBS tl_sim TIMEOUT 120)
tl_test(test_sim_cli SOURCES test_sim_cli.c LIBS PkgConfig::CJSON TIMEOUT 120)
tl_test(test_sim_steer SOURCES test_sim_steer.c LIBS tl_sim TIMEOUT 120)
