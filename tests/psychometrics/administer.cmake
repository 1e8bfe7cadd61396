# Tests of questionnaire administration (prompts, answer parsing, administer, the GRM test
# double, the `popalign administer` program). Included from tests/psychometrics/CMakeLists.txt:
#   include(${CMAKE_CURRENT_LIST_DIR}/administer.cmake)
# One label per test target: popalign_add_test passes LABELS through gtest_discover_tests'
# PROPERTIES, which flattens a list ("a;b" would become LABELS a, b=<next>).
set(_adm "${CMAKE_CURRENT_LIST_DIR}")

# Unit tests + CLI tests (the CLI tests run the built program against an in-process loopback
# HTTP server backed by the GRM test double).
popalign_add_test(popalign_test_administer
  SOURCES ${_adm}/answer_parsing_test.cpp ${_adm}/prompts_test.cpp ${_adm}/respondent_test.cpp
          ${_adm}/administer_test.cpp ${_adm}/administer_cli_test.cpp
  LIBS popalign::psychometrics popalign::llm popalign::io httplib::httplib
       nlohmann_json::nlohmann_json Threads::Threads
  LABELS psychometrics)
target_compile_definitions(popalign_test_administer PRIVATE
  POPALIGN_CLI="$<TARGET_FILE:popalign_cli>")
add_dependencies(popalign_test_administer popalign_cli)

# Integration: the CLI against the real tiny model (fixture llm_server from the llm tests).
include("${PROJECT_SOURCE_DIR}/tests/support/llm_server/llm_server.cmake")
popalign_add_test(popalign_test_administer_integration
  SOURCES ${_adm}/administer_integration_test.cpp
  LIBS popalign::psychometrics popalign::io
  LABELS integration
  PROPERTIES FIXTURES_REQUIRED llm_server
             ENVIRONMENT "POPALIGN_TEST_LLM_URL=${POPALIGN_TEST_LLM_URL}")
target_compile_definitions(popalign_test_administer_integration PRIVATE
  POPALIGN_CLI="$<TARGET_FILE:popalign_cli>")
add_dependencies(popalign_test_administer_integration popalign_cli)
