# The layering that the administer layer exists for, checked as tests:
#  - layering.psychometrics_without_llm: everything that popalign::psychometrics brings into a
#    consumer's link (its link interface, followed through every target) contains neither
#    popalign::llm nor libcurl nor SQLite, and does contain popalign::io (the walk works);
#  - layering.administer_with_llm: negative control, the same walk from popalign::administer
#    does find popalign::llm, libcurl and SQLite (a walk that finds nothing would pass the
#    first test vacuously);
#  - popalign_test_layering: a program linked with popalign::psychometrics alone scores
#    responses (tests/administer/layering_test.cpp).
# Included from tests/administer/CMakeLists.txt. The closures are computed when CMake
# configures, so the tests fail as soon as a CMakeLists.txt adds the dependency.

# _popalign_link_closure(<target> <out_var>): the targets and libraries <target> brings into a
# consumer's link: INTERFACE_LINK_LIBRARIES followed through targets, $<LINK_ONLY:x> and
# $<BUILD_INTERFACE:x> unwrapped (a static library's private dependencies are linked too),
# $<INSTALL_INTERFACE:x> dropped, aliases resolved to the real target names.
function(_popalign_link_closure target out_var)
  set(_seen "")
  set(_todo "${target}")
  while(_todo)
    list(POP_FRONT _todo _t)
    set(_prev "")
    while(NOT _t STREQUAL _prev)
      set(_prev "${_t}")
      string(REGEX REPLACE "^\\$<(LINK_ONLY|BUILD_INTERFACE):(.*)>$" "\\2" _t "${_t}")
    endwhile()
    if(_t MATCHES "^\\$<INSTALL_INTERFACE:" OR _t STREQUAL "")
      continue()
    endif()
    if(TARGET ${_t})
      get_target_property(_aliased ${_t} ALIASED_TARGET)
      if(_aliased)
        set(_t "${_aliased}")
      endif()
    endif()
    if(_t IN_LIST _seen)
      continue()
    endif()
    list(APPEND _seen "${_t}")
    if(TARGET ${_t})
      get_target_property(_libs ${_t} INTERFACE_LINK_LIBRARIES)
      if(_libs)
        list(APPEND _todo ${_libs})
      endif()
    endif()
  endwhile()
  set(${out_var} "${_seen}" PARENT_SCOPE)
endfunction()

# The real names behind the imported targets (CURL::libcurl may itself be an alias).
set(_llm_libs popalign_llm)
foreach(_imported CURL::libcurl SQLite::SQLite3)
  set(_real "${_imported}")
  if(TARGET ${_imported})
    get_target_property(_aliased ${_imported} ALIASED_TARGET)
    if(_aliased)
      set(_real "${_aliased}")
    endif()
  endif()
  list(APPEND _llm_libs "${_real}")
endforeach()

_popalign_link_closure(popalign_psychometrics _psy_closure)
_popalign_link_closure(popalign_administer _adm_closure)
# Lists travel to the script with '|' for ';' (a ';' would split the command line).
string(REPLACE ";" "|" _psy_arg "${_psy_closure}")
string(REPLACE ";" "|" _adm_arg "${_adm_closure}")
string(REPLACE ";" "|" _llm_arg "${_llm_libs}")
add_test(NAME layering.psychometrics_without_llm
  COMMAND ${CMAKE_COMMAND} "-DNAME=popalign::psychometrics" "-DCLOSURE=${_psy_arg}"
          "-DFORBIDDEN=${_llm_arg}" "-DREQUIRED=popalign_io"
          -P ${CMAKE_CURRENT_LIST_DIR}/check_link_closure.cmake)
add_test(NAME layering.administer_with_llm
  COMMAND ${CMAKE_COMMAND} "-DNAME=popalign::administer" "-DCLOSURE=${_adm_arg}"
          "-DREQUIRED=${_llm_arg}|popalign_psychometrics|popalign_io"
          -P ${CMAKE_CURRENT_LIST_DIR}/check_link_closure.cmake)
set_tests_properties(layering.psychometrics_without_llm layering.administer_with_llm
  PROPERTIES LABELS administer)

popalign_add_test(popalign_test_layering
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/layering_test.cpp
  LIBS popalign::psychometrics
  LABELS administer)
