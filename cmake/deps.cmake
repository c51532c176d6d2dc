# deps.cmake - finds the real packages and prints one line per dependency:
# found (version, path) or missing (and which feature that disables).
include(FindPkgConfig)

function(assort_dep_line name status detail)
  message(STATUS "assort dependency: ${name} ${status} (${detail})")
endfunction()

# --- MPI (Open MPI) --------------------------------------------------------
find_package(MPI REQUIRED COMPONENTS C)
assort_dep_line("MPI" "found" "version ${MPI_C_VERSION}, ${MPI_C_LIBRARIES}")

# --- parallel HDF5 (libhdf5-openmpi-dev) ------------------------------------
pkg_check_modules(HDF5MPI REQUIRED IMPORTED_TARGET hdf5-openmpi)
# hdf5-openmpi.pc lacks the high-level library; we only use the core API.
assort_dep_line("parallel HDF5" "found" "version ${HDF5MPI_VERSION}, ${HDF5MPI_LINK_LIBRARIES}")

# --- libyaml, OpenBLAS, libjpeg-turbo, libpng, xxHash, utf8proc --------------
foreach(dep IN ITEMS "YAML:yaml-0.1:configs" "OPENBLAS:openblas:CPU backbone, kNN"
                     "JPEG:libjpeg:JPEG decoding" "PNG:libpng:PNG decoding"
                     "XXHASH:libxxhash:content hashes" "UTF8PROC:libutf8proc:name normalisation")
  string(REPLACE ":" ";" parts "${dep}")
  list(GET parts 0 var)
  list(GET parts 1 pc)
  list(GET parts 2 feature)
  pkg_check_modules(${var} IMPORTED_TARGET ${pc})
  if(${var}_FOUND)
    assort_dep_line("${pc}" "found" "version ${${var}_VERSION}, ${${var}_LINK_LIBRARIES}")
  else()
    assort_dep_line("${pc}" "MISSING" "needed for ${feature}; run tools/setup-deps")
    message(FATAL_ERROR "${pc} is required (install it with tools/setup-deps)")
  endif()
endforeach()

find_package(OpenMP REQUIRED COMPONENTS C)
assort_dep_line("OpenMP" "found" "version ${OpenMP_C_VERSION}")
find_library(MATH_LIB m)

# --- CUDA toolkit, cuDNN, NCCL (optional) ----------------------------------
set(ASSORT_HAVE_CUDA OFF)
if(NOT ASSORT_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    find_package(CUDAToolkit)
  endif()
  if(CUDAToolkit_FOUND)
    find_library(CUDNN_LIB cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
    find_library(NCCL_LIB nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
    find_path(CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
    find_path(NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
  endif()
  if(CUDAToolkit_FOUND AND CUDNN_LIB AND NCCL_LIB AND CUDNN_INCLUDE AND NCCL_INCLUDE)
    set(ASSORT_HAVE_CUDA ON)
    assort_dep_line("CUDA toolkit" "found" "version ${CUDAToolkit_VERSION}, ${CUDAToolkit_BIN_DIR}")
    assort_dep_line("cuDNN" "found" "${CUDNN_LIB}")
    assort_dep_line("NCCL" "found" "${NCCL_LIB}")
  else()
    set(why "")
    if(NOT CUDAToolkit_FOUND)
      set(why "nvcc/CUDA toolkit not found")
    elseif(NOT CUDNN_LIB OR NOT CUDNN_INCLUDE)
      set(why "cuDNN not found")
    else()
      set(why "NCCL not found")
    endif()
    assort_dep_line("CUDA/cuDNN/NCCL" "MISSING" "${why}; GPU backbone and NCCL allreduce disabled")
    if(ASSORT_CUDA STREQUAL "ON")
      message(FATAL_ERROR "ASSORT_CUDA=ON but ${why}")
    endif()
  endif()
else()
  assort_dep_line("CUDA/cuDNN/NCCL" "disabled" "ASSORT_CUDA=OFF; GPU backbone and NCCL allreduce disabled")
endif()
