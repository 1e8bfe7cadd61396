# Flags for popalign's OWN targets (library sources, tests, benchmarks, examples, CLI).
# Never linked into the interface of an exported target: they do not leak into users' builds.
add_library(popalign_build_options INTERFACE)

if(POPALIGN_WARNINGS AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(popalign_build_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow
    -Wno-unknown-pragmas)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 reports -Wrestrict inside libstdc++'s std::string at -O3 (a false positive, GCC
    # bug 105329, fixed in 13); it drowns the log of the test build.
    target_compile_options(popalign_build_options INTERFACE -Wno-restrict)
  endif()
  if(POPALIGN_WERROR)
    target_compile_options(popalign_build_options INTERFACE -Werror)
  endif()
endif()

if(POPALIGN_SANITIZE)
  target_compile_options(popalign_build_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(popalign_build_options INTERFACE -fsanitize=address,undefined)
endif()

if(POPALIGN_NATIVE AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang"
   AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  # A fixed ISA level (not -march=native) so that the same build gives the same bytes on every
  # machine that runs it; only when this host can run it.
  include(CheckCXXSourceRuns)
  set(CMAKE_REQUIRED_FLAGS "-march=x86-64-v3")
  check_cxx_source_runs("
    int main() { __builtin_cpu_init(); return (__builtin_cpu_supports(\"avx2\") && __builtin_cpu_supports(\"fma\")) ? 0 : 1; }"
    POPALIGN_HOST_HAS_X86_64_V3)
  unset(CMAKE_REQUIRED_FLAGS)
  if(POPALIGN_HOST_HAS_X86_64_V3)
    target_compile_options(popalign_build_options INTERFACE -march=x86-64-v3)
  endif()
endif()
