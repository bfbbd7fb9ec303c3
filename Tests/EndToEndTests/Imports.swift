// The helpers every end-to-end test uses: ChildProcess, Paths, freePort, eventually, TestHTTPServer,
// CounterTarget, Locked (TestSupport), and TestClient (this target) for HTTP.
@_exported import TestSupport
