# Debian packages, built by CPack from the install() rules below (`make package`):
#   rcbench-agent    /usr/bin/rcbench-agent, its systemd unit, /etc/rcbench/agent.yaml and
#                    /etc/default/rcbench-agent (conffiles)
#   rcbench-loadgen  /usr/bin/rcbench-loadgen, its systemd unit, /etc/default/rcbench-loadgen
#   rcbench-server   /usr/bin/rcbench-server and the CGI program beside it, rcbench-cgi-spin
#   rcbench          the controller (rcbench), rcbench-rc, experiments/ and dashboards/ in
#                    /usr/share/rcbench
# Each package has a man page per binary (made from its --help at build time), its copyright
# file and changelog.Debian.gz. Dependencies come from dpkg-shlibdeps. docs/DEPLOYMENT.md,
# "Packages and systemd units", is the contract; tests/package_test.sh checks it.

set(RCBENCH_PACKAGE_MAINTAINER "rcbench maintainers <maintainers@rcbench.example.org>"
    CACHE STRING "Maintainer field of the Debian packages")
set(RCBENCH_PACKAGE_RELEASE 1 CACHE STRING "Debian revision of the packages")

set(rcbench_pkg_src ${CMAKE_SOURCE_DIR}/packaging)
set(rcbench_pkg_out ${CMAKE_BINARY_DIR}/packaging)
set(rcbench_deploy ${CMAKE_SOURCE_DIR}/deploy)

# component -> Debian package name.
set(rcbench_pkg_agent rcbench-agent)
set(rcbench_pkg_loadgen rcbench-loadgen)
set(rcbench_pkg_server rcbench-server)
set(rcbench_pkg_controller rcbench)

# rcbench_package_binary(TARGET COMPONENT SUMMARY [FILES roff-file]): installs TARGET to
# /usr/bin and its man page, made from `TARGET --help` by packaging/make-manpage.
set(rcbench_manpages "")
function(rcbench_package_binary target component summary)
  cmake_parse_arguments(ARG "" "FILES" "" ${ARGN})
  if(NOT TARGET ${target})
    message(FATAL_ERROR "packaging: target ${target} does not exist")
  endif()
  install(TARGETS ${target} RUNTIME DESTINATION /usr/bin COMPONENT ${component})
  # Packages get what the linker does not already give: immediate binding (lintian's
  # hardening-no-bindnow). Link-time only, so no object file changes.
  target_link_options(${target} PRIVATE -Wl,-z,relro,-z,now)
  set(page ${rcbench_pkg_out}/man/${target}.1.gz)
  set(files_arg "")
  if(ARG_FILES)
    set(files_arg ${ARG_FILES})
  endif()
  add_custom_command(OUTPUT ${page}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${rcbench_pkg_out}/man
    COMMAND ${rcbench_pkg_src}/make-manpage $<TARGET_FILE:${target}> ${target} ${PROJECT_VERSION}
            ${summary} ${page} ${files_arg}
    DEPENDS ${target} ${rcbench_pkg_src}/make-manpage ${files_arg}
    COMMENT "Man page of ${target} from its --help"
    VERBATIM)
  install(FILES ${page} DESTINATION /usr/share/man/man1 COMPONENT ${component})
  set(rcbench_manpages ${rcbench_manpages} ${page} PARENT_SCOPE)
endfunction()

rcbench_package_binary(rcbench-agent agent
  "per-host agent of the rcbench resource-container testbed"
  FILES ${rcbench_pkg_src}/man/rcbench-agent.files)
rcbench_package_binary(rcbench-loadgen loadgen
  "HTTP load and bounded SYN floods for the rcbench testbed"
  FILES ${rcbench_pkg_src}/man/rcbench-loadgen.files)
rcbench_package_binary(rcbench-server server
  "reference HTTP server with resource containers on or off")
rcbench_package_binary(rcbench-cgi-spin server
  "CGI program that burns a given amount of CPU time")
rcbench_package_binary(rcbench controller
  "controller of the rcbench testbed: experiments, results, reports")
rcbench_package_binary(rcbench-rc controller
  "command-line interface to rcbench resource containers")
add_custom_target(rcbench-manpages ALL DEPENDS ${rcbench_manpages})

# systemd units and their default configuration (conffiles).
install(FILES ${rcbench_deploy}/systemd/rcbench-agent.service
  DESTINATION /lib/systemd/system COMPONENT agent)
install(FILES ${rcbench_deploy}/etc/rcbench/agent.yaml DESTINATION /etc/rcbench COMPONENT agent)
install(FILES ${rcbench_deploy}/etc/default/rcbench-agent DESTINATION /etc/default COMPONENT agent)
install(FILES ${rcbench_deploy}/systemd/rcbench-loadgen.service
  DESTINATION /lib/systemd/system COMPONENT loadgen)
install(FILES ${rcbench_deploy}/etc/default/rcbench-loadgen
  DESTINATION /etc/default COMPONENT loadgen)

# The controller's data: experiment specs and dashboards (generate.py is a maintainer's tool).
install(DIRECTORY ${CMAKE_SOURCE_DIR}/experiments/ DESTINATION /usr/share/rcbench/experiments
  COMPONENT controller FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/dashboards/ DESTINATION /usr/share/rcbench/dashboards
  COMPONENT controller FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
  PATTERN generate.py EXCLUDE)

# Per package: copyright, changelog.Debian.gz, maintainer scripts and the conffiles list.
set(RCBENCH_PACKAGE_VERSION "${PROJECT_VERSION}-${RCBENCH_PACKAGE_RELEASE}")
foreach(component agent loadgen server controller)
  set(pkg ${rcbench_pkg_${component}})
  set(dir ${rcbench_pkg_out}/${component})
  configure_file(${rcbench_pkg_src}/changelog.in ${dir}/changelog.Debian @ONLY)
  add_custom_command(OUTPUT ${dir}/changelog.Debian.gz
    COMMAND gzip -9n -c ${dir}/changelog.Debian > ${dir}/changelog.Debian.gz
    DEPENDS ${dir}/changelog.Debian
    VERBATIM)
  add_custom_target(rcbench-changelog-${component} ALL DEPENDS ${dir}/changelog.Debian.gz)
  install(FILES ${rcbench_pkg_src}/copyright ${dir}/changelog.Debian.gz
    DESTINATION /usr/share/doc/${pkg} COMPONENT ${component})
endforeach()

# Units: enabled at install (debhelper's dh_installsystemd snippets, without the start: a
# fresh host has no certificates or token yet), restarted on upgrade, stopped on removal.
set(rcbench_control_agent "")
set(rcbench_control_loadgen "")
foreach(component agent loadgen)
  set(UNIT ${rcbench_pkg_${component}}.service)
  set(PURGE_DIRS "")
  if(component STREQUAL "agent")
    set(PURGE_DIRS "/var/lib/rcbench-agent")
  endif()
  set(dir ${rcbench_pkg_out}/${component})
  foreach(script postinst prerm postrm)
    configure_file(${rcbench_pkg_src}/${script}.in ${dir}/${script} @ONLY
      FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                       WORLD_READ WORLD_EXECUTE)
    list(APPEND rcbench_control_${component} ${dir}/${script})
  endforeach()
endforeach()
file(WRITE ${rcbench_pkg_out}/agent/conffiles "/etc/default/rcbench-agent\n/etc/rcbench/agent.yaml\n")
file(WRITE ${rcbench_pkg_out}/loadgen/conffiles "/etc/default/rcbench-loadgen\n")
list(APPEND rcbench_control_agent ${rcbench_pkg_out}/agent/conffiles)
list(APPEND rcbench_control_loadgen ${rcbench_pkg_out}/loadgen/conffiles)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME rcbench)
set(CPACK_PACKAGE_VENDOR "rcbench")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)
set(CPACK_COMPONENTS_ALL agent loadgen server controller)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${RCBENCH_PACKAGE_RELEASE})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${RCBENCH_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME rcbench-agent)
set(CPACK_DEBIAN_AGENT_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS rcbench-server)
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA "${rcbench_control_agent}")
set(CPACK_DEBIAN_AGENT_DESCRIPTION
  "per-host agent of the rcbench resource-container testbed
rcbench measures how well Linux cgroups isolate and prioritise work under
overload, after the resource containers of Banga, Druschel and Mogul.
.
The agent runs on every host under test: it samples the usage of each
container and the host's kernel counters, streams them over gRPC and
Prometheus, administers containers, starts the services its own
configuration declares and sets allow-listed sysctls. This package has a
systemd unit; it needs a token and TLS certificates in /etc/rcbench.")

set(CPACK_DEBIAN_LOADGEN_PACKAGE_NAME rcbench-loadgen)
set(CPACK_DEBIAN_LOADGEN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_LOADGEN_PACKAGE_CONTROL_EXTRA "${rcbench_control_loadgen}")
set(CPACK_DEBIAN_LOADGEN_DESCRIPTION
  "HTTP load and bounded SYN floods for the rcbench testbed
rcbench measures how well Linux cgroups isolate and prioritise work under
overload, after the resource containers of Banga, Druschel and Mogul.
.
The load generator drives S-Client, open-loop and closed-loop HTTP load in
priority classes and bounded SYN floods to allow-listed targets, from the
command line or under a lease from the rcbench controller. This package has
a systemd unit; it needs a token and TLS certificates in /etc/rcbench.")

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME rcbench-server)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION httpd)
set(CPACK_DEBIAN_SERVER_DESCRIPTION
  "reference HTTP server of the rcbench testbed
rcbench measures how well Linux cgroups isolate and prioritise work under
overload, after the resource containers of Banga, Druschel and Mogul.
.
The reference server serves static files and CGI programs over HTTP/1.1,
with resource containers off or on (per-class kernel containers, SYN
filters, virtual servers). rcbench-cgi-spin, a CGI program that burns a
given amount of CPU time, comes with it. The rcbench agent starts the server
for each experiment.")

set(CPACK_DEBIAN_CONTROLLER_PACKAGE_NAME rcbench)
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_RECOMMENDS "rcbench-agent, rcbench-loadgen, rcbench-server")
set(CPACK_DEBIAN_CONTROLLER_DESCRIPTION
  "controller of the rcbench resource-container testbed
rcbench measures how well Linux cgroups isolate and prioritise work under
overload, after the resource containers of Banga, Druschel and Mogul.
.
The controller runs experiment matrices on one host or across a lab of
agents and load generators, keeps every result in SQLite, draws the paper's
figures and compares kernels statistically. rcbench-rc drives resource
containers by hand. The experiment specs and the Grafana dashboards are in
/usr/share/rcbench.")

include(CPack)
