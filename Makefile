# The two commands a newcomer needs (see README.md):
#   make run   — build the agent (release) and run it against a local Prometheus hub
#   make test  — build and run the whole test suite, end-to-end tests included
.PHONY: run test build deps-run deps-test clean

run: deps-run
	swift build -c release --product agent
	scripts/run-demo.sh

# Unit and component tests first, then the end-to-end suites (real Prometheus, VictoriaMetrics,
# node_exporter, kill -9 runs) on their own, then the 2,000-target dead-targets test alone (it
# keeps a debug agent and 4,000 sockets busy for under 3 minutes, and measures lateness), then
# the Kubernetes discovery scale test alone, on a release build of the agent (10,000 pods,
# ~16,000 targets: the debug build is several times slower, and it would starve the suites
# running beside it).
test: deps-test
	swift build --build-tests
	swift test --skip-build --skip EndToEndTests
	swift test --skip-build --filter EndToEndTests --skip DeadTargetsTests --skip KubernetesScaleTests
	swift test --skip-build --filter DeadTargetsTests
	swift build -c release --product agent
	AGENT_BINARY=.build/release/agent swift test --skip-build --filter KubernetesScaleTests

build:
	scripts/install-deps.sh build
	swift build -c release --product agent

deps-run:
	scripts/install-deps.sh run

deps-test:
	scripts/install-deps.sh test

clean:
	rm -rf .build
