# install(): the binaries and the C++ client SDK as a CMake package and a pkg-config file
# (README.md, "Using the C++ SDK in your application"). Included by the top CMakeLists.txt
# after every target is defined.
#
#   cmake --install build --prefix P   installs
#     P/bin/{qkvd,qkvctl,qkv-bench}
#     P/lib/libqkv_*.a                      qkv_client and every project library it links
#     P/include/qkv/...                     the SDK's headers and the project headers they
#                                           include, at the paths they are included by
#                                           ("common/status.h")
#     P/lib/cmake/qkv/qkvConfig.cmake ...   find_package(qkv CONFIG) -> qkv::client
#     P/lib/pkgconfig/qkv.pc                pkg-config --static --cflags --libs qkv
#   Components: `bin` (the programs) and `sdk` (the rest): --component sdk installs only the SDK.
#
# Nothing here lists source files: the libraries are found by walking qkv_client's link
# interface, and the headers by asking the compiler what the SDK's public headers include
# (cmake/QkvInstallHeaders.cmake), so files added to client/ need no change here.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The SDK's public headers: what an application includes. Every project header they include,
# directly or not, is installed with them.
set(QKV_SDK_HEADERS client/client.h client/async_client.h client/cluster_client.h)

# What an external dependency of the SDK's libraries needs in qkvConfig.cmake (find_package
# of it) and in qkv.pc (its pkg-config modules, or flags). Keyed by the imported target's
# namespace: a dependency missing here stops the configure, so a new one is never silently
# left out of the package.
set(QKV_DEP_fmt_FIND "find_dependency(fmt)")
set(QKV_DEP_fmt_PC "fmt")
set(QKV_DEP_CapnProto_FIND "find_dependency(CapnProto)")
set(QKV_DEP_CapnProto_PC "capnp kj")
set(QKV_DEP_OpenSSL_FIND "find_dependency(OpenSSL 3)")
set(QKV_DEP_OpenSSL_PC "libssl libcrypto")
set(QKV_DEP_Boost_FIND "find_dependency(Boost)")
set(QKV_DEP_Boost_PC "")  # header-only use (Asio): in the default include path on Debian
set(QKV_DEP_Threads_FIND "find_dependency(Threads)")
set(QKV_DEP_Threads_PC "")
set(QKV_DEP_Threads_LIBS "-pthread")
set(QKV_DEP_nlohmann_json_FIND "find_dependency(nlohmann_json)")
set(QKV_DEP_nlohmann_json_PC "nlohmann_json")
set(QKV_DEP_spdlog_FIND "find_dependency(spdlog)")
set(QKV_DEP_spdlog_PC "spdlog")
set(QKV_DEP_PkgConfig_FIND
    "find_dependency(PkgConfig)\npkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)")
set(QKV_DEP_PkgConfig_PC "libxxhash")

# The closure of qkv_client's link interface: project libraries (depth-first, each after
# every library that links it, so the list is in static link order) and external targets.
set(qkv_sdk_libraries "")
set(qkv_sdk_externals "")
function(qkv_collect_link_closure target)
  get_target_property(deps ${target} INTERFACE_LINK_LIBRARIES)
  if(NOT deps)
    set(deps "")
  endif()
  foreach(dep IN LISTS deps)
    if(dep MATCHES "^\\$<LINK_ONLY:(.*)>$")
      set(dep "${CMAKE_MATCH_1}")
    endif()
    if(NOT TARGET ${dep})
      message(FATAL_ERROR "qkv install: ${target} links '${dep}', which is not a target; link "
                          "an imported target so that the package can name its find_package")
    endif()
    get_target_property(imported ${dep} IMPORTED)
    if(imported)
      get_target_property(aliased ${dep} ALIASED_TARGET)
      if(aliased)
        set(dep ${aliased})
      endif()
      set_property(GLOBAL APPEND PROPERTY QKV_SDK_EXTERNALS ${dep})
    else()
      qkv_collect_link_closure(${dep})
    endif()
  endforeach()
  get_property(seen GLOBAL PROPERTY QKV_SDK_LIBRARIES)
  if(NOT target IN_LIST seen)
    set_property(GLOBAL PROPERTY QKV_SDK_LIBRARIES ${target} ${seen})
  endif()
endfunction()
qkv_collect_link_closure(qkv_client)
get_property(qkv_sdk_libraries GLOBAL PROPERTY QKV_SDK_LIBRARIES)
get_property(qkv_sdk_externals GLOBAL PROPERTY QKV_SDK_EXTERNALS)
list(REMOVE_DUPLICATES qkv_sdk_externals)

# Consumers build with C++20 and see the installed headers at their include paths.
target_compile_features(qkv_client PUBLIC cxx_std_20)
target_include_directories(qkv_common INTERFACE
                           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/qkv>)
add_library(qkv::client ALIAS qkv_client)

# The external dependencies, as find_dependency lines and pkg-config modules.
set(QKV_FIND_DEPENDENCIES "")
set(QKV_PC_REQUIRES "")
set(QKV_PC_LIBS_PRIVATE "")
set(qkv_dep_namespaces "")
foreach(dep IN LISTS qkv_sdk_externals)
  string(REGEX REPLACE "::.*$" "" namespace "${dep}")
  list(APPEND qkv_dep_namespaces ${namespace})
endforeach()
list(REMOVE_DUPLICATES qkv_dep_namespaces)
foreach(namespace IN LISTS qkv_dep_namespaces)
  if(NOT DEFINED QKV_DEP_${namespace}_FIND)
    message(FATAL_ERROR "qkv install: the SDK links ${namespace}:: targets; say how a consumer "
                        "finds them (QKV_DEP_${namespace}_*) in cmake/QkvInstall.cmake")
  endif()
  string(APPEND QKV_FIND_DEPENDENCIES "${QKV_DEP_${namespace}_FIND}\n")
  string(APPEND QKV_PC_REQUIRES " ${QKV_DEP_${namespace}_PC}")
  if(DEFINED QKV_DEP_${namespace}_LIBS)
    string(APPEND QKV_PC_LIBS_PRIVATE " ${QKV_DEP_${namespace}_LIBS}")
  endif()
endforeach()
string(REGEX REPLACE " +" " " QKV_PC_REQUIRES "${QKV_PC_REQUIRES}")
string(STRIP "${QKV_PC_REQUIRES}" QKV_PC_REQUIRES)
string(STRIP "${QKV_PC_LIBS_PRIVATE}" QKV_PC_LIBS_PRIVATE)

# Libraries in static link order for qkv.pc: qkv_client first, what it needs after.
set(QKV_PC_LIBS "")
foreach(lib IN LISTS qkv_sdk_libraries)
  string(APPEND QKV_PC_LIBS " -l${lib}")
endforeach()
string(STRIP "${QKV_PC_LIBS}" QKV_PC_LIBS)

# Names in the package: qkv::client, qkv::net, qkv::proto, ... (qkv_<name> here).
foreach(lib IN LISTS qkv_sdk_libraries)
  string(REGEX REPLACE "^qkv_" "" export_name "${lib}")
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${export_name})
endforeach()

install(TARGETS qkvd qkvctl qkv-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bin)
install(TARGETS ${qkv_sdk_libraries} EXPORT qkvTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/qkv)
set(qkv_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/qkv)
install(EXPORT qkvTargets NAMESPACE qkv:: DESTINATION ${qkv_cmake_dir} COMPONENT sdk)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/qkvConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/package/qkvConfig.cmake
                              INSTALL_DESTINATION ${qkv_cmake_dir})
# 0.x: a minor release may change the SDK (semantic versioning's initial development).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/qkvConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/qkvConfig.cmake
              ${PROJECT_BINARY_DIR}/package/qkvConfigVersion.cmake
        DESTINATION ${qkv_cmake_dir} COMPONENT sdk)

# qkv.pc: its prefix is relative to the .pc file, since --prefix is chosen at install time.
file(RELATIVE_PATH QKV_PC_PREFIX_FROM_PCFILEDIR /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" QKV_PC_PREFIX_FROM_PCFILEDIR "${QKV_PC_PREFIX_FROM_PCFILEDIR}")
get_target_property(qkv_sdk_definitions qkv_client INTERFACE_COMPILE_DEFINITIONS)
set(QKV_PC_CFLAGS "-std=c++20")
foreach(definition IN LISTS qkv_sdk_definitions)
  string(APPEND QKV_PC_CFLAGS " -D${definition}")
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/qkv.pc.in ${PROJECT_BINARY_DIR}/package/qkv.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/package/qkv.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT sdk)

# The headers, found by the compiler at install time (after the build generated
# proto/*.capnp.h and common/version.h).
set(qkv_header_flags -std=c++20 -I${PROJECT_SOURCE_DIR} -I${PROJECT_BINARY_DIR}
                     -I${PROJECT_BINARY_DIR}/generated)
foreach(definition IN LISTS qkv_sdk_definitions)
  list(APPEND qkv_header_flags -D${definition})
endforeach()
install(CODE "
  set(QKV_CXX \"${CMAKE_CXX_COMPILER}\")
  set(QKV_HEADER_FLAGS \"${qkv_header_flags}\")
  set(QKV_SDK_HEADERS \"${QKV_SDK_HEADERS}\")
  set(QKV_BINARY_DIR \"${PROJECT_BINARY_DIR}\")
  set(QKV_ROOTS \"${PROJECT_BINARY_DIR}/generated;${PROJECT_BINARY_DIR};${PROJECT_SOURCE_DIR}\")
  set(QKV_HEADER_DESTINATION \"${CMAKE_INSTALL_INCLUDEDIR}/qkv\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/QkvInstallHeaders.cmake\")
" COMPONENT sdk)
