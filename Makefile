# ovirt-node installer toolkit.
# The two commands a newcomer needs are `make demo` and `make check`; both
# install what they need (Debian packages, the .venv) first, and are idempotent.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
OUT := out

# Debian packages the engine, its tests and the VM harness use.
APT_PACKAGES := \
	lvm2 thin-provisioning-tools kpartx dmsetup squashfs-tools e2fsprogs xfsprogs \
	dosfstools mtools parted gdisk fdisk rsync acl attr cpio zstd xz-utils kmod udev \
	qemu-system-x86 linux-image-amd64 busybox-static initramfs-tools \
	dbus python3-gi python3-blockdev gir1.2-blockdev-2.0 libblockdev-utils2 \
	libblockdev-lvm2 libblockdev-fs2 libblockdev-part2 libblockdev-swap2 \
	libblockdev-loop2 libblockdev-mdraid2 libblockdev-crypto2 libblockdev-dm2 \
	libblockdev-mpath2 libblockdev-btrfs2 libblockdev-nvdimm2 \
	python3-bytesize python3-parted python3-pyudev python3-venv \
	xorriso isolinux syslinux-common syslinux-utils grub-efi-amd64-bin \
	grub-pc-bin grub2-common ovmf isomd5sum genisoimage rpm gettext xvfb xauth gir1.2-gtk-3.0 tmux \
	cockpit-ws cockpit-bridge chromium chromium-driver mmdebstrap gpg gpg-agent gpgv \
	dnf python3-rpm createrepo-c dnf-plugins-core

.PHONY: deps apt venv check demo bench clean

deps: apt venv ansible-test-wheels

# $(call apt_install,PACKAGES): installs only the packages that are missing,
# so a second run is instant.
define apt_install
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

apt:
	$(call apt_install,$(APT_PACKAGES))

# The venv sees Debian's gi/blockdev/parted bindings; blivet 3.7 is the last
# release that speaks libblockdev 2.x, which Debian 12 ships.
venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q 'blivet==3.7.*' -e '.[test]'
	touch $@

# ansible-test (from the ansible-core the test extra pins) installs each sanity
# test's pinned requirements into a virtualenv of its own and bootstraps pip
# there with a script it downloads. The wheels of all of them, and of the pip it
# bootstraps, are fetched here from PyPI once, so tests/unit/test_ansible_collection.py
# runs `ansible-test sanity` and `units` offline (a private HOME whose pip.conf
# says no-index, and a stand-in bootstrap script that installs pip from its wheel).
ANSIBLE_TEST_WHEELS := $(VENV)/share/ovirt-node-ansible-test/wheels
.PHONY: ansible-test-wheels
ansible-test-wheels: $(ANSIBLE_TEST_WHEELS)/.complete

$(ANSIBLE_TEST_WHEELS)/.complete: $(VENV)/.installed
	@data=$$($(PY) -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_data; \
	pip=$$($(PY) -c 'import ansible_test._internal.python_requirements as r; \
		from types import SimpleNamespace as N; print(r.get_venv_packages(N(version="3.11"))["pip"])'); \
	mkdir -p $(ANSIBLE_TEST_WHEELS) && \
	$(PY) -m pip download -q --only-binary=:all: --python-version 3.11 -d $(ANSIBLE_TEST_WHEELS) \
		"pip==$$pip" $$(for f in $$data/requirements/sanity.*.txt; do echo -r $$f; done) && \
	echo "$$pip" > $(ANSIBLE_TEST_WHEELS)/pip-version
	touch $@

# Every test: unit tests on the host, the real-LVM tests inside a qemu VM and
# the Cockpit page in Chromium against a node in a VM (the page is built
# first, its npm packages from the lockfile). tests/anaconda needs Anaconda's
# sources (make check-anaconda), which CI has not.
# Two phases, one after the other (measured here: a TCG VM beside the host
# tests, or beside another VM, ran two to four times slower, which cost more
# than running them side by side gained):
#  1. the host tests, two pytest-xdist workers, a file at a time;
#  2. the VM stories alone, one after the other (tests/conftest.py: VM_ORDER).
# Both phases run whatever the first gave; the exit status is the first
# failure's. The VM phase prints each VM module's time and the whole check's
# (CHECK_STARTED).
# Left out, to keep within CI's time: the busybox install story
# (tests/vm/test_install_vm.py, about 9 minutes alone): make check-install-vm.
PYTEST := $(PY) -m pytest -q -ra
check: deps cockpit
	@export CHECK_STARTED=$$(date +%s); status=0; \
	$(PYTEST) -n 2 --dist loadfile --ignore=tests/anaconda --ignore=tests/vm || status=$$?; \
	$(PYTEST) tests/vm --ignore=tests/vm/test_install_vm.py || { s=$$?; [ $$status -ne 0 ] || status=$$s; }; \
	exit $$status

.PHONY: check-install-vm
check-install-vm: deps cockpit
	$(PYTEST) tests/vm/test_install_vm.py

# The add-on driven by real Anaconda (tests/anaconda): its boss activates the
# add-on through start-module, reads good and bad kickstarts, runs the tasks
# with its task proxies, and its TUI collection finds and renders the spoke.
# ANACONDA_SRC is an rhinstaller/anaconda source tree, MEH_SRC a python-meh
# one (its TUI imports meh). Installs what Anaconda's Python needs first.
ANACONDA_APT := python3-pwquality gir1.2-nm-1.0 python3-systemd libxkbregistry-dev locales
ANACONDA_PIP := requests-file requests-ftp iso639==0.1.4 langtable xkbregistry productmd pytz
.PHONY: check-anaconda anaconda-deps
anaconda-deps: deps
	$(call apt_install,$(ANACONDA_APT))
	@$(PY) -c 'import importlib.metadata as m; \
		[m.version(p) for p in "$(filter-out iso639==%,$(ANACONDA_PIP))".split()]; \
		assert m.version("iso639") == "0.1.4"' 2>/dev/null || \
		$(PY) -m pip install -q $(ANACONDA_PIP)

check-anaconda: anaconda-deps
	@test -f "$(ANACONDA_SRC)/pyanaconda/__init__.py" || \
		{ echo "make check-anaconda ANACONDA_SRC=DIR MEH_SRC=DIR: DIR of Anaconda's sources"; exit 2; }
	@test -f "$(MEH_SRC)/meh/__init__.py" || \
		{ echo "make check-anaconda ANACONDA_SRC=DIR MEH_SRC=DIR: DIR of python-meh's sources"; exit 2; }
	ANACONDA_SRC=$(abspath $(ANACONDA_SRC)) MEH_SRC=$(abspath $(MEH_SRC)) \
		$(PY) -m pytest -q -ra tests/anaconda

# The main job on the built-in demo, the real node (squashfs-build/node/):
# build it (or reuse the cached one), install it onto a blank sparse 32 GiB
# disk inside a VM, boot it by its own GRUB, show health and Cockpit, update
# it online and reboot into the new layer.
demo: deps cockpit
	$(PY) -m tests.support.demo

# Speed figures: every path against its peers and its floor in one run, over
# alternating rounds (min/median/max, ratios, targets), also written to
# out/bench.json. Every bench runs; the target fails if any target is missed.
bench: deps
	rm -f $(OUT)/bench.json; status=0; \
	$(PY) tests/bench/bench_deploy.py --json || status=1; \
	$(PY) tests/bench/bench_iso_remaster.py --json --keep $(OUT)/bench/iso || status=1; \
	$(PY) tests/bench/bench_ks_render.py --json || status=1; \
	$(PY) tests/bench/bench_ks_validate.py --json || status=1; \
	exit $$status

# The demo node image (a bootable busybox root with Debian's kernel), built by
# the recipe in squashfs-build/demo/ only when it is missing.
.PHONY: demo-image
demo-image: $(OUT)/demo/demo.squashfs

$(OUT)/demo/demo.squashfs: | deps
	PYTHON=$(PY) squashfs-build/demo/build.sh $(OUT)/demo

ANACONDA_DIR := /usr/share/anaconda
ADDON_PKG := org_ovirt_node
DBUS_NAME := org.fedoraproject.Anaconda.Addons.OvirtNode

.PHONY: install install-node-units
# The add-on as Anaconda finds it: the package under addons/, the activation
# file and bus policy under dbus/. DESTDIR=/path stages it (updates.img, RPM).
# On an installed node it also brings the node's own units (install-node-units).
install:
	install -d $(DESTDIR)$(ANACONDA_DIR)/addons $(DESTDIR)$(ANACONDA_DIR)/dbus/services \
		$(DESTDIR)$(ANACONDA_DIR)/dbus/confs
	tar -cf - --exclude=__pycache__ --exclude='*.pyc' $(ADDON_PKG) | \
		tar -xf - -C $(DESTDIR)$(ANACONDA_DIR)/addons --no-same-owner
	install -m 0644 data/$(DBUS_NAME).service $(DESTDIR)$(ANACONDA_DIR)/dbus/services/
	install -m 0644 data/$(DBUS_NAME).conf $(DESTDIR)$(ANACONDA_DIR)/dbus/confs/

.PHONY: updates potfile rpm
# updates.img for a stock installer (boot with inst.updates=URL): the add-on as
# `install` lays it out, as a gzip'd newc cpio rooted at /. Nothing else: the
# add-on's Python deps (dasbus, pykickstart, blivet, simpleline, gi) are in
# every Anaconda image already.
updates:
	rm -rf $(OUT)/updates && $(MAKE) --no-print-directory install DESTDIR=$(abspath $(OUT))/updates
	cd $(OUT)/updates && find . -mindepth 1 | LC_ALL=C sort | \
		cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -9n > ../updates.img
	@echo "$(OUT)/updates.img"

# Every user-visible string of the spokes (Python _/N_ and the glade files).
POTFILE := po/$(ADDON_PKG).pot
potfile:
	mkdir -p $(dir $(POTFILE))
	xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ --package-name=ovirt-node-anaconda-addon \
		--sort-by-file -o $(POTFILE) \
		$$(find $(ADDON_PKG)/ui $(ADDON_PKG)/tui $(ADDON_PKG)/gui -name '*.py' -o -name '*.glade' | LC_ALL=C sort)

# The noarch RPM of the add-on, built from a source tarball of what `install` needs.
RPM_NAME := ovirt-node-anaconda-addon
RPM_VERSION = $(shell sed -n 's/^Version: *//p' $(RPM_NAME).spec)
rpm:
	rm -rf $(OUT)/rpmbuild && mkdir -p $(OUT)/rpmbuild/SOURCES
	tar -czf $(OUT)/rpmbuild/SOURCES/$(RPM_NAME)-$(RPM_VERSION).tar.gz --exclude=__pycache__ \
		--exclude='*.pyc' --transform 's,^,$(RPM_NAME)-$(RPM_VERSION)/,' Makefile data $(ADDON_PKG)
	rpmbuild -bb --quiet --define "_topdir $(abspath $(OUT))/rpmbuild" $(RPM_NAME).spec
	@ls $(OUT)/rpmbuild/RPMS/noarch/*.rpm

clean:
	rm -rf $(OUT) build *.egg-info

# The Cockpit page (data/cockpit/ovirt-node/): `npm ci` from its lockfile, then
# esbuild bundles src/ into dist/ (build.js). `make check` builds it first;
# `make install` ships dist/ as /usr/share/cockpit/ovirt-node. A source tarball
# that carries dist/ but no node_modules/ (the RPM's) installs it as it is.
COCKPIT_DIR := data/cockpit/ovirt-node
COCKPIT_DEST := /usr/share/cockpit/ovirt-node
COCKPIT_SOURCES := $(wildcard $(COCKPIT_DIR)/src/*) $(wildcard $(COCKPIT_DIR)/po/*.po) \
	$(COCKPIT_DIR)/build.js
COCKPIT_POT := $(COCKPIT_DIR)/po/ovirt-node.pot

.PHONY: cockpit cockpit-potfile install-cockpit
cockpit: $(COCKPIT_DIR)/dist/index.js

$(COCKPIT_DIR)/node_modules/.package-lock.json: $(COCKPIT_DIR)/package-lock.json
	cd $(COCKPIT_DIR) && npm ci --no-audit --no-fund --prefer-offline
	touch $@

$(COCKPIT_DIR)/dist/index.js: $(COCKPIT_DIR)/node_modules/.package-lock.json $(COCKPIT_SOURCES)
	cd $(COCKPIT_DIR) && node build.js

install-cockpit: $(if $(and $(wildcard $(COCKPIT_DIR)/dist/index.js),$(if $(wildcard $(COCKPIT_DIR)/node_modules),,prebuilt)),,cockpit)
	install -d $(DESTDIR)$(COCKPIT_DEST)
	install -m 0644 $(COCKPIT_DIR)/dist/manifest.json $(COCKPIT_DIR)/dist/index.html \
		$(COCKPIT_DIR)/dist/*.js $(COCKPIT_DIR)/dist/index.css $(COCKPIT_DIR)/dist/*.woff2 \
		$(DESTDIR)$(COCKPIT_DEST)/

# Every string of the page (cockpit.gettext as _), for translators. The C lexer,
# as Cockpit does it: the JavaScript one loses its way in JSX and drops strings.
cockpit-potfile:
	xgettext --language=C --from-code=UTF-8 --keyword=_ --keyword=N_ \
		--package-name=ovirt-node-cockpit --add-location=file --sort-by-file -o $(COCKPIT_POT) \
		$$(find $(COCKPIT_DIR)/src -name '*.js' -o -name '*.jsx' | LC_ALL=C sort)

check: cockpit
rpm: cockpit
rpm: export TAR_OPTIONS = --exclude=node_modules
# updates.img is for the installer: the page and the units belong on installed nodes only.
updates: export INSTALL_COCKPIT = no
updates: export INSTALL_UNITS = no
ifneq ($(INSTALL_COCKPIT),no)
install: install-cockpit
endif
ifneq ($(INSTALL_UNITS),no)
install: install-node-units
endif

# The node's own systemd units (data/systemd/: health, boot-ok, redboot,
# finalize) and the empty health check folders an administrator fills.
UNIT_DIR := /usr/lib/systemd/system
install-node-units:
	install -d $(DESTDIR)$(UNIT_DIR) $(DESTDIR)/usr/lib/ovirt-node/health.d/required.d \
		$(DESTDIR)/usr/lib/ovirt-node/health.d/wanted.d \
		$(DESTDIR)/etc/ovirt-node/health.d/required.d $(DESTDIR)/etc/ovirt-node/health.d/wanted.d
	install -m 0644 data/systemd/*.service $(DESTDIR)$(UNIT_DIR)/

# The engine as a Debian package, the way the real node image carries it:
# the package in dist-packages, /usr/bin/ovirt-node, /usr/sbin/nodectl with its
# login line (/etc/profile.d/nodectl-motd.sh), the units and the page.
# Built reproducibly (SOURCE_DATE_EPOCH, root-owned, sorted) into out/deb/.
DEB_VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
DEB_STAGE := $(OUT)/deb/stage
DEB_FILE = $(OUT)/deb/ovirt-node_$(DEB_VERSION)_all.deb
# The epoch is the last commit that changed what the .deb holds, so a commit
# elsewhere (tests, docs) leaves the .deb, and the node images cached by it, as they are.
DEB_EPOCH = $(shell git log -1 --format=%ct -- $(ADDON_PKG) data pyproject.toml 2>/dev/null || echo 0)
.PHONY: deb
deb: cockpit
	rm -rf $(DEB_STAGE) && mkdir -p $(DEB_STAGE)/usr/lib/python3/dist-packages $(DEB_STAGE)/usr/bin
	tar -cf - --exclude=__pycache__ --exclude='*.pyc' $(ADDON_PKG) | \
		tar -xf - -C $(DEB_STAGE)/usr/lib/python3/dist-packages --no-same-owner
	install -m 0755 data/ovirt-node.py $(DEB_STAGE)/usr/bin/ovirt-node
	install -D -m 0755 data/nodectl.py $(DEB_STAGE)/usr/sbin/nodectl
	install -D -m 0644 data/nodectl-motd.sh $(DEB_STAGE)/etc/profile.d/nodectl-motd.sh
	$(MAKE) --no-print-directory install-node-units install-cockpit DESTDIR=$(abspath $(DEB_STAGE))
	mkdir -p $(DEB_STAGE)/DEBIAN
	sed 's/@VERSION@/$(DEB_VERSION)/' data/debian/control > $(DEB_STAGE)/DEBIAN/control
	install -m 0755 data/debian/postinst data/debian/prerm $(DEB_STAGE)/DEBIAN/
	find $(DEB_STAGE) -exec touch -h -d @$(DEB_EPOCH) {} +
	SOURCE_DATE_EPOCH=$(DEB_EPOCH) dpkg-deb --root-owner-group -Zxz --build $(DEB_STAGE) $(DEB_FILE) >/dev/null
	@echo $(DEB_FILE)
