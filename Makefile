# bisnnd: build and install the service.
#
#   make                      release build of bisnnd (swift build -c release)
#   sudo make install         binary, default model, configuration (kept if present) and systemd units
#   sudo make uninstall       removes what install put there, except the configuration
#
# PREFIX (default /usr/local), SYSCONFDIR (/etc) and DESTDIR (staging root for packagers) are honoured;
# BINARY and MODEL choose what is installed. After installing: systemctl daemon-reload, then
# systemctl enable --now bisnnd (or bisnnd@NAME with /etc/bisnnd/NAME.yaml).

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/bisnnd
CONFDIR ?= $(SYSCONFDIR)/bisnnd
UNITDIR ?= $(PREFIX)/lib/systemd/system

SWIFT ?= swift
SCRATCH ?= .build
BINARY ?= $(SCRATCH)/release/bisnnd
MODEL ?= models/bisnn-default.safetensors
MODEL_NAME := bisnn-default.safetensors
INSTALL ?= install

SOURCES := Package.swift $(shell find Sources -name '*.swift' 2>/dev/null)

.PHONY: all build install uninstall check-config

all: build

build:
	$(SWIFT) build -c release --product bisnnd --scratch-path $(SCRATCH)

# Built when missing or older than the sources; `make install` run with sudo does not rebuild otherwise.
$(SCRATCH)/release/bisnnd: $(SOURCES)
	$(SWIFT) build -c release --product bisnnd --scratch-path $(SCRATCH)

install: $(BINARY)
	@test -f "$(MODEL)" || { echo "make install: no model at $(MODEL): train one (bisnn train ...) or pass MODEL=path" >&2; exit 1; }
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(DATADIR)" "$(DESTDIR)$(CONFDIR)" "$(DESTDIR)$(UNITDIR)"
	$(INSTALL) -m 0755 "$(BINARY)" "$(DESTDIR)$(BINDIR)/bisnnd"
	$(INSTALL) -m 0644 "$(MODEL)" "$(DESTDIR)$(DATADIR)/$(MODEL_NAME)"
	@if [ -e "$(DESTDIR)$(CONFDIR)/bisnnd.yaml" ]; then \
		echo "keeping $(DESTDIR)$(CONFDIR)/bisnnd.yaml (the shipped one is config/bisnnd.yaml)"; \
	else \
		sed -e 's#^  path: models/bisnn-default.safetensors$$#  path: $(DATADIR)/$(MODEL_NAME)#' config/bisnnd.yaml \
			> "$(DESTDIR)$(CONFDIR)/bisnnd.yaml.tmp" && \
		chmod 0644 "$(DESTDIR)$(CONFDIR)/bisnnd.yaml.tmp" && \
		mv "$(DESTDIR)$(CONFDIR)/bisnnd.yaml.tmp" "$(DESTDIR)$(CONFDIR)/bisnnd.yaml" && \
		echo "installed $(DESTDIR)$(CONFDIR)/bisnnd.yaml"; \
	fi
	for unit in bisnnd.service bisnnd@.service; do \
		sed -e 's#/usr/local/bin/bisnnd#$(BINDIR)/bisnnd#' -e 's#/etc/bisnnd/#$(CONFDIR)/#g' "systemd/$$unit" \
			> "$(DESTDIR)$(UNITDIR)/$$unit.tmp" && \
		chmod 0644 "$(DESTDIR)$(UNITDIR)/$$unit.tmp" && \
		mv "$(DESTDIR)$(UNITDIR)/$$unit.tmp" "$(DESTDIR)$(UNITDIR)/$$unit" || exit 1; \
	done
	@echo "next: systemctl daemon-reload && systemctl enable --now bisnnd"

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/bisnnd" "$(DESTDIR)$(DATADIR)/$(MODEL_NAME)" \
		"$(DESTDIR)$(UNITDIR)/bisnnd.service" "$(DESTDIR)$(UNITDIR)/bisnnd@.service"
	rmdir "$(DESTDIR)$(DATADIR)" 2>/dev/null || true
	@echo "kept $(DESTDIR)$(CONFDIR) (remove it by hand if no longer wanted); then: systemctl daemon-reload"

# Checks config/bisnnd.yaml and the model it names with the release binary.
check-config: $(BINARY)
	"$(BINARY)" --check-config --config config/bisnnd.yaml
