# Thin entry point: a local .venv holds tox, and tox does the rest.
PYTHON ?= python3
VENV   := .venv
TOX    := $(VENV)/bin/tox

.PHONY: conformance test thorough clean

conformance: $(TOX)  ## run the conformance suite
	$(TOX) -e conformance

test: $(TOX)  ## run the project's own tests
	$(TOX) -e py

thorough: $(TOX)  ## the project's own tests with the thorough Hypothesis profile
	$(TOX) -e thorough

# .venv holds tox and the mem0-conformance command itself (`source .venv/bin/activate` puts it on PATH).
$(TOX):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet "tox>=4.20,<5" --editable .

clean:
	rm -rf $(VENV) .tox build *.egg-info reports/specs
