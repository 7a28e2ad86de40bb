# Shared build settings and helpers for rcbench targets.

# Warnings (and -Werror in CI) for rcbench's own code only; generated code gets none.
function(rcbench_compile_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(RCBENCH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(RCBENCH_SANITIZE)
  add_compile_options(-fsanitize=${RCBENCH_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${RCBENCH_SANITIZE})
endif()

# rcbench_library(NAME SOURCES ... DEPS ...): library rcbench_NAME with alias rcbench::NAME.
function(rcbench_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PUBLIC_DEPS" ${ARGN})
  add_library(rcbench_${name} ${ARG_SOURCES})
  add_library(rcbench::${name} ALIAS rcbench_${name})
  target_include_directories(rcbench_${name} PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(rcbench_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_DEPS})
  rcbench_compile_options(rcbench_${name})
endfunction()

# rcbench_binary(NAME SOURCES ... DEPS ...): an executable in build/bin.
function(rcbench_binary name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  rcbench_compile_options(${name})
endfunction()

# rcbench_test(NAME SOURCES ... DEPS ... LABELS unit|integration|privileged [TIMEOUT s])
# One gtest binary; each TEST is its own ctest entry via gtest_discover_tests.
function(rcbench_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest GTest::gtest_main)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  rcbench_compile_options(${name})
  set(props LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
  # Privileged tests touch shared host state (cgroups, namespaces, CPU time): run them alone.
  if("privileged" IN_LIST ARG_LABELS OR "integration" IN_LIST ARG_LABELS)
    list(APPEND props RUN_SERIAL TRUE)
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES ${props}
    # One variable only: gtest_discover_tests cannot carry a list-valued ENVIRONMENT. Tests find
    # the source tree from __FILE__.
    ENVIRONMENT "RCBENCH_BIN_DIR=${CMAKE_BINARY_DIR}/bin")
endfunction()
