import AgentConfig
import Model
import NIOCore
import Scraper

/// The `state` and `scrapePool` parameters of `GET /api/v1/targets`, read as Prometheus reads
/// them: `state` is `active`, `dropped` or `any` in any case (absent or empty: `any`; anything
/// else shows neither list); an absent or empty `scrapePool` shows every pool.
struct TargetsFilter: Sendable, Equatable {
    var showActive: Bool
    var showDropped: Bool
    /// `nil`: every pool.
    var scrapePool: String?

    init(showActive: Bool = true, showDropped: Bool = true, scrapePool: String? = nil) {
        self.showActive = showActive
        self.showDropped = showDropped
        self.scrapePool = scrapePool
    }

    init(query: [String: String]) {
        let state = (query["state"] ?? "").lowercased()
        showActive = state == "" || state == "any" || state == "active"
        showDropped = state == "" || state == "any" || state == "dropped"
        scrapePool = query["scrapePool"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func includes(pool: String) -> Bool { scrapePool == nil || scrapePool == pool }
}

/// The answer to `GET /api/v1/targets` for one snapshot of the targets, written as JSON a chunk
/// at a time, so that the whole answer (84 MB for 16,000 Kubernetes targets) is never held in
/// memory: what is held is the snapshot, which shares its strings and label bytes with the
/// scraper, and the chunk being written.
///
/// The shape is Prometheus's, keys in sorted order:
/// `{"data":{"activeTargets":[…],"droppedTargets":[…]},"status":"success"}`; an active target
/// has `discoveredLabels`, `globalUrl`, `health`, `labels`, `lastError`, `lastScrape`,
/// `lastScrapeDuration`, `scrapeInterval`, `scrapePool`, `scrapeTimeout`, `scrapeUrl`, a dropped
/// one `discoveredLabels` and `scrapePool`. Active targets come in the snapshot's order
/// (`ScrapeManager.targetStatus`: by pool, then URL), dropped ones by pool. Labels are written
/// from their bytes (sorted by name), strings escaped by ``NIOCore/ByteBuffer/writeJSONString(_:)-(UnsafeRawBufferPointer)``.
struct TargetsResponseWriter: ChunkedBody {
    typealias ActiveEntry = (target: Target, lastScrape: ScrapeReport?)
    typealias DroppedEntry = DiscoveredTarget

    private let active: [ActiveEntry]
    private let dropped: [DroppedEntry]
    private let filter: TargetsFilter
    /// Replaces a loopback host in `globalUrl` (Prometheus: the host of its external URL, by
    /// default `os.Hostname()`).
    private let hostName: String
    private var position = Position.opening
    /// The last interval or timeout formatted, as most targets share them.
    private var formattedDurations: [(Duration, String)] = []

    private enum Position {
        case opening
        /// The next active entry to look at, and whether one was written before it.
        case active(next: Int, wroteOne: Bool)
        case dropped(next: Int, wroteOne: Bool)
        case closing
        case finished
    }

    init(active: [ActiveEntry], dropped: [DroppedEntry], filter: TargetsFilter, hostName: String) {
        self.active = filter.showActive ? active : []
        // Prometheus lists dropped targets by pool name; within a pool in discovery order.
        self.dropped = filter.showDropped ? Self.stableSortedByJob(dropped) : []
        self.filter = filter
        self.hostName = hostName
    }

    /// Whether the whole answer has been written.
    var isFinished: Bool {
        if case .finished = position { return true }
        return false
    }

    /// Appends the next part of the answer to `buffer` until `buffer` holds at least
    /// `minimumBytes` readable bytes or the answer is complete. A target is never split: a chunk
    /// exceeds `minimumBytes` by less than one target's size. Does nothing once ``isFinished``.
    mutating func write(into buffer: inout ByteBuffer, minimumBytes: Int) {
        while buffer.readableBytes < minimumBytes {
            switch position {
            case .opening:
                buffer.writeStaticString(#"{"data":{"activeTargets":["#)
                position = .active(next: 0, wroteOne: false)
            case .active(var next, let wroteOne):
                while next < active.count && !filter.includes(pool: active[next].target.job) { next += 1 }
                guard next < active.count else {
                    buffer.writeStaticString(#"],"droppedTargets":["#)
                    position = .dropped(next: 0, wroteOne: false)
                    continue
                }
                if wroteOne { buffer.writeInteger(UInt8(ascii: ",")) }
                writeActive(active[next], into: &buffer)
                position = .active(next: next + 1, wroteOne: true)
            case .dropped(var next, let wroteOne):
                while next < dropped.count && !filter.includes(pool: dropped[next].job) { next += 1 }
                guard next < dropped.count else {
                    position = .closing
                    continue
                }
                if wroteOne { buffer.writeInteger(UInt8(ascii: ",")) }
                buffer.writeStaticString(#"{"discoveredLabels":"#)
                Self.writeLabels(dropped[next].discoveredLabels, into: &buffer)
                buffer.writeStaticString(#","scrapePool":"#)
                buffer.writeJSONString(dropped[next].job)
                buffer.writeInteger(UInt8(ascii: "}"))
                position = .dropped(next: next + 1, wroteOne: true)
            case .closing:
                buffer.writeStaticString(#"]},"status":"success"}"#)
                position = .finished
            case .finished:
                return
            }
        }
    }

    private mutating func writeActive(_ entry: ActiveEntry, into buffer: inout ByteBuffer) {
        let target = entry.target
        let report = entry.lastScrape
        let url = target.url
        buffer.writeStaticString(#"{"discoveredLabels":"#)
        Self.writeLabels(target.discoveredLabels, into: &buffer)
        buffer.writeStaticString(#","globalUrl":"#)
        if let host = Self.loopbackHost(ofAddress: target.address) {
            // The URL is "scheme://address…": the host is replaced where it stands.
            let hostStart = url.utf8.index(url.utf8.startIndex, offsetBy: target.scheme.utf8.count + 3)
            let hostEnd = url.utf8.index(hostStart, offsetBy: host.utf8.count)
            buffer.writeJSONString(String(url[..<hostStart]) + hostName + String(url[hostEnd...]))
        } else {
            buffer.writeJSONString(url)
        }
        buffer.writeStaticString(#","health":"#)
        switch report {
        case nil: buffer.writeStaticString(#""unknown""#)
        case .some(let report) where report.error == nil: buffer.writeStaticString(#""up""#)
        case .some: buffer.writeStaticString(#""down""#)
        }
        buffer.writeStaticString(#","labels":"#)
        Self.writeLabels(target.labels, into: &buffer)
        buffer.writeStaticString(#","lastError":"#)
        buffer.writeJSONString(report?.error ?? "")
        buffer.writeStaticString(#","lastScrape":""#)
        if let report {
            Self.writeRFC3339(milliseconds: report.timestamp, into: &buffer)
        } else {
            // Go's zero time, as Prometheus shows a target not scraped yet.
            buffer.writeStaticString("0001-01-01T00:00:00Z")
        }
        buffer.writeStaticString(#"","lastScrapeDuration":"#)
        let seconds = report?.duration.seconds ?? 0
        buffer.writeString(seconds.isFinite ? "\(seconds)" : "0")
        buffer.writeStaticString(#","scrapeInterval":"#)
        buffer.writeJSONString(formatted(target.interval))
        buffer.writeStaticString(#","scrapePool":"#)
        buffer.writeJSONString(target.job)
        buffer.writeStaticString(#","scrapeTimeout":"#)
        buffer.writeJSONString(formatted(target.timeout))
        buffer.writeStaticString(#","scrapeUrl":"#)
        buffer.writeJSONString(url)
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    private mutating func formatted(_ duration: Duration) -> String {
        if let known = formattedDurations.first(where: { $0.0 == duration }) { return known.1 }
        let text = PrometheusDuration.format(duration)
        if formattedDurations.count < 8 { formattedDurations.append((duration, text)) }
        return text
    }

    /// `{"name":"value",…}` in the labels' order (sorted by name).
    static func writeLabels(_ labels: Labels, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "{"))
        var first = true
        labels.forEach { name, value in
            if !first { buffer.writeInteger(UInt8(ascii: ",")) }
            first = false
            buffer.writeJSONString(name)
            buffer.writeInteger(UInt8(ascii: ":"))
            buffer.writeJSONString(value)
        }
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    /// The host part of `host:port`, `[v6]:port` or `host` when it is a loopback host
    /// (`localhost`, `127.x.x.x`, `::1`), as Prometheus's `getGlobalURL` decides it; else `nil`.
    static func loopbackHost(ofAddress address: String) -> Substring? {
        let host: Substring
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            host = address[...close]
            return host == "[::1]" ? host : nil
        } else if let colon = address.lastIndex(of: ":") {
            host = address[..<colon]
        } else {
            host = address[...]
        }
        if host == "localhost" { return host }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127", octets.allSatisfy({ UInt8($0) != nil }) else { return nil }
        return host
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) for milliseconds since the epoch: what
    /// `Date.ISO8601FormatStyle` with fractional seconds writes, without its cost.
    static func writeRFC3339(milliseconds: Int64, into buffer: inout ByteBuffer) {
        let (secondsSinceEpoch, millisecond) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        var seconds = secondsSinceEpoch
        var ms = millisecond
        if ms < 0 {
            ms += 1000
            seconds -= 1
        }
        var (days, secondOfDay) = seconds.quotientAndRemainder(dividingBy: 86_400)
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        // Howard Hinnant's civil_from_days: proleptic Gregorian calendar, days from 1970-01-01.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        writeDigits(year, count: 4, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "-"))
        writeDigits(month, count: 2, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "-"))
        writeDigits(day, count: 2, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "T"))
        writeDigits(secondOfDay / 3600, count: 2, into: &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
        writeDigits(secondOfDay / 60 % 60, count: 2, into: &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
        writeDigits(secondOfDay % 60, count: 2, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "."))
        writeDigits(ms, count: 3, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "Z"))
    }

    /// `value` (0…9999) in decimal, zero-padded to `count` digits.
    private static func writeDigits(_ value: Int64, count: Int, into buffer: inout ByteBuffer) {
        var divisor: Int64 = 1
        for _ in 1..<count { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            buffer.writeInteger(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
            rest %= divisor
            divisor /= 10
        }
    }

    private static func stableSortedByJob(_ entries: [DroppedEntry]) -> [DroppedEntry] {
        entries.enumerated().sorted { $0.element.job == $1.element.job ? $0.offset < $1.offset : $0.element.job < $1.element.job }
            .map(\.element)
    }
}
