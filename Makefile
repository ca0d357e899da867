# Ocellus -- `make help` lists the targets.
# ISA-specific sources (*_avx2.c, *_avx512.c) get their own flags; nothing else is built with
# -march: the path is chosen at run time from cpuid (src/cpu.c).

CC      ?= gcc
BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
OPT     ?= -O2
SAN     ?=
FUZZ_SECONDS ?= 30
# the library's version (oc_version() says the same); the shared library is
# libocellus.so.$(VERSION) with soname libocellus.so.$(SOVERSION), as Debian packages it
VERSION   := $(shell sed -n 's/.*oc_version(void) { return "\([0-9.]*\)".*/\1/p' src/error.c)
SOVERSION := $(firstword $(subst ., ,$(VERSION)))

WARN    := -Wall -Wextra -Werror
CFLAGS_ALL := -std=c11 $(OPT) -g $(WARN) -fPIC -D_GNU_SOURCE \
              -Iinclude -Isrc -Iops $(SAN) $(CFLAGS)
AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c
LDLIBS_ALL := -lopenblas -lpng -ljpeg -lcjson -lzip -lm -lpthread $(SAN) $(LDFLAGS)

LIB_SRC  := $(sort $(wildcard src/*.c src/*/*.c src/*/*/*.c ops/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(sort $(wildcard tools/*.c))
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c tests/*/test_*.c tests/*/*/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL_SRC := $(wildcard tests/util/*.c)
TEST_UTIL_OBJ := $(TEST_UTIL_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC := $(sort $(wildcard bench/src/*.c))
BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/%.o)
BENCH_OPS_SRC := $(wildcard bench/ops/*.c)
HDRS := $(wildcard include/*.h src/*.h src/*/*.h src/*/*/*.h ops/*.h)
# the benchmark's and the tests' own headers rebuild only their objects, not the library
$(BENCH_OBJ) $(TEST_UTIL_OBJ) $(TEST_BIN): $(wildcard tests/util/*.h bench/src/*.h)
$(TEST_BIN): $(wildcard bench/src/*.c)  # test_bench_* include the harness sources

.SECONDARY:

.PHONY: all lib cli help deps test asan valgrind fuzz clean install bench bench-full \
        bench-baseline bench-compare bench-callgrind bench-ops tests weights

all: lib cli

help:
	@echo "Ocellus make targets:"
	@echo "  make                 build the static + shared library and the ocellus CLI (build/)"
	@echo "  make test            install missing Debian packages, build and run the cmocka tests"
	@echo "  make bench           the main job: gate suite (<2 s, <1 GB per variant) with a verdict"
	@echo "  make bench-full      bench plus image sizes, batch scaling, concurrency, leaks, endurance"
	@echo "  make bench-baseline  save this run as the baseline in bench/baselines/"
	@echo "  make bench-compare   compare a run with the saved baseline (Mann-Whitney U)"
	@echo "  make bench-callgrind instructions per inference under callgrind (MODEL=...)"
	@echo "  make bench-ops       per-op GFLOP/s and share of the measured FMA peak"
	@echo "  make weights         generate any missing synthetic model files in weights/"
	@echo "  make asan            build with ASan+UBSan (build/asan) and run the tests"
	@echo "  make valgrind        run the tests under valgrind memcheck (AVX2 path)"
	@echo "  make fuzz            run the libFuzzer targets for FUZZ_SECONDS each (default 30)"
	@echo "  make install         install header, libraries, ocellus.pc and the CLI (PREFIX, DESTDIR)"
	@echo "  make clean           remove build outputs"

deps:
	@bash tools/deps.sh

lib: $(BUILD)/libocellus.a $(BUILD)/libocellus.so
cli: $(BUILD)/ocellus

$(BUILD)/%_avx2.o: %_avx2.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(AVX2_FLAGS) -c $< -o $@

$(BUILD)/%_avx512.o: %_avx512.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(AVX512_FLAGS) -c $< -o $@

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libocellus.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libocellus.so.$(VERSION): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libocellus.so.$(SOVERSION) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/libocellus.so: $(BUILD)/libocellus.so.$(VERSION)
	ln -sf libocellus.so.$(VERSION) $(BUILD)/libocellus.so.$(SOVERSION)
	ln -sf libocellus.so.$(SOVERSION) $@

$(BUILD)/ocellus: $(CLI_OBJ) $(BUILD)/libocellus.a
	$(CC) -o $@ $(CLI_OBJ) $(BUILD)/libocellus.a $(LDLIBS_ALL)

$(BUILD)/tests/%: tests/%.c $(TEST_UTIL_OBJ) $(BUILD)/libocellus.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/util -o $@ $< $(TEST_UTIL_OBJ) $(BUILD)/libocellus.a -lcmocka $(LDLIBS_ALL)

tests: $(TEST_BIN) $(BUILD)/ocellus $(BUILD)/libocellus.so

test: deps
	@$(MAKE) --no-print-directory tests
	@BUILD=$(BUILD) bash tests/run.sh $(TEST_BIN)

asan:
	@bash tools/deps.sh
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" tests
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  BUILD=build/asan bash tests/run.sh $(patsubst $(BUILD)/%,build/asan/%,$(TEST_BIN))

valgrind: deps
	@$(MAKE) --no-print-directory tests
	@OCELLUS_ISA=avx2 OPENBLAS_CORETYPE=Haswell OC_TEST_VALGRIND=1 BUILD=$(BUILD) \
	  bash tests/run.sh --valgrind $(TEST_BIN)

# ---- benchmark tree (bench/) ----
# --whole-archive: the model families are referenced weakly by src/model.c, so a plain static
# link would leave them out of the benchmark ("unknown architecture ... (known: none)").
$(BUILD)/ocellus-bench: $(BENCH_OBJ) $(BUILD)/libocellus.a
	$(CC) -o $@ $(BENCH_OBJ) -Wl,--whole-archive $(BUILD)/libocellus.a -Wl,--no-whole-archive $(LDLIBS_ALL)

# bench/ort_compare.sh's timer; linked here so it uses the same library list as everything else
$(BUILD)/ort_compare_time: bench/ort_compare_time.c $(BUILD)/libocellus.a $(HDRS)
	$(CC) $(CFLAGS_ALL) -o $@ $< -Wl,--whole-archive $(BUILD)/libocellus.a -Wl,--no-whole-archive $(LDLIBS_ALL)

$(BUILD)/bench-ops: $(BENCH_OPS_SRC) $(BUILD)/libocellus.a $(HDRS)
	$(CC) $(CFLAGS_ALL) -o $@ $(BENCH_OPS_SRC) $(BUILD)/libocellus.a $(LDLIBS_ALL)

bench-ops: deps
	@$(MAKE) --no-print-directory $(BUILD)/bench-ops
	$(BUILD)/bench-ops

weights: all
	@BUILD=$(BUILD) bash bench/make_weights.sh

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/ocellus-bench
	@BUILD=$(BUILD) bash bench/make_weights.sh
	OCELLUS_BENCH_CFLAGS="$(CFLAGS_ALL)" $(BUILD)/ocellus-bench --mode quick

bench-full: deps
	@$(MAKE) --no-print-directory all $(BUILD)/ocellus-bench
	@BUILD=$(BUILD) bash bench/make_weights.sh
	OCELLUS_BENCH_CFLAGS="$(CFLAGS_ALL)" $(BUILD)/ocellus-bench --mode full

bench-baseline: deps
	@$(MAKE) --no-print-directory all $(BUILD)/ocellus-bench
	@BUILD=$(BUILD) bash bench/make_weights.sh
	OCELLUS_BENCH_CFLAGS="$(CFLAGS_ALL)" $(BUILD)/ocellus-bench --mode quick --save-baseline

bench-compare: deps
	@$(MAKE) --no-print-directory all $(BUILD)/ocellus-bench
	@BUILD=$(BUILD) bash bench/make_weights.sh
	OCELLUS_BENCH_CFLAGS="$(CFLAGS_ALL)" $(BUILD)/ocellus-bench --mode quick --compare

bench-callgrind: deps
	@$(MAKE) --no-print-directory all $(BUILD)/ocellus-bench
	@BUILD=$(BUILD) bash bench/make_weights.sh
	BUILD=$(BUILD) bash bench/callgrind.sh $(MODEL)

# ---- fuzzing (clang + libFuzzer) ----
fuzz: deps
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS)

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/ocellus.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libocellus.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libocellus.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libocellus.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libocellus.so.$(SOVERSION)
	ln -sf libocellus.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libocellus.so
	install -m 755 $(BUILD)/ocellus $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' tools/ocellus.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ocellus.pc

clean:
	rm -rf build
