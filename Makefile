# Thin wrapper over meson + ninja. `make run` and `make test` install what they need (as root).
PKGS_BUILD := meson ninja-build gcc libc6-dev pkg-config libinih-dev libjansson-dev liburcu-dev libpcap-dev
PKGS_RUN   := gnuplot-nox
PKGS_TEST  := jq
BUILD      := build
ASAN       := build-asan
TSAN       := build-tsan
DVMQ       := $(BUILD)/src/cli/dvmq

.PHONY: all deps build run test bench fuzz fuzz-frame clean

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

# libFuzzer (needs clang) on the scenario parser (`make fuzz`) and on the frame parser
# (`make fuzz-frame`); FUZZ_SECONDS=60 each. New inputs land in build-fuzz/corpus*, the seeds
# in fuzz/ stay as they are.
FUZZ_SECONDS ?= 60
build-fuzz/build.ninja:
	@scripts/deps.sh clang
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false -Db_sanitize=address,undefined >/dev/null

fuzz: deps build-fuzz/build.ninja
	ninja -C build-fuzz fuzz/fuzz_scenario
	mkdir -p build-fuzz/corpus && build-fuzz/fuzz/fuzz_scenario -max_total_time=$(FUZZ_SECONDS) \
		build-fuzz/corpus fuzz/corpus

fuzz-frame: deps build-fuzz/build.ninja
	ninja -C build-fuzz fuzz/fuzz_frame
	mkdir -p build-fuzz/corpus-frame && build-fuzz/fuzz/fuzz_frame -max_total_time=$(FUZZ_SECONDS) \
		-max_len=9100 build-fuzz/corpus-frame fuzz/corpus-frame

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) build-fuzz out
