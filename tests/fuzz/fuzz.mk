# SPDX-License-Identifier: Apache-2.0
# fuzz.mk: builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, out of tree.
#
# The one idea: the targets run the real core library and the pure glue parsers, compiled here
# a second time with clang's coverage instrumentation and ASan + UBSan (any UB aborts), so the
# normal gcc build is never touched. `make fuzz` in a configured build dir runs this with the
# configured flags; scripts/fuzz.sh builds and runs everything; standalone use:
#   make -f tests/fuzz/fuzz.mk SRCDIR=$PWD OUT=/tmp/build-fuzz/fuzz
# Needs GNU make, clang and its libFuzzer runtime (Debian 12: clang, libclang-rt-14-dev).

SRCDIR ?= $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../..)
OUT ?= $(CURDIR)/fuzz
FUZZ_CC ?= clang
FUZZ_OPT ?= -g -O1 -fno-omit-frame-pointer
SAN = address,undefined
DEP_CFLAGS ?= $(shell apr-1-config --cppflags --includes) $(shell apu-1-config --includes) \
	$(shell pkg-config --cflags openssl jansson libcurl)
DEP_LIBS ?= $(shell pkg-config --libs openssl jansson libcurl) \
	$(shell apr-1-config --link-ld) $(shell apu-1-config --link-ld)

FUZZ_DIR = $(SRCDIR)/tests/fuzz
# The version as configure.ac's AC_INIT gives it (include/at_core.h wants it from the build).
AT_VERSION ?= ${shell sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' $(SRCDIR)/configure.ac}
CPPFLAGS_ALL = -I$(SRCDIR)/include -I$(SRCDIR)/mod_autotls -I$(SRCDIR)/mod_autotls/lib \
	-I$(FUZZ_DIR) $(DEP_CFLAGS) -DAT_VERSION='"$(AT_VERSION)"'
CFLAGS_ALL = -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-unused-function $(FUZZ_OPT) \
	-fno-sanitize-recover=all
# The code under test: every core library file, and the glue files the targets reach (pure
# parsers, the shared slots, the job file), instrumented but without libFuzzer's main.
LIB_SRCS = $(wildcard $(SRCDIR)/mod_autotls/lib/*.c)
GLUE_SRCS = $(wildcard $(addprefix $(SRCDIR)/mod_autotls/,challenge_match.c config_parse.c \
	slots.c renew_job.c))
LIB_OBJS = $(patsubst $(SRCDIR)/mod_autotls/lib/%.c,$(OUT)/obj/lib/%.o,$(LIB_SRCS))
GLUE_OBJS = $(patsubst $(SRCDIR)/mod_autotls/%.c,$(OUT)/obj/glue/%.o,$(GLUE_SRCS))
CORE = $(OUT)/libfuzzcore.a

# One binary per fuzz_<name>.c; those whose code under test is missing are left out.
TARGET_SRCS = $(wildcard $(FUZZ_DIR)/fuzz_*.c)
ifeq ($(wildcard $(SRCDIR)/mod_autotls/lib/ari.c),)
TARGET_SRCS := $(filter-out %/fuzz_ari.c %/fuzz_certset.c,$(TARGET_SRCS))
endif
ifeq ($(wildcard $(SRCDIR)/mod_autotls/renew_job.c),)
TARGET_SRCS := $(filter-out %/fuzz_renew_job.c,$(TARGET_SRCS))
endif
TARGETS = $(patsubst $(FUZZ_DIR)/%.c,$(OUT)/bin/%,$(TARGET_SRCS))

all: $(TARGETS)

$(OUT)/obj/lib/%.o: $(SRCDIR)/mod_autotls/lib/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_ALL) -fsanitize=fuzzer-no-link,$(SAN) $(CPPFLAGS_ALL) -MMD -MP -c $< -o $@

$(OUT)/obj/glue/%.o: $(SRCDIR)/mod_autotls/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_ALL) -fsanitize=fuzzer-no-link,$(SAN) $(CPPFLAGS_ALL) -MMD -MP -c $< -o $@

$(CORE): $(LIB_OBJS) $(GLUE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(OUT)/bin/%: $(FUZZ_DIR)/%.c $(CORE)
	@mkdir -p $(OUT)/bin $(OUT)/obj/targets
	$(FUZZ_CC) $(CFLAGS_ALL) -fsanitize=fuzzer,$(SAN) $(CPPFLAGS_ALL) \
		-DFUZZ_DATA_DIR='"$(FUZZ_DIR)/data"' -MMD -MP -MF $(OUT)/obj/targets/$*.d \
		$< $(CORE) $(DEP_LIBS) -o $@

clean:
	rm -rf $(OUT)

.PHONY: all clean
.DELETE_ON_ERROR:

-include $(wildcard $(OUT)/obj/*/*.d)
