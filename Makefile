# The two commands of README.md. Both install what they need first.
.PHONY: setup demo test bench

setup:
	bash scripts/install-deps.sh

demo: setup
	npm run --silent demo

test: setup
	npm test

bench: setup
	npm run bench
