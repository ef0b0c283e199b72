# The two commands of README.md. Both install what they need first.
.PHONY: setup demo test bench executable

setup:
	bash scripts/install-deps.sh

demo: setup
	npm run --silent demo

test: setup
	npm test

bench: setup
	npm run bench

# build/vouch: the CLI as one executable that runs without Node.js (scripts/build-executable.ts).
executable: setup
	npm run --silent executable
