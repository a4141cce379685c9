tl_test(test_recording_plus SOURCES test_recording_plus.c LIBS tl_recording TIMEOUT 60)
tl_test(test_recording_roundtrip SOURCES test_recording_roundtrip.c LIBS tl_recording TIMEOUT 60)
