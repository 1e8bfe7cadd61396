# The ctest fixture `llm_server`: starts tests/support/llm_server/server.mjs (node-llama-cpp with
# data/models/stories260K.gguf) on 127.0.0.1 before the tests that require it, stops it after.
#
# Any test directory may include this file (it defines the fixture once) and then:
#   set_tests_properties(<test> PROPERTIES FIXTURES_REQUIRED llm_server
#                        ENVIRONMENT "POPALIGN_TEST_LLM_URL=${POPALIGN_TEST_LLM_URL}")
# or, for gtest_discover_tests, pass the same as PROPERTIES.
# Port: env POPALIGN_TEST_LLM_PORT at configure time, else 18457.
# POPALIGN_TEST_LLM_URL = http://127.0.0.1:<port>/v1 (an OpenAiOptions::base_url).
if(DEFINED ENV{POPALIGN_TEST_LLM_PORT} AND NOT "$ENV{POPALIGN_TEST_LLM_PORT}" STREQUAL "")
  set(POPALIGN_TEST_LLM_PORT "$ENV{POPALIGN_TEST_LLM_PORT}")
else()
  set(POPALIGN_TEST_LLM_PORT 18457)
endif()
set(POPALIGN_TEST_LLM_URL "http://127.0.0.1:${POPALIGN_TEST_LLM_PORT}/v1")

get_property(_popalign_llm_fixture_defined GLOBAL PROPERTY POPALIGN_LLM_SERVER_FIXTURE)
if(NOT _popalign_llm_fixture_defined)
  set_property(GLOBAL PROPERTY POPALIGN_LLM_SERVER_FIXTURE TRUE)
  set(_dir "${CMAKE_CURRENT_LIST_DIR}")
  set(_pid "${PROJECT_BINARY_DIR}/llm_server_${POPALIGN_TEST_LLM_PORT}.pid")
  add_test(NAME llm_server.start COMMAND bash "${_dir}/start.sh" ${POPALIGN_TEST_LLM_PORT} "${_pid}")
  set_tests_properties(llm_server.start PROPERTIES FIXTURES_SETUP llm_server TIMEOUT 300
    LABELS "integration;llm_server" RESOURCE_LOCK llm_server_port)
  add_test(NAME llm_server.stop COMMAND bash "${_dir}/stop.sh" "${_pid}")
  set_tests_properties(llm_server.stop PROPERTIES FIXTURES_CLEANUP llm_server TIMEOUT 30
    LABELS "integration;llm_server")
endif()
