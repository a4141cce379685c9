# Tissue analysis tests (imaging/analysis).
tl_test(test_analysis_synthetic SOURCES test_analysis_synthetic.c test_analysis_synth.c
        LIBS tl_analysis TIMEOUT 60)
