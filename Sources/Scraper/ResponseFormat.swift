import AgentConfig
import Exposition

/// How a scrape response is parsed, chosen from its `Content-Type` as Prometheus 3 chooses
/// (`textparse.New`): `application/openmetrics-text` (any version or parameters) is OpenMetrics,
/// `text/plain` is the text format; a missing, malformed or other `Content-Type` means the job's
/// `fallback_scrape_protocol`, and without one the scrape fails (Prometheus 2 fell back to the
/// text format silently). The protobuf format is recognised but not parsed: it fails the scrape.
enum ResponseFormat {
    static func choose(contentType: String?, fallback: ScrapeProtocol?) throws(ScrapeFailure) -> ExpositionFormat {
        let contentType = contentType ?? ""
        if contentType.isEmpty {
            guard let fallback else {
                throw ScrapeFailure("non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target")
            }
            return try format(ofMediaType: fallback.mediaType, contentType: contentType)
        }
        guard let mediaType = MediaType.parse(contentType) else {
            guard let fallback else {
                throw ScrapeFailure("cannot parse Content-Type \"\(contentType)\" and no fallback_scrape_protocol for target")
            }
            return try format(ofMediaType: fallback.mediaType, contentType: contentType)
        }
        switch mediaType {
        case "application/openmetrics-text", "text/plain", "application/vnd.google.protobuf":
            return try format(ofMediaType: mediaType, contentType: contentType)
        default:
            guard let fallback else {
                throw ScrapeFailure("received unsupported Content-Type \"\(contentType)\" and no fallback_scrape_protocol specified for target")
            }
            return try format(ofMediaType: fallback.mediaType, contentType: contentType)
        }
    }

    private static func format(ofMediaType mediaType: String, contentType: String) throws(ScrapeFailure) -> ExpositionFormat {
        switch mediaType {
        case "application/openmetrics-text": return .openMetrics
        case "text/plain": return .prometheusText
        default:
            throw ScrapeFailure("Content-Type \"\(contentType)\": the protobuf exposition format is not supported by this agent")
        }
    }
}
