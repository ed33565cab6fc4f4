# Dependencies from Debian 12 packages; scripts/install-deps installs them.
find_package(PkgConfig REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS C)
find_package(ZLIB REQUIRED)
find_package(PNG REQUIRED)
pkg_check_modules(PLPLOT REQUIRED IMPORTED_TARGET plplot)
pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET fftw3f)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)

find_path(RANDOM123_INCLUDE_DIR Random123/philox.h)
if(NOT RANDOM123_INCLUDE_DIR)
  message(FATAL_ERROR "Random123 headers not found: run scripts/install-deps (Debian package librandom123-dev)")
endif()

add_library(fsci_deps INTERFACE)
target_include_directories(fsci_deps SYSTEM INTERFACE ${RANDOM123_INCLUDE_DIR})
target_link_libraries(fsci_deps INTERFACE OpenMP::OpenMP_C ZLIB::ZLIB PNG::PNG PkgConfig::PLPLOT PkgConfig::FFTW3F m)
target_link_libraries(fsci_deps INTERFACE PkgConfig::JANSSON)

if(FSCI_WITH_MPI)
  find_package(MPI REQUIRED COMPONENTS C)
  target_link_libraries(fsci_deps INTERFACE MPI::MPI_C)
  target_compile_definitions(fsci_deps INTERFACE FSCI_HAVE_MPI=1)
endif()
