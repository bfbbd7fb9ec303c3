// The helpers every end-to-end test uses: TestHTTPServer, ChildProcess, freePort, eventually.
@_exported import TestSupport
