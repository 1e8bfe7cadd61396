# Runs one example and checks it: exit status 0, and the output (stdout + stderr) matches every
# regular expression given on a `// ctest-expect: <regex>` line of its source.
#   cmake -DPROGRAM=<executable> -DSOURCE=<example.cpp> -P run_example.cmake
execute_process(COMMAND "${PROGRAM}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(out "${out}${err}")
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}")
endif()
file(STRINGS "${SOURCE}" _expects REGEX "^// ctest-expect: ")
if(NOT _expects)
  message(FATAL_ERROR "${SOURCE} has no `// ctest-expect: <regex>` line: say what it must print")
endif()
foreach(_line IN LISTS _expects)
  string(REGEX REPLACE "^// ctest-expect: " "" _regex "${_line}")
  if(NOT out MATCHES "${_regex}")
    message(FATAL_ERROR "the output of ${PROGRAM} does not match\n  ${_regex}")
  endif()
endforeach()
