@testable import Discovery
import Testing

@Suite struct WatchStreamDecoderTests {
    private func feed(_ decoder: inout WatchStreamDecoder<ClientTestPod>, _ text: String) -> ([WatchEvent<ClientTestPod>], KubernetesClientError?) {
        Array(text.utf8).withUnsafeBytes { decoder.decode($0) }
    }

    private func describe(_ events: [WatchEvent<ClientTestPod>]) -> [String] {
        events.map { event in
            switch event {
            case .added(let pod): "added \(pod.metadata.name)@\(pod.metadata.resourceVersion ?? "-")"
            case .modified(let pod): "modified \(pod.metadata.name)"
            case .deleted(let pod): "deleted \(pod.metadata.name)"
            case .bookmark(let version): "bookmark \(version)"
            }
        }
    }

    @Test func linesSplitAcrossReadsAndManyPerRead() {
        var decoder = WatchStreamDecoder<ClientTestPod>()
        let first = #"{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"5"}}}"# + "\n"
        let second = #"{"type":"MODIFIED","object":{"metadata":{"name":"a"}}}"# + "\r\n"
        let third = #"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"9","creationTimestamp":null},"spec":{"containers":null},"status":{}}}"# + "\n"
        let all = first + second + third
        let cut = all.utf8.count - 20
        let head = String(decoding: Array(all.utf8)[..<cut], as: UTF8.self)
        let tail = String(decoding: Array(all.utf8)[cut...], as: UTF8.self)

        let (events1, failure1) = feed(&decoder, head)
        #expect(describe(events1) == ["added a@5", "modified a"])
        #expect(failure1 == nil)
        let (events2, failure2) = feed(&decoder, tail + "\n")
        #expect(describe(events2) == ["bookmark 9"])
        #expect(failure2 == nil)
        #expect(events2.first?.resourceVersion == "9")
    }

    @Test func errorEventsEndTheStreamAfterTheEventsBeforeThem() {
        var decoder = WatchStreamDecoder<ClientTestPod>()
        let text = #"{"type":"DELETED","object":{"metadata":{"name":"b"}}}"# + "\n"
            + #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}"# + "\n"
            + #"{"type":"ADDED","object":{"metadata":{"name":"never"}}}"# + "\n"
        let (events, failure) = feed(&decoder, text)
        #expect(describe(events) == ["deleted b"])
        guard case .gone(let message) = failure else {
            Issue.record("expected gone, got \(String(describing: failure))")
            return
        }
        #expect(message.contains("too old"))

        var other = WatchStreamDecoder<ClientTestPod>()
        let (_, internalError) = feed(&other, #"{"type":"ERROR","object":{"kind":"Status","code":500,"reason":"InternalError","message":"boom"}}"# + "\n")
        #expect(internalError?.statusCode == 500)
    }

    @Test func unknownTypesAreSkippedAndGarbageFails() {
        var decoder = WatchStreamDecoder<ClientTestPod>()
        let (events, failure) = feed(&decoder, #"{"type":"SOMETHING","object":{}}"# + "\n\n")
        #expect(events.isEmpty)
        #expect(failure == nil)
        let (_, garbage) = feed(&decoder, "not json\n")
        guard case .decoding = garbage else {
            Issue.record("expected a decoding error, got \(String(describing: garbage))")
            return
        }
    }
}
