# The two set-up commands of the README. Both install everything they need into .venv first.
.PHONY: demo test lint venv legacy-venv bench check-extras

venv:
	@bash scripts/setup-venv.sh

# A second venv for the compatibility tests: llama-index-vector-stores-redis pins redisvl<0.5.
legacy-venv:
	@bash scripts/setup-legacy-venv.sh

demo: venv
	.venv/bin/python -m redis_rag_integrations.demo

lint: venv
	.venv/bin/ruff check redis_rag_integrations tests benchmarks
	.venv/bin/ruff format --check redis_rag_integrations tests benchmarks

# pytest exits 5 when it collected no test: make treats that as the failure it is.
# Then the install matrix: one-framework venvs and a venv at every declared lower bound (scripts/check-extras.sh).
test: lint legacy-venv
	.venv/bin/python -m pytest -q -rs --nbmake tests notebooks
	@bash scripts/check-extras.sh

# Fresh venvs under a temp dir: `.[langchain,embedded]`, `.[llama-index,embedded]`, then each at the version floors.
check-extras:
	@bash scripts/check-extras.sh

# Every benchmark side by side on one embedded Redis (REDIS_URL to use your own); writes benchmarks/results/<run>/
# (results.json, results.md, plots) and regenerates the README's performance section.
# `make bench`: quick, minutes. `make bench MODE=full`: the big figures (10k chunks, longer loops).
MODE ?= quick
bench: venv legacy-venv
	.venv/bin/python -m benchmarks.run --mode $(MODE) --update-readme
