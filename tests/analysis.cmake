# Tissue analysis tests (imaging/analysis).
tl_test(test_analysis_synthetic SOURCES test_analysis_synthetic.c test_analysis_synth.c
        LIBS tl_analysis TIMEOUT 60)
tl_test(test_analysis_tracker SOURCES test_analysis_tracker.c test_analysis_synth.c
        LIBS tl_analysis TIMEOUT 60)
# Runs the talus binary: a 12-case eval through sim -> imaging -> analysis and
# `talus analyze` on every image of the shared data.
tl_test(test_analysis_pipeline SOURCES test_analysis_pipeline.c LIBS PkgConfig::CJSON TIMEOUT 240)
add_dependencies(test_analysis_pipeline talus)
tl_test(test_analysis_lesion SOURCES test_analysis_lesion.c test_analysis_synth.c
        LIBS tl_analysis TIMEOUT 60)
# Borders and thickness through sim -> imaging -> analysis: tilted fascia,
# Achilles insertion, ankle effusions.
tl_test(test_analysis_borders SOURCES test_analysis_borders.c
        LIBS tl_analysis tl_imaging tl_sim TIMEOUT 120)
# The hot kernels (an_kernels.c) against the plain loops they replaced.
tl_test(test_analysis_kernels SOURCES test_analysis_kernels.c LIBS tl_analysis TIMEOUT 30)
# The Achilles tendon through a tilted probe (an_achilles.c): sim -> imaging
# -> analysis, thickness against truth, the lesion as a target.
tl_test(test_analysis_achilles SOURCES test_analysis_achilles.c
        LIBS tl_analysis tl_imaging tl_sim TIMEOUT 240)
# The Achilles tail of eval tissue (atail2): eval scenes rebuilt exactly,
# a narrow image's margin, a top line in the fat, a ramp at the view's edge.
tl_test(test_analysis_achilles_tail SOURCES test_analysis_achilles_tail.c
        LIBS tl_analysis tl_imaging tl_sim TIMEOUT 240)
# Ankle effusions through sim -> imaging -> analysis: a probe tilted against
# the joint, the joint gap in the recess floor.
tl_test(test_analysis_ankle SOURCES test_analysis_ankle.c
        LIBS tl_analysis tl_imaging tl_sim TIMEOUT 240)
# Plantar fascia: calcaneus, site, tilted bands, lesions (synthetic heels).
tl_test(test_analysis_plantar SOURCES test_analysis_plantar.c test_analysis_synth.c
        LIBS tl_analysis tl_imaging tl_sim TIMEOUT 180)
# Plantar fascia's superficial border over a lesion in the band's upper part.
tl_test(test_analysis_plantar_top SOURCES test_analysis_plantar_top.c
        LIBS tl_analysis tl_imaging tl_sim TIMEOUT 120)
# Plantar fascia lesions through sim -> imaging -> analysis: thin textured
# bands against their local level, dark layers the borders took in.
tl_test(test_analysis_plantar_lesion SOURCES test_analysis_plantar_lesion.c
        LIBS tl_analysis tl_imaging tl_sim TIMEOUT 240)
# Plantar fascia through a tilted probe: the deep border over the calcaneus
# and the insertion site, against the simulator's truth.
tl_test(test_analysis_plantar_deep SOURCES test_analysis_plantar_deep.c
        LIBS tl_analysis tl_imaging tl_sim TIMEOUT 240)
# Plantar fascia through a tilted probe: a top left up in the heel fat pad
# (a septum gap over the band), against the simulator's truth.
tl_test(test_analysis_plantar_fat SOURCES test_analysis_plantar_fat.c
        LIBS tl_analysis tl_imaging tl_sim TIMEOUT 240)
# Plantar fascia: the band, its deep border and the site where they went
# wrong as a whole (shallow images), against the simulator's truth.
tl_test(test_analysis_plantar_band SOURCES test_analysis_plantar_band.c
        LIBS tl_analysis tl_imaging tl_sim TIMEOUT 240)
# Plantar fascia through a tilted probe: the spread border's small upward
# moves on a top read just inside the band.
tl_test(test_analysis_plantar_spread SOURCES test_analysis_plantar_spread.c
        LIBS tl_analysis tl_imaging tl_sim TIMEOUT 240)
# Plantar fascia through a tilted probe: a top left up in septum-poor fat
# over the whole stretch near the site, capped by the posterior strips.
tl_test(test_analysis_plantar_fat2 SOURCES test_analysis_plantar_fat2.c
        LIBS tl_analysis tl_imaging tl_sim TIMEOUT 240)
# Plantar targets where the band's borders left the band (bone, bulges);
# the dip rule with a borderless strip in a flank.
tl_test(test_analysis_plantar_trust SOURCES test_analysis_plantar_trust.c
        LIBS talus_cli TIMEOUT 240)
# Plantar targets in the muscle a deep border run too deep took in.
tl_test(test_analysis_plantar_muscle SOURCES test_analysis_plantar_muscle.c
        LIBS talus_cli TIMEOUT 240)
