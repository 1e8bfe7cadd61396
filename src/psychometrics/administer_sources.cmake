# Questionnaire administration (prompts, answer parsing, administer, the GRM test-double
# respondent), compiled into popalign::psychometrics. Included at the end of
# src/psychometrics/CMakeLists.txt, after popalign_add_layer(psychometrics ...):
#   include(${CMAKE_CURRENT_LIST_DIR}/administer_sources.cmake)
# It needs popalign::llm (types and LlmBackend appear in administer.hpp / respondent.hpp, so the
# dependency is PUBLIC) and popalign::io (JsonValue, JSONL reader/writer).
target_sources(popalign_psychometrics PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/answer_parsing.cpp
  ${CMAKE_CURRENT_LIST_DIR}/prompts.cpp
  ${CMAKE_CURRENT_LIST_DIR}/administer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/respondent.cpp)
target_link_libraries(popalign_psychometrics PUBLIC popalign::llm popalign::io)
