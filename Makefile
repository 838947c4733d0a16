# The few commands a newcomer needs. Each is one line deep; scripts/ holds the detail.
.PHONY: demo test lint bench setup

demo: ## install, migrate, seed and run the portal, worker, beat, agency simulator, card app and sample bank
	scripts/demo

test: ## the whole suite against real PostgreSQL, Redis, a Celery worker and Chromium
	scripts/test

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:
	scripts/bench
