/// Where and how to look names up: the servers and search list of `/etc/resolv.conf`, read as
/// miekg/dns's `ClientConfigFromReader` reads it (which Prometheus's DNS discovery uses).
struct ResolverConfig: Equatable, Sendable {
    /// A name server: an IP address as written in resolv.conf, and a port.
    struct Server: Equatable, Sendable {
        var host: String
        var port: Int
    }

    /// In order; the next is asked when one gives no usable answer.
    var servers: [Server]
    /// Suffixes tried for relative names (`search`, or the one `domain`).
    var search: [String] = []
    /// A relative name with more labels than this is tried as it is before the suffixes
    /// (`options ndots:n`, default 1, at most 15).
    var ndots = 1

    static let path = "/etc/resolv.conf"

    /// Reads resolv.conf text: `nameserver ADDRESS` lines add servers (port 53), `domain` and
    /// `search` set the search list (the last one wins), `options ndots:n` sets ``ndots``; other
    /// lines and options are ignored.
    init(resolvConf text: String) {
        servers = []
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let keyword = fields.first else { continue }
            switch keyword {
            case "nameserver":
                if fields.count > 1 { servers.append(Server(host: fields[1], port: 53)) }
            case "domain":
                search = fields.count > 1 ? [fields[1]] : []
            case "search":
                search = Array(fields.dropFirst())
            case "options":
                for option in fields.dropFirst() where option.hasPrefix("ndots:") {
                    ndots = min(max(Int(option.dropFirst("ndots:".count)) ?? 0, 0), 15)
                }
            default:
                continue
            }
        }
    }

    init(servers: [Server], search: [String] = [], ndots: Int = 1) {
        self.servers = servers
        self.search = search
        self.ndots = ndots
    }

    /// The absolute names to try for `name`, in order (miekg/dns's `NameList`): an absolute name
    /// alone; else the name itself first if it has more than ``ndots`` labels, then the name
    /// with each search suffix, then the name itself if it was not first.
    func candidates(for name: String) -> [String] {
        if DNSName.isAbsolute(name) { return [name] }
        let tryFirst = DNSName.labelCount(name) > ndots
        let absolute = DNSName.absolute(name)
        var names: [String] = tryFirst ? [absolute] : []
        names += search.map { DNSName.absolute(absolute + $0) }
        if !tryFirst { names.append(absolute) }
        return names
    }
}
