# The two commands a newcomer needs (see README.md):
#   make run   — build the agent (release) and run it against a local Prometheus hub
#   make test  — build and run the whole test suite, end-to-end tests included
.PHONY: run test build deps-run deps-test clean

run: deps-run
	swift build -c release --product agent
	scripts/run-demo.sh

test: deps-test
	swift build --build-tests
	swift test --skip-build

build:
	scripts/install-deps.sh build
	swift build -c release --product agent

deps-run:
	scripts/install-deps.sh run

deps-test:
	scripts/install-deps.sh test

clean:
	rm -rf .build
