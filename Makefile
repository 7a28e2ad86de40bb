# The README's two commands: `make run` and `make test`. Everything else is a convenience.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
RCBENCH_WERROR ?= OFF
CMAKE_FLAGS ?=
CTEST_FLAGS ?=

.PHONY: all bootstrap configure build test run bench format format-check clean

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

format:
	@git ls-files --cached --others --exclude-standard '*.cc' '*.h' '*.proto' | xargs -r clang-format -i

format-check:
	@git ls-files --cached --others --exclude-standard '*.cc' '*.h' '*.proto' | xargs -r clang-format --dry-run --Werror

clean:
	@rm -rf $(BUILD_DIR)
