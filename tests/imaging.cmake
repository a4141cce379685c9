tl_test(test_imaging_analytic SOURCES test_imaging_analytic.c LIBS tl_imaging TIMEOUT 60)
tl_test(test_imaging_geometry SOURCES test_imaging_geometry.c LIBS tl_imaging tl_sim TIMEOUT 60)
tl_test(test_imaging_bmode SOURCES test_imaging_bmode.c LIBS tl_imaging tl_recording TIMEOUT 60)
tl_test(test_imaging_quality SOURCES test_imaging_quality.c LIBS tl_imaging TIMEOUT 60)
