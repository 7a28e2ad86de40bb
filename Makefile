# The README's two commands: `make run` and `make test`. Everything else is a convenience.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
RCBENCH_WERROR ?= OFF
CMAKE_FLAGS ?=
CTEST_FLAGS ?=

# One clang build for the fuzzers and the sanitizer suite (AddressSanitizer and
# UndefinedBehaviorSanitizer everywhere, libFuzzer on the fuzz targets).
SANITIZE_DIR ?= build-sanitize
SANITIZE_FLAGS = -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DRCBENCH_SANITIZE=address,undefined -DRCBENCH_FUZZ=ON -DRCBENCH_BENCHMARKS=OFF
FUZZ_SECONDS ?= 60

.PHONY: all bootstrap configure build test run bench package format format-check clean fuzz sanitize-test

all: build

bootstrap:
	@./scripts/bootstrap

configure: bootstrap
	@cmake -S . -B $(BUILD_DIR) -DRCBENCH_WERROR=$(RCBENCH_WERROR) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_FLAGS)

run: build
	@./scripts/run-default-experiment $(BUILD_DIR)

bench: build
	@./scripts/run-benchmarks $(BUILD_DIR)

# Debian packages in $(BUILD_DIR)/packages (cmake/Packaging.cmake, docs/DEPLOYMENT.md).
package: build
	@cd $(BUILD_DIR) && cpack -G DEB
	@ls -1 $(BUILD_DIR)/packages/*.deb

fuzz: bootstrap
	@BUILD_DIR=$(SANITIZE_DIR) CMAKE_FLAGS="$(SANITIZE_FLAGS)" FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/run-fuzzers

# Leak checking is off: gRPC and abseil keep process-lifetime singletons.
sanitize-test:
	@ASAN_OPTIONS="detect_leaks=0:halt_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
	  $(MAKE) test BUILD_DIR=$(SANITIZE_DIR) CMAKE_FLAGS="$(SANITIZE_FLAGS)"

format:
	@git ls-files --cached --others --exclude-standard '*.cc' '*.h' '*.proto' | xargs -r clang-format -i

format-check:
	@git ls-files --cached --others --exclude-standard '*.cc' '*.h' '*.proto' | xargs -r clang-format --dry-run --Werror

clean:
	@rm -rf $(BUILD_DIR)
