import AgentConfig
import Testing

/// A password in a URL's user information is shown as `xxxxx`, as Go's `url.URL.Redacted()`
/// shows it; nothing else of the URL changes.
@Suite("Redacted URLs")
struct RedactedURLTests {
    @Test(arguments: [
        ("https://user:s3cret@hub.example/api/v1/write", "https://user:xxxxx@hub.example/api/v1/write"),
        ("http://user:pa:ss@hub:9090/push?x=1", "http://user:xxxxx@hub:9090/push?x=1"),
        ("https://user:@hub/write", "https://user:xxxxx@hub/write"),
        ("https://a%40b:p%2Fw@hub/write", "https://a%40b:xxxxx@hub/write"),
        ("https://us@er:p@ss@hub/write", "https://us@er:xxxxx@hub/write"),
    ])
    func aPasswordIsReplaced(url: String, shown: String) {
        #expect(RedactedURL(url).description == shown)
    }

    @Test(arguments: [
        "https://hub.example/api/v1/write",
        "https://user@hub.example/api/v1/write",
        "https://hub.example/write?to=a:b@c",
        "https://hub.example/user:pw@path",
        "nowhere",
    ])
    func aURLWithoutPasswordIsShownAsWritten(url: String) {
        #expect(RedactedURL(url).description == url)
    }

    @Test func scrubReplacesTheURLsUserInformationInOtherText() {
        let url = RedactedURL("https://user:s3cret@hub/write")
        let message = #"curl error 3 (invalidURL): invalid URL "https://user:s3cret@hub/write" (again https://user:s3cret@hub/write)"#
        #expect(url.scrub(message) == #"curl error 3 (invalidURL): invalid URL "https://user:xxxxx@hub/write" (again https://user:xxxxx@hub/write)"#)
        #expect(RedactedURL("https://hub/write").scrub(message) == message)
    }

    @Test func anInvalidRemoteWriteURLIsReportedWithoutItsPassword() throws {
        let yaml = "remote_write:\n  - url: htps://user:s3cret@hub/write\n"
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "f.yml")
            Issue.record("accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains("invalid URL \"htps://user:xxxxx@hub/write\""), "\(text)")
            #expect(!text.contains("s3cret"), "\(text)")
        }
    }

    @Test func remoteWriteConfigShowsItsURLRedacted() throws {
        let configuration = try ConfigLoader.parse(yaml: "remote_write:\n  - url: https://user:s3cret@hub/write\n", file: "f.yml")
        let remote = try #require(configuration.remoteWrite.first)
        #expect(remote.url == "https://user:s3cret@hub/write", "the configured URL is kept for requests")
        #expect(remote.redactedURL.description == "https://user:xxxxx@hub/write")
    }
}
