# Thin wrapper over meson + ninja. `make run` and `make test` install what they need (as root).
PKGS_BUILD := meson ninja-build gcc libc6-dev pkg-config libjansson-dev liburcu-dev libpcap-dev
PKGS_RUN   := gnuplot-nox
PKGS_TEST  := jq
BUILD      := build
ASAN       := build-asan
TSAN       := build-tsan
DVMQ       := $(BUILD)/src/cli/dvmq

.PHONY: all deps build run test bench fuzz clean

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
run: build
	$(DVMQ) run --duration 50s

test: deps $(BUILD)/build.ninja $(ASAN)/build.ninja $(TSAN)/build.ninja
	@scripts/deps.sh $(PKGS_TEST)
	ninja -C $(BUILD)
	ninja -C $(ASAN)
	ninja -C $(TSAN)
	tests/run.sh $(BUILD) $(ASAN) $(TSAN)

bench: build
	$(DVMQ) bench engine --json
	$(DVMQ) bench sim --json
	$(DVMQ) bench dataplane --json

# libFuzzer on the scenario parser (needs clang): `make fuzz FUZZ_SECONDS=60`
FUZZ_SECONDS ?= 60
fuzz: deps
	@scripts/deps.sh clang
	[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false >/dev/null
	ninja -C build-fuzz fuzz/fuzz_scenario
	mkdir -p build-fuzz/corpus && build-fuzz/fuzz/fuzz_scenario -max_total_time=$(FUZZ_SECONDS) \
		-max_len=65536 -timeout=10 build-fuzz/corpus fuzz/corpus

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) build-fuzz out
