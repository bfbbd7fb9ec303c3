import Foundation
import Yams

extension NodeReader {
    /// An `http_sd_configs` entry: `url` (required: http or https, with a host), `refresh_interval`
    /// and the `http_config` keys, validated as Prometheus's `discovery/http` does.
    mutating func httpSD(_ node: Node, _ path: String) -> HTTPSDConfig? {
        let map = mapping(node, path, known: Set(["url", "refresh_interval"]).union(Self.httpClientKeys))
        guard let urlNode = map["url"], let url = string(urlNode, "\(path).url"), !url.isEmpty else {
            fail(map["url"] ?? node, "\(path).url", "URL is missing")
            return nil
        }
        guard let components = URLComponents(string: url) else {
            fail(urlNode, "\(path).url", "invalid URL \"\(url)\"")
            return nil
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            fail(urlNode, "\(path).url", "URL scheme must be 'http' or 'https'")
            return nil
        }
        guard let host = components.host, !host.isEmpty else {
            fail(urlNode, "\(path).url", "host is missing in URL")
            return nil
        }
        var sd = HTTPSDConfig(url: url)
        if let n = map["refresh_interval"], let value = duration(n, "\(path).refresh_interval") {
            if value > .zero { sd.refreshInterval = value } else { fail(n, "\(path).refresh_interval", "must be greater than 0") }
        }
        sd.httpClient = httpClient(map, node, path)
        return sd
    }
}
