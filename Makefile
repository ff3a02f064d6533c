# Makefile — builds ./qcal (QCAL_BIN=path to put it elsewhere), its tests and benchmarks.
# `make check` runs every test and ends with "N passed, N failed, N skipped"; `make demo` compares FP32,
# GemmLowP and SymLowP on the bundled models.
# Both install missing system packages first (tools/install-deps.sh).

BUILD ?= build
SANITIZE ?=
ifeq ($(SANITIZE),1)
BUILD := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
# SANITIZE=thread: ThreadSanitizer for the tests that run threads (make check-threads)
ifeq ($(SANITIZE),thread)
BUILD := build-tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif

PKGS := libpng libjpeg libcjson libprotobuf-c openblas
ONNX_PROTO := /usr/include/onnx/onnx.proto

WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wno-format-truncation
OPT ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
ALL_CFLAGS = $(OPT) $(WARN) $(SANFLAGS) -D_GNU_SOURCE -I. -I$(BUILD)/gen $(PKG_CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

GEN_C := $(BUILD)/gen/onnx.pb-c.c
GEN_H := $(BUILD)/gen/onnx.pb-c.h
LIB_SRC := $(sort $(wildcard io/*.c graph/*.c stats/*.c calib/*.c kernels/*.c kernels/*/*.c))
CLI_SRC := $(sort $(wildcard cli/*.c))
TEST_SRC := $(sort $(wildcard tests/check_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/onnx.pb-c.o
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%) $(BUILD)/tests/conformance
BENCHES := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_TARGETS := onnx png stats config npy
FUZZ_REPLAYS := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz-replay-%)

# The binary: qcal, qcal-san under SANITIZE=1, or QCAL_BIN=path (a second build
# folder can then have its own binary beside it). Set before `all`: a rule's prerequisites
# are expanded when it is read.
ifeq ($(SANITIZE),1)
QCAL_BIN ?= qcal-san
else
QCAL_BIN ?= qcal
endif
QCAL_RUN = $(abspath $(QCAL_BIN))

.PHONY: all deps check check-run check-threads conformance demo bench data-full fuzz clean zoo zoo-check zoo-check-full \
        man install uninstall
.DELETE_ON_ERROR:

all: $(QCAL_BIN)

deps:
	@tools/install-deps.sh --if-missing

# Only the AVX2 kernel files get -mavx2 -mfma (the AVX-VNNI ones -mavxvnni too, the AVX-512
# ones -mavx512*); the rest runs on any x86-64.
$(BUILD)/%-avx2.o: ALL_CFLAGS += -mavx2 -mfma
$(BUILD)/%-avxvnni.o: ALL_CFLAGS += -mavx2 -mfma -mavxvnni
$(BUILD)/%-avx512vnni.o: ALL_CFLAGS += -mavx2 -mfma -mavx512f -mavx512bw -mavx512vl -mavx512vnni
$(BUILD)/%-avx512.o: ALL_CFLAGS += -mavx2 -mfma -mavx512f -mavx512bw -mavx512vl
$(BUILD)/%-amx.o: ALL_CFLAGS += -mavx2 -mfma -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mamx-tile -mamx-int8

$(GEN_C) $(GEN_H): $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(BUILD)/gen $(ONNX_PROTO)

$(BUILD)/gen/onnx.pb-c.o: $(GEN_C)
	$(CC) $(OPT) $(SANFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libqcal.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(QCAL_BIN): $(CLI_OBJ) $(BUILD)/libqcal.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $^ $(PKG_LIBS) -o $@

$(BUILD)/tests/check_%: tests/check_%.c $(BUILD)/libqcal.a | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) $< $(BUILD)/libqcal.a $(LDFLAGS_ALL) $(CHECK_LIBS) $(PKG_LIBS) -o $@

$(BUILD)/tests/conformance: tests/conformance.c $(BUILD)/libqcal.a | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(BUILD)/libqcal.a $(LDFLAGS_ALL) $(PKG_LIBS) -o $@

# A fuzz target without libFuzzer: replays the committed corpus and regressions in make check.
$(BUILD)/tests/fuzz-replay-%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(BUILD)/libqcal.a | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) tests/fuzz/fuzz_$*.c tests/fuzz/replay.c $(BUILD)/libqcal.a $(LDFLAGS_ALL) $(PKG_LIBS) -o $@

$(BUILD)/tests/zoo-dump: tests/zoo-dump.c $(BUILD)/libqcal.a | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(BUILD)/libqcal.a $(LDFLAGS_ALL) $(PKG_LIBS) -o $@

$(BUILD)/bench/%: bench/%.c $(BUILD)/libqcal.a | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(BUILD)/libqcal.a $(LDFLAGS_ALL) $(PKG_LIBS) -o $@

# Man pages and bash completion are generated from the binary's own --help text; the
# install test checks that every command has its page.
PREFIX ?= /usr/local
DESTDIR ?=
MAN_DIR := $(BUILD)/man
COMPLETION := $(BUILD)/qcal.bash
MAN_PAGES := $(MAN_DIR)/qcal.1 $(patsubst %,$(MAN_DIR)/qcal-%.1,inspect eval stats merge quantize compare bench)

$(MAN_PAGES) &: $(QCAL_BIN) tools/make-man.sh
	@tools/make-man.sh $(QCAL_RUN) $(MAN_DIR)

$(COMPLETION): $(QCAL_BIN) tools/make-completion.sh
	@tools/make-completion.sh $(QCAL_RUN) > $@

man: $(MAN_PAGES)

install: $(QCAL_BIN) $(MAN_PAGES) $(COMPLETION)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 755 $(QCAL_BIN) $(DESTDIR)$(PREFIX)/bin/qcal
	install -m 644 $(MAN_PAGES) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(COMPLETION) $(DESTDIR)$(PREFIX)/share/bash-completion/completions/qcal

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/qcal $(DESTDIR)$(PREFIX)/share/bash-completion/completions/qcal \
	    $(patsubst $(MAN_DIR)/%,$(DESTDIR)$(PREFIX)/share/man/man1/%,$(MAN_PAGES))

check: deps
	@$(MAKE) --no-print-directory check-run

# The benchmarks are built too (never run): a program that no longer builds is a failure here.
check-run: $(QCAL_BIN) $(TESTS) $(FUZZ_REPLAYS) $(BENCHES) zoo
	@QCAL=$(QCAL_RUN) QCAL_BUILD=$(BUILD) QCAL_SKIP_FULL=$(SANITIZE) tests/run-all.sh $(TESTS) tests/fuzz-replay.sh tests/valgrind-test.sh tests/cli-test.sh tests/stats-test.sh tests/onnx-write-test.sh tests/quantize-test.sh \
	    tests/compare-test.sh tests/html-test.sh tests/install-test.sh tests/zoo-check.sh tests/style-test.sh \
	    tests/ranges-export-test.sh tests/rounding-test.sh tests/images-test.sh tests/options-test.sh tests/presets-test.sh \
	    tests/accuracy-aware-test.sh tests/vocabulary-test.sh tests/multi-io-test.sh \
	    tests/resize-test.sh tests/batch-test.sh tests/bias-correction-test.sh tests/method-auto-test.sh tests/adequacy-test.sh \
	    tests/bench-ort-test.sh

# The tests that run threads (the pool, intra-op pieces, gathering, evaluation, the choices that
# must give the same bytes on any --threads) under ThreadSanitizer; the zoo models in build/zoo
# are used when `make check` built them.
THREAD_TESTS := check_intra_op check_graph check_stats check_evaluate check_calib check_compare \
    check_adequacy check_method_auto check_accuracy_aware check_quantize_steps
check-threads: deps
	@$(MAKE) --no-print-directory SANITIZE=thread $(THREAD_TESTS:%=build-tsan/tests/%)
	@CK_DEFAULT_TIMEOUT=900 TSAN_OPTIONS=halt_on_error=1 tests/run-all.sh $(THREAD_TESTS:%=build-tsan/tests/%)

conformance: deps
	@$(MAKE) --no-print-directory $(BUILD)/tests/conformance
	$(BUILD)/tests/conformance

demo: deps
	@$(MAKE) -s --no-print-directory $(QCAL_BIN)
	$(QCAL_RUN) compare --threads 2 models/lenet.onnx models/resnet.onnx models/mobilenet.onnx \
	    data/calib data/val

# The 224×224 benchmark models (ResNet-18, MobileNetV2, random weights) are generated into the
# build folder, never committed; bench_models finds them through QCAL_BENCH_MODELS.
BENCH_MODELS := $(BUILD)/bench-models
.PHONY: bench-models bench-ort
bench: deps
	@$(MAKE) --no-print-directory $(QCAL_BIN) $(BENCHES) bench-models
	@for b in $(BENCHES); do QCAL_BENCH_MODELS=$(BENCH_MODELS) $$b || exit 1; done

bench-models:
	@if [ -f $(BENCH_MODELS)/mobilenet_v2.onnx ] && \
	    [ tools/make-bench-models.py -ot $(BENCH_MODELS)/mobilenet_v2.onnx ]; then :; \
	elif /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then \
	    echo "writing the benchmark models into $(BENCH_MODELS)"; \
	    /usr/bin/python3 tools/make-bench-models.py $(BENCH_MODELS) >/dev/null || exit 1; \
	else \
	    echo "ResNet-18 / MobileNetV2 benchmark: skipped (/usr/bin/python3 has no torch or torchvision)"; \
	fi

# qcal against ONNX Runtime in one run (bench/bench-ort.py, run by the venv of
# tools/install-deps.sh): prints the table, writes $(BUILD)/bench-ort/results.json.
# BENCH_ORT_FLAGS=--smoke: one short round, to check the script.
QCAL_VENV_PY = $(firstword $(wildcard $(if $(QCAL_VENV),$(QCAL_VENV)/bin/python) /opt/qcal-venv/bin/python $(HOME)/.cache/qcal-venv/bin/python))
bench-ort: deps
	@$(MAKE) --no-print-directory $(QCAL_BIN) $(BUILD)/bench/bench_qgemm bench-models
	@if [ ! -f $(BENCH_MODELS)/mobilenet_v2.onnx ]; then \
	    echo "bench-ort: skipped (no benchmark models: /usr/bin/python3 has no torch or torchvision)"; \
	elif [ -z "$(QCAL_VENV_PY)" ]; then \
	    echo "bench-ort: skipped (no venv with onnx and onnxruntime: tools/install-deps.sh makes it)"; \
	else \
	    $(QCAL_VENV_PY) bench/bench-ort.py --qcal $(QCAL_RUN) --qgemm $(BUILD)/bench/bench_qgemm \
	        --models $(BENCH_MODELS) --out $(BUILD)/bench-ort $(BENCH_ORT_FLAGS); \
	fi

# libFuzzer (Debian's clang): each target for FUZZ_SECONDS over a working copy of its corpus,
# under ASan + UBSan, in build-fuzz/; what crashes is left in build-fuzz/crashes/. No single
# allocation may pass 512 MiB; the whole process may reach 2 GiB, since ASan's quarantine and
# the growing corpus add a few hundred MiB over a long run whatever the inputs.
FUZZ_SECONDS ?= 60
FUZZ_BUILD := build-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
fuzz: deps
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT="-O1 -g" \
	    WARN="-std=c11 -Wall -Wextra -Wno-unknown-warning-option" \
	    SANFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(FUZZ_BUILD)/libqcal.a
	@mkdir -p $(FUZZ_BUILD)/crashes
	@for t in $(FUZZ_TARGETS); do \
	    clang -O1 -g -D_GNU_SOURCE -I. -I$(FUZZ_BUILD)/gen $(PKG_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) \
	        tests/fuzz/fuzz_$$t.c $(FUZZ_BUILD)/libqcal.a $(PKG_LIBS) -o $(FUZZ_BUILD)/fuzz-$$t || exit 1; \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t; cp -n tests/fuzz/corpus/$$t/* $(FUZZ_BUILD)/corpus/$$t/; \
	    echo "== fuzz-$$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_BUILD)/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -malloc_limit_mb=512 -rss_limit_mb=2048 -timeout=10 \
	        -max_len=65536 -dict=tests/fuzz/$$t.dict -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/crashes/$$t- $(FUZZ_BUILD)/corpus/$$t 2>&1 | \
	        grep -E '(DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|artifact_prefix)' ; \
	done

# The model zoo (torchvision architectures, untrained weights, synthetic images) is generated
# into the build folder, never committed, and written again when tools/make-zoo.py is newer;
# tests/zoo-check.sh compares qcal with ONNX Runtime on it (QCAL_ZOO_FULL=1: the whole grid).
ZOO := $(BUILD)/zoo
zoo: $(BUILD)/tests/zoo-dump
	@if [ -f $(ZOO)/vit_tiny.onnx ] && [ tools/make-zoo.py -ot $(ZOO)/vit_tiny.onnx ]; then :; \
	elif /usr/bin/python3 -c 'import torch, torchvision, PIL' 2>/dev/null; then \
	    echo "writing the model zoo into $(ZOO)"; \
	    /usr/bin/python3 tools/make-zoo.py $(ZOO) >/dev/null || exit 1; \
	else \
	    echo "model zoo: skipped (/usr/bin/python3 has no torch, torchvision or PIL)"; \
	fi

zoo-check: deps
	@$(MAKE) --no-print-directory $(QCAL_BIN) zoo
	@QCAL=$(QCAL_RUN) QCAL_BUILD=$(BUILD) tests/zoo-check.sh

zoo-check-full: deps
	@$(MAKE) --no-print-directory $(QCAL_BIN) zoo
	@QCAL=$(QCAL_RUN) QCAL_BUILD=$(BUILD) QCAL_ZOO_FULL=1 tests/zoo-check.sh

data-full: deps
	/usr/bin/python3 tools/make-data.py --full

clean:
	rm -rf build build-san build-fuzz qcal qcal-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
