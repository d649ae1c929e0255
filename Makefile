# torpor — `make demo` and `make test` set up everything they need on a fresh Debian machine (run as root).

SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

# The real public data the tests and benchmarks read (../shared/data beside the repository).
TORPOR_SHARED_DATA ?= $(firstword $(wildcard $(abspath $(CURDIR)/../shared/data) /work/shared/data) $(abspath $(CURDIR)/../shared/data))
export TORPOR_SHARED_DATA

# Debian packages the build needs (the C libraries' headers; their runtime libraries come with them), and those only the
# tests, the demo and the benchmarks need (a Prometheus server, libvirtd and QEMU for the integration guest): `make
# install` on a hypervisor installs only the first.
BUILD_PACKAGES := libvirt-dev libcsv-dev libical-dev libopenblas-dev zlib1g-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev
TEST_PACKAGES := libvirt0 libvirt-clients sqlite3 gzip bc time prometheus \
                 libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils busybox-static cpio
# One release build with testing enabled serves the binaries, the tests and the benchmarks
# (numeric code is 10-50x slower in debug builds).
SWIFT_FLAGS := -c release -Xswiftc -enable-testing
BIN = $(CURDIR)/.build/release

.PHONY: all deps deps-build build integration test test-fast demo install bench backtest clean

all: build

# Installs the Debian packages of $(1) that are missing (apt-get update first).
define install-missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "Debian packages: all present"; fi
endef

## deps: the Debian packages the build, the tests and the demo need.
deps:
	$(call install-missing,$(BUILD_PACKAGES) $(TEST_PACKAGES))

## deps-build: the Debian packages the build needs, no more (make install).
deps-build:
	$(call install-missing,$(BUILD_PACKAGES))

## build: the release build with tests.
build: deps
	swift build $(SWIFT_FLAGS) --build-tests

## integration: a real libvirtd (started if not running) and the tiny guest the integration suite boots.
integration: deps
	./integration/start-libvirtd.sh
	./integration/build-guest.sh >/dev/null

## test: every test (unit, real traces, bad input, a real Prometheus, the real libvirtd) on the release build, then the demo.
test: build integration
	@test -d "$(TORPOR_SHARED_DATA)/traces" || { echo "real data not found at $(TORPOR_SHARED_DATA): set TORPOR_SHARED_DATA"; exit 1; }
	swift test $(SWIFT_FLAGS) --skip-build
	@echo "demo: the whole pipeline on sample-data/ (log: .build/demo.log)"
	@BIN=$(BIN) ./sample-data/demo.sh > .build/demo.log 2>&1 || { tail -40 .build/demo.log; echo "make demo failed"; exit 1; }

## test-fast: everything but the real-libvirtd suite.
test-fast: build
	swift test $(SWIFT_FLAGS) --skip-build --skip TorporIntegrationTests

## demo: the whole pipeline on sample-data/ (ingest, train, plan, show, approve, execute, backtest) into demo/.
demo: build
	BIN=$(BIN) ./sample-data/demo.sh

## install: the binaries, the jobs (pipelines/) and their directories on this machine (as root; DESTDIR=dir: under dir).
## The binaries are built for it (.build-install/): release, without testing, Swift's runtime linked in, so that they
## keep running (restores with them) when the toolchain is upgraded or removed.
# sqlite3: the store's backups (pipelines/README.md).
install: deps-build
	$(call install-missing,sqlite3)
	swift build -c release --static-swift-stdlib --scratch-path .build-install
	./pipelines/install.sh $(CURDIR)/.build-install/release

## bench: benchmarks; results go to bench/RESULTS.md by hand, with the command that produced them.
bench: build integration
	BIN=$(BIN) ./bench/ingest-bench.sh
	BIN=$(BIN) ./bench/statepool-bench.sh
	BIN=$(BIN) ./bench/forecast-bench.sh
	BIN=$(BIN) ./bench/plan-bench.sh
	BIN=$(BIN) ./bench/execute-bench.sh
	BIN=$(BIN) ./bench/execute-scale.sh
	BIN=$(BIN) ./bench/backtest-bitbrains.sh

## backtest: torpor against the alternatives on the 50 Bitbrains VMs and NAB's CPU series (bench/out/, README tables).
backtest: build
	BIN=$(BIN) ./bench/backtest-bitbrains.sh
	BIN=$(BIN) ./bench/backtest-nab.sh
	BIN=$(BIN) ./bench/backtest-walkforward.sh

clean:
	rm -rf .build demo bench/out integration/guest .venv-bench
