# Installing, and the Debian package (issue 27):
#   make install [PREFIX=/usr/local] [DESTDIR=...]
#   make deb      -> build/deb/sessiontrace_<version>_amd64.deb, built by debhelper
#                    from a copy of the tree; prints its runtime Depends
#                    (dpkg-shlibdeps) and lintian's verdict
.PHONY: install deb

PREFIX     ?= /usr/local
DESTDIR    ?=
SBINDIR    := $(PREFIX)/sbin
DATADIR    := $(PREFIX)/share
# /usr installs (the package) put the unit and the logrotate snippet where the system looks
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
VERSION    := $(shell sed -n 's/^\#define ST_VERSION "\(.*\)"/\1/p' user/util/version.h)
DEB_DIR    := $(OUT)/deb

$(OUT)/sessiontrace.8: docs/sessiontrace.8.scd | $(OUT)
	$(call msg,SCDOC,$@)
	$(Q)scdoc < $< > $@

install: $(OUT)/sessiontrace $(OUT)/sessiontrace.8
	install -D -m 0755 $(OUT)/sessiontrace $(DESTDIR)$(SBINDIR)/sessiontrace
	install -D -m 0644 $(OUT)/sessiontrace.8 $(DESTDIR)$(DATADIR)/man/man8/sessiontrace.8
	install -D -m 0644 deploy/bash-completion/sessiontrace \
		$(DESTDIR)$(DATADIR)/bash-completion/completions/sessiontrace
	install -D -m 0644 deploy/logrotate/sessiontrace $(DESTDIR)$(SYSCONFDIR)/logrotate.d/sessiontrace
	install -D -m 0644 deploy/prometheus/sessiontrace-rules.yml \
		$(DESTDIR)$(DATADIR)/sessiontrace/prometheus/sessiontrace-rules.yml
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/sbin/sessiontrace|$(SBINDIR)/sessiontrace|' \
		deploy/systemd/sessiontrace.service > $(DESTDIR)$(UNITDIR)/sessiontrace.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/sessiontrace.service

# The tracked files (a fresh clone's), built by dpkg-buildpackage in a copy.
deb:
	$(Q)rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/sessiontrace-$(VERSION)
	$(Q)git ls-files -z | xargs -0 cp --parents -t $(DEB_DIR)/sessiontrace-$(VERSION)
	$(Q)cd $(DEB_DIR)/sessiontrace-$(VERSION) && dpkg-buildpackage -us -uc -b >../build.log 2>&1 \
		|| { tail -40 ../build.log; exit 1; }
	$(Q)echo "built: $$(ls $(DEB_DIR)/sessiontrace_$(VERSION)_*.deb)"
	$(Q)echo "runtime Depends: $$(dpkg-deb -f $(DEB_DIR)/sessiontrace_$(VERSION)_*.deb Depends)"
	$(Q)lintian --fail-on error,warning $(DEB_DIR)/sessiontrace_$(VERSION)_*.deb
