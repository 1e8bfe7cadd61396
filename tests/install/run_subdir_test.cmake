# Configures, builds and runs tests/install/subdir_consumer, which adds the popalign source tree
# with add_subdirectory and its default options. Every package of the compiled layers, the tests
# and the benchmarks is hidden (CMAKE_DISABLE_FIND_PACKAGE_<name>), so the configure step fails if
# the default subproject build looks for one: it may need only Eigen, fmt and OpenMP (and uses
# nanoflann if present, which is hidden here too). The consumer must print "popalign consumer ok".
file(REMOVE_RECURSE "${WORK_DIR}")
set(_hidden)
foreach(_pkg nlohmann_json CURL SQLite3 CLI11 xtensor hnswlib nanoflann GTest httplib benchmark
             Threads)
  list(APPEND _hidden "-DCMAKE_DISABLE_FIND_PACKAGE_${_pkg}=ON")
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -S "${CONSUMER_SOURCE_DIR}" -B "${WORK_DIR}/build"
  -G "${CMAKE_GENERATOR}" -DCMAKE_BUILD_TYPE=Release "-DPOPALIGN_SOURCE_DIR=${POPALIGN_SOURCE_DIR}"
  "-DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_COMPILER_LAUNCHER}" ${_hidden}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "subdirectory consumer configure failed (${rc}):\n${out}${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK_DIR}/build" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "subdirectory consumer build failed: ${rc}")
endif()
execute_process(COMMAND "${WORK_DIR}/build/consumer" RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "consumer printed: ${out}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "popalign consumer ok")
  message(FATAL_ERROR "subdirectory consumer run failed (${rc}): ${out}")
endif()
