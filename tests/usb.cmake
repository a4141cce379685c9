# USB: the simulated probe on the umockdev bus, read by the real driver.
tl_test(test_usb_stream SOURCES test_usb_stream.c LIBS tl_driver tl_simusb USB TIMEOUT 60)
tl_test(test_usb_faults SOURCES test_usb_faults.c LIBS tl_driver tl_simusb USB TIMEOUT 60)
tl_test(test_usb_cli SOURCES test_usb_cli.c LIBS PkgConfig::CJSON TIMEOUT 60)
add_dependencies(test_usb_cli talus talus-sim)
tl_test(test_usb_steer SOURCES test_usb_steer.c LIBS tl_driver tl_simusb USB TIMEOUT 60)
