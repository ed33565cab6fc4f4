# Dependencies from Debian 12 packages; scripts/install-deps installs them.
find_package(PkgConfig REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS C)
find_package(ZLIB REQUIRED)
find_package(PNG REQUIRED)
pkg_check_modules(PLPLOT REQUIRED IMPORTED_TARGET plplot)
pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET fftw3f)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(FFTW3 REQUIRED IMPORTED_TARGET fftw3)
pkg_check_modules(LAPACKE REQUIRED IMPORTED_TARGET lapacke)

# The OpenMP build of OpenBLAS (Debian libopenblas-openmp-dev), named by its own
# directory rather than through the libblas/cblas.h alternatives, which could
# point at the pthreads build (two thread pools fighting the OpenMP one) or at
# the reference BLAS. Called from inside an OpenMP parallel region it runs
# single-threaded.
set(FSCI_OPENBLAS_SUBDIR ${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp)
find_path(OPENBLAS_OPENMP_INCLUDE_DIR cblas.h PATHS /usr/include/${FSCI_OPENBLAS_SUBDIR} NO_DEFAULT_PATH)
find_library(OPENBLAS_OPENMP_LIBRARY openblas PATHS /usr/lib/${FSCI_OPENBLAS_SUBDIR} NO_DEFAULT_PATH)
if(NOT OPENBLAS_OPENMP_INCLUDE_DIR OR NOT OPENBLAS_OPENMP_LIBRARY)
  message(FATAL_ERROR "OpenMP OpenBLAS not found: run scripts/install-deps (Debian package libopenblas-openmp-dev)")
endif()

find_path(RANDOM123_INCLUDE_DIR Random123/philox.h)
if(NOT RANDOM123_INCLUDE_DIR)
  message(FATAL_ERROR "Random123 headers not found: run scripts/install-deps (Debian package librandom123-dev)")
endif()

# Equinor's segyio (Debian libsegyio-dev): SEG-Y headers, IBM/IEEE conversion, trace I/O.
find_path(SEGYIO_INCLUDE_DIR segyio/segy.h)
find_library(SEGYIO_LIBRARY segyio)
if(NOT SEGYIO_INCLUDE_DIR OR NOT SEGYIO_LIBRARY)
  message(FATAL_ERROR "segyio not found: run scripts/install-deps (Debian package libsegyio-dev)")
endif()

# libtiff (Debian libtiff-dev): multi-page TIFF stacks in and out.
pkg_check_modules(TIFF REQUIRED IMPORTED_TARGET libtiff-4)

# oneDNN (Debian libdnnl-dev, OpenMP runtime): convolutions of the nn module.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h)
find_library(DNNL_LIBRARY dnnl)
if(NOT DNNL_INCLUDE_DIR OR NOT DNNL_LIBRARY)
  message(FATAL_ERROR "oneDNN not found: run scripts/install-deps (Debian package libdnnl-dev)")
endif()

add_library(fsci_deps INTERFACE)
target_include_directories(fsci_deps SYSTEM INTERFACE ${RANDOM123_INCLUDE_DIR} ${OPENBLAS_OPENMP_INCLUDE_DIR}
  ${SEGYIO_INCLUDE_DIR} ${DNNL_INCLUDE_DIR})
target_link_libraries(fsci_deps INTERFACE OpenMP::OpenMP_C ZLIB::ZLIB PNG::PNG PkgConfig::PLPLOT PkgConfig::FFTW3F
  PkgConfig::FFTW3 PkgConfig::LAPACKE ${OPENBLAS_OPENMP_LIBRARY} PkgConfig::JANSSON ${SEGYIO_LIBRARY}
  PkgConfig::TIFF ${DNNL_LIBRARY} m)

# OpenMPI (Debian libopenmpi-dev): used when installed; without it there is one rank.
if(FSCI_WITH_MPI)
  find_package(MPI QUIET COMPONENTS C)
  if(MPI_C_FOUND)
    target_link_libraries(fsci_deps INTERFACE MPI::MPI_C)
    target_compile_definitions(fsci_deps INTERFACE FSCI_HAVE_MPI=1)
    find_program(FSCI_MPIEXEC NAMES mpirun mpiexec)
  else()
    message(STATUS "MPI not found: building without it (scripts/install-deps installs OpenMPI)")
  endif()
endif()
