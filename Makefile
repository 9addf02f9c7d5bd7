# Thin wrapper over meson + ninja. `make run` and `make test` install what they need (as root).
PKGS_BUILD := meson ninja-build gcc libc6-dev pkg-config libjansson-dev liburcu-dev libpcap-dev \
	libmicrohttpd-dev scdoc libxdp-dev libbpf-dev clang libsystemd-dev
PKGS_RUN   := gnuplot-nox
PKGS_TEST  := jq prometheus curl iproute2 ethtool iperf3 tcpdump tcpreplay iputils-ping python3 procps \
	systemd dpkg-dev lintian bpftool
PKGS_DEB   := dpkg-dev
PKGS_BENCH := iperf3
BUILD      := build
ASAN       := build-asan
TSAN       := build-tsan
DVMQ       := $(BUILD)/src/cli/dvmq
PREFIX     ?= /usr/local
DESTDIR    ?=
VERSION    := $(shell sed -n "s/^  version: '\(.*\)',/\1/p" meson.build)

.PHONY: all deps build run test bench bench-e2e bench-kernel bench-ports fuzz fuzz-all fuzz-ctl fuzz-config fuzz-frame \
	fuzz-switch install deb clean

all: build

deps:
	@scripts/deps.sh $(PKGS_BUILD) $(PKGS_RUN)

$(BUILD)/build.ninja:
	meson setup $(BUILD) >/dev/null

$(ASAN)/build.ninja:
	meson setup $(ASAN) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug >/dev/null

$(TSAN)/build.ninja:
	meson setup $(TSAN) -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug >/dev/null

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# the embedded default on the real data plane, 50 s of its compressed day (within a minute)
# builds only what it runs: the dvmq binary (not the tests, benchmarks or man pages)
run: deps $(BUILD)/build.ninja
	ninja -C $(BUILD) src/cli/dvmq
	$(DVMQ) run --duration 50s

# the fuzz targets too: clang's is the only build that sees some warnings (a fuzz target that no
# longer builds would otherwise go unnoticed); each runs over its seeds once (seconds, no campaign)
test: deps $(BUILD)/build.ninja $(ASAN)/build.ninja $(TSAN)/build.ninja build-fuzz/build.ninja
	@scripts/deps.sh $(PKGS_TEST)
	ninja -C $(BUILD)
	ninja -C $(ASAN)
	ninja -C $(TSAN)
	ninja -C build-fuzz $(FUZZ_TARGETS)
	scripts/fuzz-all.sh --seeds
	tests/run.sh $(BUILD) $(ASAN) $(TSAN)

# binaries, man pages, the systemd unit and the bash completion under DESTDIR/PREFIX
install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX) >/dev/null
	ninja -C $(BUILD) >/dev/null
	meson install -C $(BUILD) --no-rebuild --quiet $(if $(DESTDIR),--destdir "$(abspath $(DESTDIR))")

# a Debian package of the same files, installed under /usr
deb:
	@scripts/deps.sh $(PKGS_DEB)
	rm -rf $(BUILD)/deb-root
	$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(BUILD)/deb-root
	dist/mkdeb.sh $(BUILD)/deb-root $(BUILD) $(VERSION)

bench: build
	$(DVMQ) bench engine --json
	$(DVMQ) bench sim --json
	$(DVMQ) bench dataplane --json
	$(MAKE) --no-print-directory bench-e2e
	$(MAKE) --no-print-directory bench-kernel

# real traffic between network namespaces, Linux bridge vs dvmq side by side (root; skipped
# with a line otherwise): scripts/bench-e2e.sh, which `dvmq bench e2e` runs too
bench-e2e: build
	@if [ "$$(id -u)" = 0 ]; then scripts/bench-e2e.sh --json --build $(BUILD); \
	else echo "bench-e2e: skipped: needs root (network namespaces, veth, TAP, XDP)"; fi

# the kernel ports on this machine (root: private namespaces, dvtp* devices): frames/s, TCP, latency
# kernel mode (issue 14 section 3): the bridge, the bridge with RPS and dvmq's kernel steering in
# interleaved rounds (root; skipped with a line otherwise): scripts/bench-kernel.sh, also
# `dvmq bench kernel`
bench-kernel: build
	@if [ "$$(id -u)" = 0 ]; then scripts/bench-kernel.sh --json --build $(BUILD); \
	else echo "bench-kernel: skipped: needs root (network namespaces, veth, XDP)"; fi

bench-ports: build
	@scripts/deps.sh $(PKGS_TEST) $(PKGS_BENCH)
	$(BUILD)/bench/dvmq-portbench --repeat 5

# libFuzzer (needs clang), FUZZ_SECONDS=60 each: the scenario parser (`make fuzz`), the control
# protocol and commands (`make fuzz-ctl`), the frame parser (`make fuzz-frame`), the switch decision
# (`make fuzz-switch`). The fuzz build
# instruments the libraries too and runs under ASan+UBSan (meson.build). New inputs land in
# build-fuzz/corpus*, the seeds in fuzz/ stay as they are.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz/fuzz_scenario fuzz/fuzz_ctl fuzz/fuzz_config fuzz/fuzz_frame fuzz/fuzz_switch
build-fuzz/build.ninja:
	@scripts/deps.sh clang libclang-rt-dev
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false >/dev/null

# every target FUZZ_SECONDS each, one line per target (executions, coverage); fails on any finding
# (kept in build-fuzz/findings/TARGET/): scripts/fuzz-all.sh
fuzz-all: deps build-fuzz/build.ninja
	ninja -C build-fuzz $(FUZZ_TARGETS)
	scripts/fuzz-all.sh $(FUZZ_SECONDS)

fuzz: deps build-fuzz/build.ninja
	ninja -C build-fuzz fuzz/fuzz_scenario
	mkdir -p build-fuzz/corpus && build-fuzz/fuzz/fuzz_scenario -max_total_time=$(FUZZ_SECONDS) \
		-max_len=65536 -timeout=10 build-fuzz/corpus fuzz/corpus

fuzz-ctl: deps build-fuzz/build.ninja
	ninja -C build-fuzz fuzz/fuzz_ctl
	mkdir -p build-fuzz/corpus-ctl && build-fuzz/fuzz/fuzz_ctl -max_total_time=$(FUZZ_SECONDS) -max_len=70000 \
		build-fuzz/corpus-ctl fuzz/corpus-ctl

# the host configuration parser, machine checks and diff
fuzz-config: deps build-fuzz/build.ninja
	ninja -C build-fuzz fuzz/fuzz_config
	mkdir -p build-fuzz/corpus-config && build-fuzz/fuzz/fuzz_config -max_total_time=$(FUZZ_SECONDS) \
		-max_len=65536 -timeout=10 build-fuzz/corpus-config fuzz/corpus-config

fuzz-frame: deps build-fuzz/build.ninja
	ninja -C build-fuzz fuzz/fuzz_frame
	mkdir -p build-fuzz/corpus-frame && build-fuzz/fuzz/fuzz_frame -max_total_time=$(FUZZ_SECONDS) \
		-max_len=9100 build-fuzz/corpus-frame fuzz/corpus-frame

fuzz-switch: deps build-fuzz/build.ninja
	ninja -C build-fuzz fuzz/fuzz_switch
	mkdir -p build-fuzz/corpus-switch && build-fuzz/fuzz/fuzz_switch -max_total_time=$(FUZZ_SECONDS) \
		-max_len=70000 -timeout=10 build-fuzz/corpus-switch fuzz/corpus-switch

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) build-fuzz out
