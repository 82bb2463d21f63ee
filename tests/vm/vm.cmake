# tests/vm/vm.cmake: CTest integration of the multi-node VM harness (tests/vm/numaslab-vm).
#
# Included by tests/CMakeLists.txt before the module folders. Registering a test is one line:
#
#   numaslab_add_vm_test(NAME <name> SPEC <spec> [TIMEOUT <sec>] [MEMS <nodes>]
#                        COMMAND <target-or-path> [args...] [OPTIONS <numaslab-vm options...>]
#                        [LABELS <more labels...>])
#
#   SPEC     a name in tests/vm/specs/ (four, mixed, eight) or a spec file
#   TIMEOUT  seconds for the guest, boot included (default 300); CTest's own limit is 120 s more
#            (room for one boot that hangs and is retried by the harness's boot watchdog)
#   MEMS     run the command in a cgroup v2 cpuset with these memory nodes (e.g. 0-1)
#   COMMAND  a target defined before this call (replaced by its file) or a path; its arguments follow
#   OPTIONS  passed to numaslab-vm itself, e.g. --env LD_PRELOAD=... or --append numa_balancing=disable
#
# Every test gets the label numa-vm, SKIP_RETURN_CODE 77 (NUMASLAB_SKIP_VM=1 shows as skipped, with
# the reason in its output) and needs the fixture numaslab_vm, whose setup test numa_vm_prepare
# installs packages, fetches the kernel and builds the initramfs once, under its own time limit.
# tests/vm/README.md has the details and the measurements behind the concurrency choice.

set(NUMASLAB_VM_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "tests/vm source folder")
set(NUMASLAB_VM_RUNNER ${CMAKE_CURRENT_LIST_DIR}/numaslab-vm CACHE INTERNAL "VM test runner")

function(numaslab_add_vm_test)
  cmake_parse_arguments(PARSE_ARGV 0 VM "" "NAME;SPEC;TIMEOUT;MEMS" "COMMAND;OPTIONS;LABELS")
  if(VM_UNPARSED_ARGUMENTS OR NOT VM_NAME OR NOT VM_SPEC OR NOT VM_COMMAND)
    message(FATAL_ERROR "numaslab_add_vm_test(NAME <name> SPEC <spec> [TIMEOUT <sec>] "
                        "[MEMS <nodes>] COMMAND <cmd> [args...]): got '${ARGN}'")
  endif()
  if(NOT EXISTS ${NUMASLAB_VM_DIR}/specs/${VM_SPEC} AND NOT EXISTS ${VM_SPEC})
    message(FATAL_ERROR "numaslab_add_vm_test(${VM_NAME}): no spec '${VM_SPEC}' "
                        "in ${NUMASLAB_VM_DIR}/specs")
  endif()
  if(NOT VM_TIMEOUT)
    set(VM_TIMEOUT 300)
  endif()

  list(POP_FRONT VM_COMMAND cmd)
  if(TARGET ${cmd})
    set(cmd $<TARGET_FILE:${cmd}>)
  endif()
  set(runner_args --spec ${VM_SPEC} --timeout ${VM_TIMEOUT} --builddir ${CMAKE_BINARY_DIR})
  if(VM_MEMS)
    list(APPEND runner_args --mems ${VM_MEMS})
  endif()
  add_test(NAME ${VM_NAME}
           COMMAND ${NUMASLAB_VM_RUNNER} ${runner_args} ${VM_OPTIONS} -- ${cmd} ${VM_COMMAND})

  # PROCESSORS 1: under TCG a guest keeps about one host core busy, and two guests side by side on
  # the 2-core machine finish in ~70% of the serial time, so ctest -j2 may run two of them.
  # CTest's limit covers the guest's TIMEOUT, one hung boot killed by the harness's boot watchdog
  # (NUMASLAB_VM_BOOT_TIMEOUT, 60 s) and 60 s of slack.
  math(EXPR ctest_timeout "${VM_TIMEOUT} + 120")
  set_tests_properties(${VM_NAME} PROPERTIES
    LABELS "numa-vm;${VM_LABELS}"
    TIMEOUT ${ctest_timeout}
    SKIP_RETURN_CODE 77
    FIXTURES_REQUIRED numaslab_vm
    PROCESSORS 1)
endfunction()

# Setup of the numaslab_vm fixture: a fresh machine downloads ~75 MB and may install QEMU here.
add_test(NAME numa_vm_prepare COMMAND ${NUMASLAB_VM_RUNNER} --prepare)
set_tests_properties(numa_vm_prepare PROPERTIES
  LABELS numa-vm TIMEOUT 1800 SKIP_RETURN_CODE 77 FIXTURES_SETUP numaslab_vm)

# ---- the harness's own test: topology and placement as each spec promises -------------------
add_executable(vm_selftest ${CMAKE_CURRENT_LIST_DIR}/vm_selftest.c)
target_link_libraries(vm_selftest PRIVATE numa)
set_target_properties(vm_selftest PROPERTIES C_STANDARD 11 C_EXTENSIONS ON)
if(COMMAND numaslab_warnings)
  numaslab_warnings(vm_selftest)
endif()

numaslab_add_vm_test(NAME vm_selftest_four SPEC four TIMEOUT 120 COMMAND vm_selftest four)
numaslab_add_vm_test(NAME vm_selftest_mixed SPEC mixed TIMEOUT 120 COMMAND vm_selftest mixed)
numaslab_add_vm_test(NAME vm_selftest_eight SPEC eight TIMEOUT 120 COMMAND vm_selftest eight)
# The boot watchdog: the first boot hangs on purpose before the command; the harness must kill it
# within the boot timeout, boot again and report the command's own status (vm_selftest passes).
numaslab_add_vm_test(NAME vm_boot_watchdog SPEC four TIMEOUT 120 COMMAND vm_selftest four)
set_property(TEST vm_boot_watchdog APPEND PROPERTY ENVIRONMENT
             NUMASLAB_VM_HANG_BOOTS=1 NUMASLAB_VM_BOOT_TIMEOUT=25)
set_property(TEST vm_boot_watchdog PROPERTY PASS_REGULAR_EXPRESSION
             "did not reach the command within 25 s .boot 1 of 3.*hanging on purpose.*exit status 0, guest ran [0-9.]+s .boot [23].")
numaslab_add_vm_test(NAME vm_selftest_cpuset SPEC four MEMS 0-1 TIMEOUT 120
                     COMMAND vm_selftest --cpuset four 0-1)
