import Curl
import Foundation

/// What to do with a request after the receiver answered (or did not).
enum SendOutcome: Equatable {
    /// 2xx. `written` holds the receiver's `X-Prometheus-Remote-Write-*-Written` counts when it
    /// sent them (Remote Write 2.0).
    case accepted(written: WrittenCounts?)
    /// A status that retrying cannot fix: the batch is dropped, counted and logged.
    case rejected(status: Int, message: String)
    /// 415 Unsupported Media Type: the receiver does not speak the protocol version we sent.
    case unsupportedMediaType(message: String)
    /// Worth trying again, after `after` when the receiver said so (`Retry-After`).
    case retry(reason: String, after: Duration?)
}

/// The counts a Remote Write 2.0 receiver reports in its response headers.
struct WrittenCounts: Equatable {
    var samples: Int?
    var histograms: Int?
    var exemplars: Int?
}

/// Which answers are retried: Remote Write's rules plus the endpoint's options.
struct RetryRules: Sendable {
    /// `queue_config.retry_on_http_429`.
    var retryOn429: Bool
    /// `queue_config.retry_on_http_status`: further statuses to retry (besides 5xx and 429).
    var extraStatuses: Set<Int> = []
    /// Retry 401 and 403: the credentials come from a file that may be rotated (the sender
    /// re-reads it before each retry), so a refusal is not the samples' fault.
    var retryUnauthorized = false
    /// Longest receiver message kept for the log of a rejected batch.
    static let maxMessageLength = 512

    /// 2xx is accepted; 5xx, 429 (unless disabled) and the extra statuses are retried, honouring
    /// `Retry-After` (seconds or an HTTP date); 415 is reported as such; any other status
    /// rejects the batch for good.
    func classify(_ response: HTTPResponse, now: Date = Date()) -> SendOutcome {
        switch response.status {
        case 200..<300:
            let samples = response.header("X-Prometheus-Remote-Write-Samples-Written").flatMap { Int($0) }
            let histograms = response.header("X-Prometheus-Remote-Write-Histograms-Written").flatMap { Int($0) }
            let exemplars = response.header("X-Prometheus-Remote-Write-Exemplars-Written").flatMap { Int($0) }
            if samples == nil && histograms == nil && exemplars == nil { return .accepted(written: nil) }
            return .accepted(written: WrittenCounts(samples: samples, histograms: histograms, exemplars: exemplars))
        case 429 where retryOn429, 500..<600:
            return retry(response, now: now)
        case let status where extraStatuses.contains(status):
            return retry(response, now: now)
        case 401 where retryUnauthorized, 403 where retryUnauthorized:
            return retry(response, now: now)
        case 415:
            return .unsupportedMediaType(message: Self.message(of: response))
        default:
            return .rejected(status: response.status, message: Self.message(of: response))
        }
    }

    private func retry(_ response: HTTPResponse, now: Date) -> SendOutcome {
        .retry(
            reason: "server returned HTTP status \(response.status): \(Self.message(of: response))",
            after: response.header("Retry-After").flatMap { Self.parseRetryAfter($0, now: now) })
    }

    /// The receiver's message, trimmed and cut to ``maxMessageLength`` bytes.
    static func message(of response: HTTPResponse) -> String {
        let text = String(decoding: response.body.prefix(maxMessageLength), as: UTF8.self)
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return response.body.count > maxMessageLength ? trimmed + "…" : trimmed
    }

    /// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3: IMF-fixdate, and the
    /// obsolete RFC 850 and asctime forms). A date in the past is no delay; nil when unreadable.
    static func parseRetryAfter(_ value: String, now: Date) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(text) { return seconds >= 0 ? .seconds(seconds) : nil }
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) {
                let delay = date.timeIntervalSince(now)
                return .milliseconds(Int64(max(0, delay) * 1000))
            }
        }
        return nil
    }
}

/// Exponential backoff between `min_backoff` and `max_backoff`: each retry doubles the wait.
struct Backoff {
    let minimum: Duration
    let maximum: Duration
    private(set) var current: Duration

    init(minimum: Duration, maximum: Duration) {
        self.minimum = minimum
        self.maximum = max(minimum, maximum)
        current = minimum
    }

    /// The wait before the next attempt: the current backoff, or the receiver's `Retry-After`
    /// when that is longer. Doubles the backoff for the attempt after.
    mutating func next(retryAfter: Duration? = nil) -> Duration {
        let wait = retryAfter.map { Swift.max($0, current) } ?? current
        current = Swift.min(current * 2, maximum)
        return wait
    }

    mutating func reset() { current = minimum }
}
