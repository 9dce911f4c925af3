# ctest `embed_install`: the core as an external project sees it. Builds the core without
# sanitizers at -O1 (incrementally, in WORK_DIR/core-build), installs it into a fresh temporary
# prefix, then configures, builds and runs native/examples/embed against that prefix with
# find_package(Sluice). Run with: cmake -DSOURCE_DIR=<native> -DWORK_DIR=<dir> -P install-test.cmake
cmake_minimum_required(VERSION 3.16)
foreach(var SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install-test.cmake needs -D${var}=...")
  endif()
endforeach()
if(NOT DEFINED JOBS)
  set(JOBS 2)
endif()

set(core_build ${WORK_DIR}/core-build)
set(prefix ${WORK_DIR}/prefix)
set(example_build ${WORK_DIR}/example-build)
file(REMOVE_RECURSE ${prefix} ${example_build})

function(step)
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "$ ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${shown}")
  endif()
endfunction()

set(fast -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1)
step(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${core_build} ${fast}
     -DSLUICE_BUILD_TESTS=OFF -DSLUICE_SANITIZE=OFF -DSLUICE_ADDON=OFF)
step(${CMAKE_COMMAND} --build ${core_build} -j ${JOBS})
step(${CMAKE_COMMAND} --install ${core_build} --prefix ${prefix})
step(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/embed -B ${example_build} ${fast}
     -DCMAKE_PREFIX_PATH=${prefix})
step(${CMAKE_COMMAND} --build ${example_build} -j ${JOBS})
step(${example_build}/embed)
