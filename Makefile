# Relay Server Git Sync: build, test, fuzz, bench, install.
#
#   make                 build every tool into $(BUILD)/bin (warnings are errors)
#   make check           install missing test dependencies, build, run every test,
#                        rerun the suite under ASan/UBSan, short fuzz run; ends
#                        with "N passed, N failed"
#   make demo            the main job on real input (see README.md)
#   make fuzz            every libFuzzer target, FUZZ_SECONDS each (default 60)
#   make bench           benchmarks against the reference implementations
#   make install         PREFIX=/usr/local DESTDIR=
#
# Each area declares its tools, fuzz targets and unit-test programs in
# mk/<area>.mk, so the tools link only the lib/ modules and packages they use:
#
#   TOOLS += rgs-x                 src/rgs-x.c -> $(BUILD)/bin/rgs-x
#   rgs-x_LIBS := util record      lib/rgs_util.c lib/rgs_record.c
#   rgs-x_PKGS := jansson          pkg-config names to link
#   rgs-x_LDLIBS := -lhttp_parser  libraries without pkg-config
#   FUZZERS += x                   tests/fuzz/fuzz_x.c -> $(BUILD)/fuzz/fuzz-x
#   fuzz-x_LIBS, fuzz-x_PKGS, fuzz-x_LDLIBS, fuzz-x_CORPUS := dir of seeds
#   UNITS += test-x                tests/unit/test-x.c -> $(BUILD)/tests/test-x
#   test-x_LIBS, test-x_PKGS

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR   = $(PREFIX)/bin
LIBEXEC  = $(PREFIX)/lib/rgs
DATAROOT = $(PREFIX)/share
MANDIR   = $(DATAROOT)/man

SAN     ?=
ifeq ($(SAN),1)
CC      := clang
BUILD   ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT     ?= -O1
else
BUILD   ?= build
SANFLAGS :=
OPT     ?= -O2
endif
CC      ?= cc

ALL_PKGS := jansson libcurl libgit2 openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(ALL_PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wno-unused-parameter
CFLAGS  ?=
CFLAGS  += -std=gnu11 $(OPT) -g $(WARN) $(SANFLAGS) -Ilib $(PKG_CFLAGS) \
           -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DRGS_VERSION='"$(VERSION)"'
LDFLAGS ?=
LDFLAGS += $(SANFLAGS)
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

TOOLS   :=
FUZZERS :=
FUZZ_SEEDS :=
UNITS   :=
.DEFAULT_GOAL := all
include $(sort $(wildcard mk/*.mk))

GLUE    := $(filter-out %~ %.sh,$(wildcard bin/rgs-*))

.PHONY: all tools units www check test demo fuzz fuzz-build bench install clean san-check
all: tools units www

# Swagger UI assets for /docs: the npm package swagger-ui-dist at the version
# share/www/package-lock.json pins (npm ci).  Without npm or the registry the
# build goes on: rgs-verify then serves /docs from the CDN (same version,
# Subresource Integrity), or a notice with RGS_DOCS_CDN=0.  NO_WWW=1 skips it.
SWAGGER_UI := share/www/node_modules/swagger-ui-dist/package.json
www: $(if $(NO_WWW),,$(SWAGGER_UI))
$(SWAGGER_UI): share/www/package-lock.json
	@if command -v npm >/dev/null 2>&1 && (cd share/www && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then \
	  touch $@; \
	else echo "make: warning: Swagger UI assets not installed (npm ci in share/www failed or npm missing): /docs loads them from the CDN" >&2; fi

tools: $(addprefix $(BUILD)/bin/,$(TOOLS))
units: $(addprefix $(BUILD)/tests/,$(UNITS))

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

libobjs = $(patsubst %,$(BUILD)/obj/lib/rgs_%.o,$(1))
pkglibs = $(if $(strip $(1)),$(shell pkg-config --libs $(1)))

define TOOL_template
$(BUILD)/bin/$(1): $(BUILD)/obj/src/$(1).o $(call libobjs,$($(1)_LIBS))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(call pkglibs,$($(1)_PKGS)) $($(1)_LDLIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call TOOL_template,$(t))))

define UNIT_template
$(BUILD)/tests/$(1): $(BUILD)/obj/tests/unit/$(1).o $(call libobjs,$($(1)_LIBS))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(call pkglibs,$($(1)_PKGS)) $($(1)_LDLIBS)
endef
$(foreach t,$(UNITS),$(eval $(call UNIT_template,$(t))))

# libFuzzer targets: always clang, always ASan+UBSan, in their own tree.
FUZZ_BUILD := build/fuzz
FUZZ_FLAGS := -std=gnu11 -O1 -g -Ilib $(PKG_CFLAGS) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
              -DRGS_VERSION='"fuzz"' -DRGS_FUZZING=1 \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
define FUZZ_template
$(FUZZ_BUILD)/fuzz-$(1): tests/fuzz/fuzz_$(1).c $(patsubst %,lib/rgs_%.c,$(fuzz-$(1)_LIBS))
	@mkdir -p $$(dir $$@)
	clang $$(FUZZ_FLAGS) -o $$@ $$^ $$(call pkglibs,$(fuzz-$(1)_PKGS)) $(fuzz-$(1)_LDLIBS)
endef
$(foreach f,$(FUZZERS),$(eval $(call FUZZ_template,$(f))))

FUZZ_SECONDS ?= 60
fuzz-build: $(addprefix $(FUZZ_BUILD)/fuzz-,$(FUZZERS)) $(FUZZ_SEEDS)
fuzz: fuzz-build
	@$(foreach f,$(FUZZERS),tests/fuzz/run-one $(FUZZ_BUILD)/fuzz-$(f) $(FUZZ_SECONDS) $(fuzz-$(f)_CORPUS) &&) true

# The README's test command.  Installs what is missing, builds with -Werror,
# runs the suite, the suite again under ASan/UBSan, a short fuzz run.
check:
	@tests/setup
	@$(MAKE) --no-print-directory all
	@tests/check-all

test: all
	@tests/run --bin $(BUILD)/bin

demo:
	@tests/setup --demo
	@$(MAKE) --no-print-directory all
	@tests/demo/run

bench:
	@tests/setup
	@$(MAKE) --no-print-directory all
	@tests/bench/run

install: tools www
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATAROOT)/rgs \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(addprefix $(BUILD)/bin/,$(TOOLS)) $(DESTDIR)$(BINDIR)/
	$(if $(GLUE),install -m 0755 $(GLUE) $(DESTDIR)$(BINDIR)/)
	install -m 0644 openapi.yaml $(DESTDIR)$(DATAROOT)/rgs/openapi.yaml
	if [ -d share/www/node_modules/swagger-ui-dist ]; then \
	  install -d $(DESTDIR)$(DATAROOT)/rgs/swagger-ui && \
	  cp -R share/www/node_modules/swagger-ui-dist/. $(DESTDIR)$(DATAROOT)/rgs/swagger-ui/; \
	else echo "make install: warning: share/www/node_modules/swagger-ui-dist missing (npm ci in share/www): /docs will load Swagger UI from the CDN (pinned, SRI), or show a notice with RGS_DOCS_CDN=0" >&2; fi
	for s in 1 5 7; do for f in share/man/man$$s/*.$$s; do [ -e "$$f" ] || continue; \
	  install -m 0644 "$$f" $(DESTDIR)$(MANDIR)/man$$s/; done; done
	install -m 0644 share/deps/*.txt share/systemd/relay-git-sync.service bin/rgs-glue.sh $(DESTDIR)$(DATAROOT)/rgs/

clean:
	rm -rf build
