# drivers: the probe driver's validation of an untrusted device, through the
# emulated bus (hand-made frames).
tl_test(test_drivers_validation SOURCES test_drivers_validation.c LIBS tl_driver tl_simusb PkgConfig::ZLIB USB TIMEOUT 60)
