# The include rules that keep the kernels off the engine's upper floors (kernels/README.md, "The
# vocabulary"), checked by ctest include_rules (label unit) on the sources as they are:
#  1. a vocabulary header (engine/op_params.hpp, op_dims.hpp, op_checks.hpp, error.hpp, ...)
#     includes only standard headers (<name>, no extension, no folder) and other vocabulary headers;
#  2. a file under kernels/ includes from engine/ only the vocabulary and the CPU BLAS/LAPACK
#     wrappers the emulation runs for cuBLAS/cuSOLVER: never engine/backend.hpp, engine/cpu/, the
#     backends or the file formats.
# Usage: cmake -DSOURCE_DIR=<tree> -DVOCABULARY=a.hpp,b.hpp -DKERNEL_ALSO=c.hpp,d.hpp -P check_includes.cmake
# Prints every broken rule, then "include_rules: N broken" and fails, or "include_rules: hold ...".
cmake_minimum_required(VERSION 3.24)
foreach(required SOURCE_DIR VOCABULARY)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "check_includes.cmake: -D${required}=... is required")
  endif()
endforeach()
string(REPLACE "," ";" vocabulary "${VOCABULARY}")
string(REPLACE "," ";" kernel_also "${KERNEL_ALSO}")
string(REPLACE "," ", " vocabulary_text "${VOCABULARY}")
string(REPLACE "," ", " kernel_also_text "${KERNEL_ALSO}")
set(broken 0)

# The targets of the file's #include lines: quoted ones as "path", angle ones as <path>.
function(read_includes file out)
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  set(includes)
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*([<\"][^>\"]*[>\"]).*$" "\\1" target "${line}")
    list(APPEND includes "${target}")
  endforeach()
  set(${out} "${includes}" PARENT_SCOPE)
endfunction()

foreach(header IN LISTS vocabulary)
  if(NOT EXISTS "${SOURCE_DIR}/${header}")
    message("include rule broken: vocabulary header ${header} does not exist")
    math(EXPR broken "${broken} + 1")
    continue()
  endif()
  read_includes("${SOURCE_DIR}/${header}" includes)
  foreach(target IN LISTS includes)
    string(REGEX REPLACE "^[<\"](.*)[>\"]$" "\\1" path "${target}")
    if(target MATCHES "^<")
      if(path MATCHES "[./]")
        message("include rule broken: ${header} includes ${target}: a vocabulary header includes "
                "only the C++ standard library and the other vocabulary headers")
        math(EXPR broken "${broken} + 1")
      endif()
    elseif(NOT path IN_LIST vocabulary)
      message("include rule broken: ${header} includes ${target}: a vocabulary header includes "
              "only the C++ standard library and the other vocabulary headers (${vocabulary_text})")
      math(EXPR broken "${broken} + 1")
    endif()
  endforeach()
endforeach()

file(GLOB_RECURSE kernel_files RELATIVE "${SOURCE_DIR}"
     "${SOURCE_DIR}/kernels/*.cu" "${SOURCE_DIR}/kernels/*.cuh" "${SOURCE_DIR}/kernels/*.hpp"
     "${SOURCE_DIR}/kernels/*.cpp" "${SOURCE_DIR}/kernels/*.h")
list(SORT kernel_files)
foreach(file IN LISTS kernel_files)
  read_includes("${SOURCE_DIR}/${file}" includes)
  foreach(target IN LISTS includes)
    string(REGEX REPLACE "^[<\"](.*)[>\"]$" "\\1" path "${target}")
    if(NOT target MATCHES "^\"engine/")
      continue()
    endif()
    if(path IN_LIST vocabulary OR path IN_LIST kernel_also)
      continue()
    endif()
    set(why "")
    if(path STREQUAL "engine/backend.hpp")
      set(why " (the Backend interface, and through it the PCA headers)")
    elseif(path MATCHES "^engine/cpu/")
      set(why " (the CPU backend)")
    endif()
    message("include rule broken: ${file} includes ${target}${why}: kernels include from engine/ "
            "only the vocabulary (${vocabulary_text}) and ${kernel_also_text}")
    math(EXPR broken "${broken} + 1")
  endforeach()
endforeach()

list(LENGTH vocabulary vocabulary_count)
list(LENGTH kernel_files kernel_count)
if(broken GREATER 0)
  message(FATAL_ERROR "include_rules: ${broken} broken")
endif()
message("include_rules: hold for ${vocabulary_count} vocabulary headers and ${kernel_count} files under kernels/")
