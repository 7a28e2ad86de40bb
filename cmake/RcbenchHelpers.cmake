# Shared build settings and helpers for rcbench targets.

# Warnings (and -Werror in CI) for rcbench's own code only; generated code gets none.
function(rcbench_compile_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(RCBENCH_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(RCBENCH_SANITIZE)
  # Every finding fails its test: no recovering and carrying on after undefined behaviour.
  add_compile_options(-fsanitize=${RCBENCH_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  # vptr checks need RTTI of every class involved; Debian's libprotobuf is built without
  # sanitizers, so its map fields trip the check on valid code.
  if(RCBENCH_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize=vptr)
    add_link_options(-fno-sanitize=vptr)
  endif()
  # Tests that measure memory, address space or descriptor exhaustion skip their measurement
  # (the sanitizers' own shadow memory, quarantine and descriptors would be measured).
  add_compile_definitions(RCBENCH_SANITIZED=1)
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
# One gtest binary; each TEST is its own ctest entry via gtest_discover_tests. Declare tests in
# an if(BUILD_TESTING) block: with BUILD_TESTING=OFF there is no GTest to link against.
function(rcbench_test name)
  if(NOT BUILD_TESTING)
    message(FATAL_ERROR "rcbench_test(${name}) in ${CMAKE_CURRENT_LIST_FILE} is not inside "
                        "if(BUILD_TESTING)")
  endif()
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

if(RCBENCH_FUZZ AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "RCBENCH_FUZZ needs clang: -DCMAKE_CXX_COMPILER=clang++ (or make fuzz)")
endif()

# rcbench_fuzzer(NAME SOURCES ... DEPS ... CORPUS DIR [INSTRUMENT LIB]): a libFuzzer target NAME (with
# RCBENCH_FUZZ=ON and clang: build/bin/NAME, run by scripts/run-fuzzers) and, in every build, the
# ctest entry fuzz.NAME.corpus (with BUILD_TESTING) that replays DIR through the same entry
# point, so that every input committed to the corpus (including each crash once found) is a
# regression test. With RCBENCH_FUZZ, INSTRUMENT names the library whose code the fuzzer's
# coverage should see. The fuzzer is a build product, not a test: declare it outside
# if(BUILD_TESTING); its replay test follows BUILD_TESTING here.
function(rcbench_fuzzer name)
  cmake_parse_arguments(ARG "" "CORPUS;INSTRUMENT" "SOURCES;DEPS" ${ARGN})
  if(BUILD_TESTING)
    add_executable(${name}_replay ${ARG_SOURCES}
      ${CMAKE_SOURCE_DIR}/common/testing/fuzz_replay_main.cc)
    target_link_libraries(${name}_replay PRIVATE ${ARG_DEPS})
    set_target_properties(${name}_replay PROPERTIES
      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
    rcbench_compile_options(${name}_replay)
    add_test(NAME fuzz.${name}.corpus COMMAND ${name}_replay ${ARG_CORPUS})
    set_tests_properties(fuzz.${name}.corpus PROPERTIES LABELS unit TIMEOUT 120)
  endif()
  if(RCBENCH_FUZZ)
    if(ARG_INSTRUMENT)
      target_compile_options(${ARG_INSTRUMENT} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
    endif()
    add_executable(${name} ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE ${ARG_DEPS})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    set_property(GLOBAL APPEND PROPERTY RCBENCH_FUZZERS "${name}=${ARG_CORPUS}")
  endif()
endfunction()
