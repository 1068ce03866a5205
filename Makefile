# Thin entry point: a local .venv holds tox, and tox does the rest.
PYTHON ?= python3
VENV   := .venv
TOX    := $(VENV)/bin/tox
READY  := $(VENV)/.installed

.PHONY: conformance test thorough clean

conformance: $(READY)  ## run the conformance suite
	$(TOX) -e conformance

test: $(READY)  ## run the project's own tests
	$(TOX) -e py

thorough: $(READY)  ## the project's own tests with the thorough Hypothesis profile
	$(TOX) -e thorough

# .venv holds tox and the mem0-conformance command itself (`source .venv/bin/activate` puts it on PATH),
# installed again when pyproject.toml changes (a new dependency reaches the command, not only tox's envs).
$(READY): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet "tox>=4.20,<5" --editable .
	touch $@

clean:
	rm -rf $(VENV) .tox build *.egg-info reports/specs
