# Debian's libcpp-httplib-dev ships httplib.h and a compiled libcpp-httplib, without a CMake
# package. Used only by the test suite and benchmarks (loopback servers).
find_path(httplib_INCLUDE_DIR NAMES httplib.h)
find_library(httplib_LIBRARY NAMES cpp-httplib)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(httplib REQUIRED_VARS httplib_INCLUDE_DIR httplib_LIBRARY)
if(httplib_FOUND AND NOT TARGET httplib::httplib)
  find_package(Threads REQUIRED)
  add_library(httplib::httplib UNKNOWN IMPORTED)
  set_target_properties(httplib::httplib PROPERTIES
    IMPORTED_LOCATION "${httplib_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${httplib_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS "CPPHTTPLIB_OPENSSL_SUPPORT;CPPHTTPLIB_ZLIB_SUPPORT;CPPHTTPLIB_BROTLI_SUPPORT"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
mark_as_advanced(httplib_INCLUDE_DIR httplib_LIBRARY)
