# Every dependency through find_package, each failing with the Debian package that provides it.
include(FindPackageMessage)

macro(popalign_require _pkg _debian)
  find_package(${_pkg} ${ARGN} QUIET)
  if(NOT ${_pkg}_FOUND)
    message(FATAL_ERROR
      "popalign needs ${_pkg}. On Debian/Ubuntu: apt-get install ${_debian}\n"
      "(or run scripts/deps.sh, which installs everything popalign needs)")
  endif()
endmacro()

# popalign::core (public): all that a build with POPALIGN_BUILD_COMPILED=OFF (the default of a
# subproject) needs.
popalign_require(Eigen3 libeigen3-dev 3.3 NO_MODULE)
popalign_require(fmt libfmt-dev)
popalign_require(OpenMP "libgomp1 (part of g++)")

# Optional: nanoflann for the KD-tree truncated KDE (include/popalign/density/kde_tree.hpp, a
# header that only its users include); its tests and benchmarks are built when it is found.
find_package(nanoflann QUIET)
if(POPALIGN_IS_TOP_LEVEL)
  if(TARGET nanoflann::nanoflann)
    message(STATUS "popalign: nanoflann found: density/kde_tree.hpp is tested")
  else()
    message(STATUS "popalign: nanoflann not found (apt-get install libnanoflann-dev): "
                   "density/kde_tree.hpp is not tested")
  endif()
endif()

if(POPALIGN_BUILD_COMPILED)
  popalign_require(nlohmann_json nlohmann-json3-dev 3.9)
  popalign_require(CURL libcurl4-openssl-dev)
  popalign_require(SQLite3 libsqlite3-dev)
  popalign_require(CLI11 libcli11-dev)
  popalign_require(hnswlib libhnswlib-dev)
  popalign_require(tomlplusplus libtomlplusplus-dev)  # pipeline.toml (popalign::pipeline)
  find_package(Threads REQUIRED)
endif()

if(POPALIGN_BUILD_TESTS)
  popalign_require(GTest "libgtest-dev libgmock-dev")
  popalign_require(httplib libcpp-httplib-dev)
  include(GoogleTest)
endif()
if(POPALIGN_BUILD_BENCHMARKS)
  popalign_require(benchmark libbenchmark-dev)
  if(NOT TARGET httplib::httplib)
    popalign_require(httplib libcpp-httplib-dev)
  endif()
endif()
