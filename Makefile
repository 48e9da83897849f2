# keybound - SSH key pairs for a Linux fleet, served from LDAP.
#
#   make              build everything into $(B)/
#   make check        install missing Debian packages (as root), build, run
#                     every test (unit, ASan/UBSan, valgrind, integration, fuzz)
#   make check-asan   the unit suite under ASan+UBSan only
#   make fuzz         run the fuzz targets for FUZZ_SECONDS each (default 600)
#   make demo         walk through create/attach/login/detach on loopback
#   make bench        keybound against its peers, side by side
#   make bench-revocation  detach -> refused, directory up, down, flapping
#   make install      PREFIX, DESTDIR, BINDIR, PAMDIR, MANDIR
#   make deb          the Debian packages keybound and libpam-keybound, into
#                     $(B)/ (dpkg-buildpackage on a copy of the tree)
#
# One test:  make && tests/run tests/integration/keycmd_basic.sh

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
PAMDIR	?= $(shell pkg-config --variable=libdir pam 2>/dev/null || echo /lib)/security
DESTDIR	?=

# Where keybound-keys is installed; pam_keybound.so runs it from there.
# Tests build with KB_HELPER pointing at the build tree instead.
KB_HELPER ?= $(BINDIR)/keybound-keys

B	?= build
CC	?= cc
CFLAGS	?= -O2 -g
SAN	?=

PKGS	:= ldap lber libcrypto pam
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDAP_LIBS  := $(shell pkg-config --libs ldap lber 2>/dev/null || echo -lldap -llber)
CRYPTO_LIBS := $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)
PAM_LIBS   := $(shell pkg-config --libs pam 2>/dev/null || echo -lpam)
# libldap is not linked: lib/directory.c dlopen()s it by this SONAME, taken
# from the libldap being built against (expanded only when compiling).
LDAP_SONAME = $(or $(shell objdump -p "$$(pkg-config --variable=libdir ldap \
	2>/dev/null)/libldap.so" 2>/dev/null | awk '/SONAME/ {print $$2}'), \
	$(error cannot find libldap's SONAME: is libldap-dev installed?))

# Nor is libcrypto for keybound-keys: lib/sshkey.c dlopen()s it by this
# SONAME when a key needs it (RSA and ECDSA validation, MD5 fingerprints).
CRYPTO_SONAME = $(or $(shell objdump -p "$$(pkg-config --variable=libdir \
	libcrypto 2>/dev/null)/libcrypto.so" 2>/dev/null | \
	awk '/SONAME/ {print $$2}'), \
	$(error cannot find libcrypto's SONAME: is libssl-dev installed?))

WARN	:= -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wmissing-prototypes \
	   -Wstrict-prototypes -Wpointer-arith -Wcast-qual -Wvla \
	   -Wno-unused-parameter
HARDEN	:= -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIC
KB_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) -Ilib $(PKG_CFLAGS) \
	   -DKB_HELPER_PATH='"$(KB_HELPER)"'
KB_LDFLAGS := -Wl,-z,relro,-z,now -Wl,-z,defs -Wl,--as-needed

ifeq ($(SAN),1)
KB_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=all -U_FORTIFY_SOURCE
KB_LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC	:= $(sort $(wildcard lib/*.c))
LIB_OBJ	:= $(LIB_SRC:%.c=$(B)/%.o)
LIBKB	:= $(B)/lib/libkeybound.a

KEYCMD_SRC := $(sort $(wildcard keycmd/*.c))
ADMIN_SRC  := $(sort $(wildcard admin/*.c))
PAM_SRC    := $(sort $(wildcard pam_module/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
TOOL_SRC   := $(sort $(wildcard tests/tools/*.c))
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))

PROGS :=
ifneq ($(KEYCMD_SRC),)
PROGS += $(B)/keybound-keys
endif
ifneq ($(ADMIN_SRC),)
PROGS += $(B)/keybound
endif
ifneq ($(PAM_SRC),)
PROGS += $(B)/pam_keybound.so
endif
UNITS	:= $(UNIT_SRC:%.c=$(B)/%)
TOOLS	:= $(TOOL_SRC:%.c=$(B)/%)
FUZZERS	:= $(FUZZ_SRC:%.c=$(B)/%)

.PHONY: FORCE all check check-asan check-valgrind fuzz fuzz-build deps demo bench \
	bench-revocation deb \
	install uninstall clean tests

all: $(LIBKB) $(PROGS) tests

tests: $(UNITS) $(TOOLS)

$(B)/%.o: %.c $(wildcard lib/*.h admin/*.h) Makefile
	@mkdir -p $(@D)
	$(CC) $(KB_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# every admin object depends on the CLI's shared header
$(B)/admin/%.o: admin/%.c admin/admin.h $(wildcard lib/*.h) Makefile
	@mkdir -p $(@D)
	$(CC) $(KB_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/lib/directory.o: KB_CFLAGS += -DKB_LDAP_SONAME='"$(LDAP_SONAME)"'
$(B)/lib/sshkey.o: KB_CFLAGS += -DKB_CRYPTO_SONAME='"$(CRYPTO_SONAME)"'
$(B)/lib/sshsig.o: KB_CFLAGS += -DKB_CRYPTO_SONAME='"$(CRYPTO_SONAME)"'

$(LIBKB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# No $(LDAP_LIBS) and no $(CRYPTO_LIBS): a cache hit must map neither
# libldap nor libcrypto (tests/integration/keycmd_lazy_ldap.sh,
# keycmd_lazy_crypto.sh); dlopen() is in glibc's libc.
$(B)/keybound-keys: $(KEYCMD_SRC:%.c=$(B)/%.o) $(LIBKB)
	$(CC) $(CFLAGS) $(KB_LDFLAGS) $(LDFLAGS) -pie -o $@ $^ -lpthread

$(B)/keybound: $(ADMIN_SRC:%.c=$(B)/%.o) $(LIBKB)
	$(CC) $(CFLAGS) $(KB_LDFLAGS) $(LDFLAGS) -pie -o $@ $^ $(LDAP_LIBS) $(CRYPTO_LIBS) -lpthread

# The helper path is compiled into the PAM module: rebuild it whenever
# KB_HELPER (BINDIR, PREFIX) changes, so `make PREFIX=/usr install` after a
# plain `make` never installs a module that runs a helper elsewhere.
HELPER_STAMP := $(B)/helper-path.stamp
$(HELPER_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(KB_HELPER)' | cmp -s - $@ || echo '$(KB_HELPER)' > $@
$(PAM_SRC:%.c=$(B)/%.o): $(HELPER_STAMP)
FORCE:

$(B)/pam_keybound.so: $(PAM_SRC:%.c=$(B)/%.o) $(LIBKB) pam_module/pam_keybound.map
	$(CC) $(CFLAGS) $(KB_LDFLAGS) $(LDFLAGS) -shared \
	    -Wl,--version-script=pam_module/pam_keybound.map \
	    -o $@ $(PAM_SRC:%.c=$(B)/%.o) $(LIBKB) $(PAM_LIBS)

# Unit tests and test tools link the whole library and every dependency.
$(B)/tests/unit/%: $(B)/tests/unit/%.o $(LIBKB)
	$(CC) $(CFLAGS) $(KB_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LDAP_LIBS) $(CRYPTO_LIBS) $(PAM_LIBS) -lpthread -ldl

$(B)/tests/tools/%: $(B)/tests/tools/%.o $(LIBKB)
	$(CC) $(CFLAGS) $(KB_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LDAP_LIBS) $(CRYPTO_LIBS) $(PAM_LIBS) -lpthread -ldl

# libFuzzer targets: clang, ASan+UBSan, the library sources compiled in.
FUZZ_CC	?= clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Ilib $(PKG_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
$(B)/tests/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -DKB_LDAP_SONAME='"$(LDAP_SONAME)"' \
	    -DKB_CRYPTO_SONAME='"$(CRYPTO_SONAME)"' \
	    -o $@ $< $(LIB_SRC) $(LDAP_LIBS) $(CRYPTO_LIBS) -lpthread

fuzz-build: $(FUZZERS)

FUZZ_SECONDS ?= 600
fuzz: deps fuzz-build
	tests/run --fuzz-only --fuzz-seconds $(FUZZ_SECONDS)

deps:
	@tests/deps.sh

check: deps
	$(MAKE) all
	$(MAKE) B=$(B)/asan SAN=1 tests
	$(MAKE) fuzz-build
	tests/run

check-asan: deps
	$(MAKE) B=$(B)/asan SAN=1 tests
	KB_BUILD=$(B) tests/run --asan-only

check-valgrind: deps all
	tests/run --valgrind-only

demo: deps all
	tests/demo.sh

bench: deps all
	bench/run.sh

bench-revocation: deps all
	bench/revocation.sh

# Only what is installed: the unit tests and test tools are not needed.
install: $(LIBKB) $(PROGS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PAMDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(B)/keybound $(DESTDIR)$(BINDIR)/keybound
	install -m 0755 $(B)/keybound-keys $(DESTDIR)$(BINDIR)/keybound-keys
	install -m 0644 $(B)/pam_keybound.so $(DESTDIR)$(PAMDIR)/pam_keybound.so
	install -m 0644 man/keybound.1 $(DESTDIR)$(MANDIR)/man1/keybound.1
	install -m 0644 man/keybound.conf.5 $(DESTDIR)$(MANDIR)/man5/keybound.conf.5
	install -m 0644 man/keybound-keys.8 $(DESTDIR)$(MANDIR)/man8/keybound-keys.8
	install -m 0644 man/pam_keybound.8 $(DESTDIR)$(MANDIR)/man8/pam_keybound.8

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/keybound $(DESTDIR)$(BINDIR)/keybound-keys \
	    $(DESTDIR)$(PAMDIR)/pam_keybound.so \
	    $(DESTDIR)$(MANDIR)/man1/keybound.1 \
	    $(DESTDIR)$(MANDIR)/man5/keybound.conf.5 \
	    $(DESTDIR)$(MANDIR)/man8/keybound-keys.8 \
	    $(DESTDIR)$(MANDIR)/man8/pam_keybound.8
	-rmdir --ignore-fail-on-non-empty $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 2>/dev/null

# dpkg-buildpackage runs in a copy of the tree under $(B)/deb, so the
# source tree gets no debian/ build products; the .deb files end up in $(B)/.
DEB_JOBS ?= auto
DEB_TREE := Makefile LICENSE README.md admin config-examples debian keycmd \
	lib man pam_module
deb:
	rm -rf $(B)/deb
	mkdir -p $(B)/deb/keybound
	tar -cf - $(DEB_TREE) | tar -C $(B)/deb/keybound -xf -
	cd $(B)/deb/keybound && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    dpkg-buildpackage -us -uc -b -J$(DEB_JOBS)
	cp $(B)/deb/*.deb $(B)/

clean:
	rm -rf $(B)

# admin-selftest compiles the admin sources into itself.
$(B)/tests/tools/admin-selftest.o: $(wildcard admin/*.c admin/*.h)
