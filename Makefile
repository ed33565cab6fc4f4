# Front door. Every target installs what is missing first, then drives CMake/CTest.
BUILD    ?= build
JOBS     ?= 2
CMAKE_FLAGS ?=
ifeq ($(CI),true)
CMAKE_FLAGS += -DFSCI_WERROR=ON
endif

.PHONY: all deps build test demo bench validate test-sanitize fuzz format format-check clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

demo: build
	@$(BUILD)/fastsci demo --output report
	@echo "report written to report/index.html"

bench: build
	@PYTHONPATH=$(BUILD)/python FSCI_CLI=$(BUILD)/fastsci /usr/bin/python3 bench/run.py

validate: build
	@PYTHONPATH=$(BUILD)/python FSCI_CLI=$(BUILD)/fastsci /usr/bin/python3 scripts/validate.py

# OpenMPI itself is not LeakSanitizer-clean: the mpi-labelled tests are left out here.
test-sanitize: deps
	@cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFSCI_SANITIZE=ON -DFSCI_WITH_PYTHON=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-sanitize -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp ctest --test-dir build-sanitize --output-on-failure -j $(JOBS) -LE "browser|python|mpi"

# Every libFuzzer target in fuzz/ for $(FUZZ_SECONDS) seconds each (default 60), from generated seeds
# (fuzz/make_seeds.py) and fuzz/corpus; new inputs go to build-fuzz/corpus/<target>.
FUZZ_TARGETS = fuzz_npy fuzz_npz fuzz_png fuzz_segy fuzz_tiff fuzz_qdot_weights
fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFSCI_FUZZ=ON -DFSCI_WITH_PYTHON=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	@/usr/bin/python3 fuzz/make_seeds.py build-fuzz/seeds
	@set -e; for t in $(FUZZ_TARGETS); do \
	    case $$t in \
	        fuzz_png) seeds=build-fuzz/seeds/png ;; \
	        fuzz_segy) seeds=build-fuzz/seeds/segy ;; \
	        fuzz_tiff) seeds=build-fuzz/seeds/tiff ;; \
	        fuzz_qdot_weights) seeds=build-fuzz/seeds/qdot ;; \
	        *) seeds="fuzz/corpus build-fuzz/seeds/npz" ;; \
	    esac; \
	    mkdir -p build-fuzz/corpus/$$t; \
	    echo "== $$t: $${FUZZ_SECONDS:-60} s"; \
	    build-fuzz/fuzz/$$t -max_total_time=$${FUZZ_SECONDS:-60} -print_final_stats=1 build-fuzz/corpus/$$t $$seeds; \
	done

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

# Fails (and names the files) when any tracked C file differs from .clang-format's layout.
format-check: deps
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf $(BUILD) build-sanitize build-fuzz report
