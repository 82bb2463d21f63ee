# Install the built project into WORK/prefix and build tests/consumer against it.
file(REMOVE_RECURSE ${WORK})
string(REPLACE ";" " " SANFLAGS_SPACED "${SANFLAGS}")
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BIN} --prefix ${WORK}/prefix
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "install failed: ${rc}")
endif()
# The manual pages are installed (numaslab-run(1), numaslab(3)).
foreach(page share/man/man1/numaslab-run.1 share/man/man3/numaslab.3)
  if(NOT EXISTS ${WORK}/prefix/${page})
    message(FATAL_ERROR "not installed: ${page}")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC}/tests/consumer -B ${WORK}/build
                        -DCMAKE_PREFIX_PATH=${WORK}/prefix
                        # a sanitized library needs its runtime in the consumer
                        "-DCMAKE_EXE_LINKER_FLAGS=${SANFLAGS_SPACED}"
                        RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "find_package(numaslab CONFIG REQUIRED) failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "consumer build failed: ${rc}")
endif()
file(GLOB libdirs ${WORK}/prefix/lib*)
execute_process(COMMAND ${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${WORK}/prefix/lib:${WORK}/prefix/lib64:${WORK}/prefix/lib/x86_64-linux-gnu"
                        ${WORK}/build/consumer RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "consumer run failed: ${rc}")
endif()
