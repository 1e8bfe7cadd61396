# Builds one target of the popalign build tree and checks how the compiler answered.
#   cmake -DBUILD_DIR=<dir> -DTARGET=<target> [-DEXPECT=<text>] -P check_compile.cmake
# Without EXPECT the build must succeed (the negative control). With EXPECT it must fail, its
# output must contain EXPECT (compared as plain text), and the first compiler error must be a
# static assertion (so the user reads the sentence first, not a list of candidate overloads).
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(out "${out}${err}")
if(NOT DEFINED EXPECT OR EXPECT STREQUAL "")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${TARGET} should compile but failed:\n${out}")
  endif()
  message(STATUS "${TARGET} compiled, as it should")
  return()
endif()
if(rc EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled but should have failed with: ${EXPECT}")
endif()
string(FIND "${out}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${TARGET} failed without the expected message\n  ${EXPECT}\n"
                      "compiler output:\n${out}")
endif()
string(REGEX MATCH "error[^\n]*" first_error "${out}")
if(NOT first_error MATCHES "static assert")
  message(FATAL_ERROR "${TARGET}: the first error is not the static assertion:\n  ${first_error}\n"
                      "compiler output:\n${out}")
endif()
message(STATUS "${TARGET} failed with: ${EXPECT}")
