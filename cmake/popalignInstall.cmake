include(CMakePackageConfigHelpers)
set(POPALIGN_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/popalign")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/popalign" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
set(_pa_targets popalign_core)
if(TARGET popalign)
  get_property(_pa_layers GLOBAL PROPERTY POPALIGN_LAYER_TARGETS)
  list(APPEND _pa_targets popalign ${_pa_layers})
  install(TARGETS popalign_cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
  # The data files travel with their READMEs (provenance, attribution, license).
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/data/" DESTINATION "${CMAKE_INSTALL_DATADIR}/popalign")
endif()
install(TARGETS ${_pa_targets} EXPORT popalignTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(EXPORT popalignTargets NAMESPACE popalign:: DESTINATION "${POPALIGN_CMAKE_DIR}")

set(POPALIGN_WITH_COMPILED ${POPALIGN_BUILD_COMPILED})
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/popalignConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/popalignConfig.cmake" INSTALL_DESTINATION "${POPALIGN_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/popalignConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/popalignConfig.cmake"
              "${PROJECT_BINARY_DIR}/popalignConfigVersion.cmake"
        DESTINATION "${POPALIGN_CMAKE_DIR}")
