#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which proxy, if any, a request goes through: Prometheus's `proxy_url`, `no_proxy` and
/// `proxy_from_environment`, with the meaning of Go's `net/http` and `golang.org/x/net/http/httpproxy`
/// that Prometheus uses. A value type without I/O: the environment is read by the caller, once,
/// as Prometheus reads it once per client.
///
/// - `proxy_url` alone: every request goes through the proxy, loopback targets included
///   (Go's `http.ProxyURL`).
/// - `proxy_url` with `no_proxy`, and `proxy_from_environment`: `httpproxy`'s rules. `http://`
///   URLs use the HTTP proxy, `https://` URLs the HTTPS proxy; `localhost` and loopback
///   addresses are never proxied; a `NO_PROXY` entry matches an IP address (with an optional
///   port), a CIDR range, a domain and its subdomains (`example.com`), subdomains only
///   (`.example.com` or `*.example.com`), optionally with a port, or everything (`*`).
public struct ProxySelector: Sendable, Equatable {
    /// For `http://` URLs.
    var httpProxy: String?
    /// For `https://` URLs.
    var httpsProxy: String?
    /// `httpproxy`'s rules (loopback exemption, `NO_PROXY`) apply; false for a bare `proxy_url`.
    var filtered: Bool
    var noProxy: NoProxyList
    /// Go refuses `HTTP_PROXY` when `REQUEST_METHOD` is set (a CGI environment).
    var cgi: Bool

    /// No proxy at all.
    public static let direct = ProxySelector(httpProxy: nil, httpsProxy: nil, filtered: false, noProxy: NoProxyList(""), cgi: false)

    /// `proxy_url` (every request), or with `noProxy` (`httpproxy` rules for both schemes).
    public init(proxyURL: String, noProxy: String? = nil) {
        self.init(
            httpProxy: proxyURL, httpsProxy: proxyURL, filtered: noProxy != nil, noProxy: NoProxyList(noProxy ?? ""), cgi: false)
    }

    /// `proxy_from_environment`: `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`, each upper case first
    /// then lower case, the first non-empty one winning, as `httpproxy.FromEnvironment` reads them.
    public init(environment: [String: String]) {
        func value(_ names: String...) -> String? {
            names.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        }
        self.init(
            httpProxy: value("HTTP_PROXY", "http_proxy").map(Self.withScheme),
            httpsProxy: value("HTTPS_PROXY", "https_proxy").map(Self.withScheme),
            filtered: true,
            noProxy: NoProxyList(value("NO_PROXY", "no_proxy") ?? ""),
            cgi: !(environment["REQUEST_METHOD"] ?? "").isEmpty)
    }

    init(httpProxy: String?, httpsProxy: String?, filtered: Bool, noProxy: NoProxyList, cgi: Bool) {
        self.httpProxy = httpProxy
        self.httpsProxy = httpsProxy
        self.filtered = filtered
        self.noProxy = noProxy
        self.cgi = cgi
    }

    /// The proxy URL for a request to `url`, or nil to connect directly.
    ///
    /// - Throws: ``ProxySelectionError`` where Go would fail the request (an HTTP proxy from
    ///   the environment of a CGI process).
    public func proxy(for url: String) throws(ProxySelectionError) -> String? {
        guard let target = RequestAddress(url) else { return nil }
        let proxy: String?
        switch target.scheme {
        case "https": proxy = httpsProxy
        case "http":
            proxy = httpProxy
            if proxy != nil, filtered, cgi { throw ProxySelectionError() }
        default: proxy = nil
        }
        guard let proxy else { return nil }
        if filtered, !useProxy(target) { return nil }
        return proxy
    }

    /// `httpproxy`'s `useProxy`.
    private func useProxy(_ target: RequestAddress) -> Bool {
        if target.host == "localhost" { return false }
        let ip = IPAddress(target.host)
        if let ip, ip.isLoopback { return false }
        return !noProxy.matches(host: target.host.lowercased(), port: target.port, ip: ip)
    }

    /// A proxy value without a scheme (`proxy:3128`) means `http://`, as in Go.
    static func withScheme(_ value: String) -> String {
        value.contains("://") ? value : "http://" + value
    }
}

/// Go refuses to use `HTTP_PROXY` in a CGI environment (`REQUEST_METHOD` set), as a client
/// may have set it maliciously.
public struct ProxySelectionError: Error, CustomStringConvertible, Sendable {
    public var description: String {
        "refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy"
    }
}

/// A parsed `NO_PROXY` value (comma-separated; malformed entries are skipped, as in Go).
struct NoProxyList: Sendable, Equatable {
    enum Entry: Sendable, Equatable {
        case all
        case cidr(IPAddress, prefix: Int)
        case ip(IPAddress, port: String?)
        /// `suffix` starts with a dot; `matchesBare` also matches the suffix without it.
        case domain(suffix: String, port: String?, matchesBare: Bool)
    }

    var entries: [Entry] = []

    init(_ text: String) {
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = raw.trimmingWhitespace().lowercased()
            if entry.isEmpty { continue }
            if entry == "*" {
                entries = [.all]
                return
            }
            if let slash = entry.firstIndex(of: "/"), let ip = IPAddress(String(entry[..<slash])),
                let prefix = Int(entry[entry.index(after: slash)...]), prefix >= 0, prefix <= ip.bytes.count * 8
            {
                entries.append(.cidr(ip, prefix: prefix))
                continue
            }
            var host = entry
            var port: String?
            if let (h, p) = splitHostPort(entry) {
                guard !h.isEmpty else { continue }
                host = h
                port = p
            }
            if let ip = IPAddress(host) {
                entries.append(.ip(ip, port: port))
                continue
            }
            if host.hasPrefix("*.") { host.removeFirst() }
            let matchesBare = !host.hasPrefix(".")
            entries.append(.domain(suffix: matchesBare ? "." + host : host, port: port, matchesBare: matchesBare))
        }
    }

    /// Whether `host` (lower case) and `port` are exempt. `ip` is the host as an address.
    func matches(host: String, port: String, ip: IPAddress?) -> Bool {
        entries.contains { entry in
            switch entry {
            case .all:
                return true
            case .cidr(let network, let prefix):
                return ip.map { network.contains($0, prefix: prefix) } ?? false
            case .ip(let address, let entryPort):
                return ip == address && (entryPort == nil || entryPort == port)
            case .domain(let suffix, let entryPort, let matchesBare):
                guard ip == nil else { return false }
                guard host.hasSuffix(suffix) || (matchesBare && host == suffix.dropFirst()) else { return false }
                return entryPort == nil || entryPort == port
            }
        }
    }
}

/// Scheme, host and port of a request URL; the port defaults from the scheme, as in Go's
/// `canonicalAddr`.
struct RequestAddress: Equatable {
    var scheme: String
    var host: String
    var port: String
}

extension RequestAddress {
    init?(_ url: String) {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        scheme = url[..<schemeEnd.lowerBound].lowercased()
        var authority = url[schemeEnd.upperBound...]
        if let end = authority.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { authority = authority[..<end] }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        let defaultPort = ["http": "80", "https": "443", "socks5": "1080"][scheme] ?? ""
        if let (h, p) = splitHostPort(String(authority)) {
            host = h
            port = p.isEmpty ? defaultPort : p
        } else {
            host = authority.hasPrefix("[") && authority.hasSuffix("]") ? String(authority.dropFirst().dropLast()) : String(authority)
            port = defaultPort
        }
    }
}

/// `host:port` or `[v6]:port` split as Go's `net.SplitHostPort`; nil without a port part.
private func splitHostPort(_ text: String) -> (String, String)? {
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else { return nil }
        let rest = text[text.index(after: close)...]
        guard rest.hasPrefix(":") else { return nil }
        return (String(text[text.index(after: text.startIndex)..<close]), String(rest.dropFirst()))
    }
    guard let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon else { return nil }
    return (String(text[..<colon]), String(text[text.index(after: colon)...]))
}

/// An IPv4 (4 bytes) or IPv6 (16 bytes) address; IPv4-mapped IPv6 addresses are stored as IPv4,
/// so that they compare equal as Go's `net.IP` does.
struct IPAddress: Sendable, Equatable {
    var bytes: [UInt8]

    init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let all = withUnsafeBytes(of: &v6) { Array($0) }
        bytes = all.prefix(10).allSatisfy { $0 == 0 } && all[10] == 0xff && all[11] == 0xff ? Array(all.suffix(4)) : all
    }

    /// 127.0.0.0/8 or ::1.
    var isLoopback: Bool {
        bytes.count == 4 ? bytes[0] == 127 : bytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// Whether `other` lies in the network of this address and `prefix` bits.
    func contains(_ other: IPAddress, prefix: Int) -> Bool {
        guard other.bytes.count == bytes.count else { return false }
        for bit in 0..<prefix where (bytes[bit / 8] ^ other.bytes[bit / 8]) & (0x80 >> UInt8(bit % 8)) != 0 {
            return false
        }
        return true
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
