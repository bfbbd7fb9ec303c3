import Foundation
import Yams

/// `remote_write` entries and their queue and metadata settings.
extension NodeReader {
    mutating func remoteWriteConfig(_ node: Node, _ path: String) -> RemoteWriteConfig? {
        let map = mapping(
            node, path,
            known: Set([
                "url", "name", "remote_timeout", "queue_config", "headers", "write_relabel_configs", "metadata_config",
                "send_exemplars", "protobuf_message", "protobuf_message_fallback",
            ]).union(Self.httpClientKeys).union(Self.remoteWriteAuthKeys),
            ignored: ["send_native_histograms", "round_robin_dns"]
        )
        guard let urlNode = map["url"] else {
            fail(node, "\(path).url", "url is required")
            return nil
        }
        guard let url = string(urlNode, "\(path).url") else { return nil }
        guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme), parsed.host != nil else {
            fail(urlNode, "\(path).url", "invalid URL \"\(url)\" (expected http(s)://host[:port]/path)")
            return nil
        }
        let name = map["name"].flatMap { string($0, "\(path).name") } ?? Self.defaultName(for: url)
        var remote = RemoteWriteConfig(url: url, name: name)
        if let n = map["remote_timeout"], let value = duration(n, "\(path).remote_timeout") { remote.remoteTimeout = value }
        if let queueNode = map["queue_config"] {
            let queuePath = "\(path).queue_config"
            let queue = mapping(
                queueNode, queuePath,
                known: [
                    "capacity", "max_samples_per_send", "batch_send_deadline", "min_backoff", "max_backoff", "min_shards",
                    "max_shards", "retry_on_http_429", "sample_age_limit", "retry_on_http_status",
                ]
            )
            func positive(_ key: String, _ keyPath: WritableKeyPath<QueueConfig, Int>) {
                guard let n = queue[key], let v = int(n, "\(queuePath).\(key)") else { return }
                if v > 0 { remote.queueConfig[keyPath: keyPath] = v } else { fail(n, "\(queuePath).\(key)", "must be greater than 0") }
            }
            positive("capacity", \.capacity)
            positive("min_shards", \.minShards)
            positive("max_shards", \.maxShards)
            if remote.queueConfig.minShards > remote.queueConfig.maxShards {
                fail(queue["min_shards"], "\(queuePath).min_shards", "min_shards must not exceed max_shards")
            }
            if let n = queue["retry_on_http_429"], let v = bool(n, "\(queuePath).retry_on_http_429") { remote.queueConfig.retryOnHTTP429 = v }
            if let n = queue["retry_on_http_status"] {
                for (i, item) in sequence(n, "\(queuePath).retry_on_http_status").enumerated() {
                    guard let code = int(item, "\(queuePath).retry_on_http_status[\(i)]") else { continue }
                    if (400..<600).contains(code) {
                        remote.queueConfig.retryOnHTTPStatus.append(code)
                    } else {
                        fail(item, "\(queuePath).retry_on_http_status[\(i)]", "must be an HTTP status from 400 to 599, got \(code)")
                    }
                }
            }
            if let n = queue["sample_age_limit"], let v = duration(n, "\(queuePath).sample_age_limit") { remote.queueConfig.sampleAgeLimit = v }
            if let n = queue["max_samples_per_send"], let v = int(n, "\(queuePath).max_samples_per_send") {
                if v > 0 { remote.queueConfig.maxSamplesPerSend = v } else { fail(n, "\(queuePath).max_samples_per_send", "must be greater than 0") }
            }
            if let n = queue["batch_send_deadline"], let v = duration(n, "\(queuePath).batch_send_deadline") { remote.queueConfig.batchSendDeadline = v }
            if let n = queue["min_backoff"], let v = duration(n, "\(queuePath).min_backoff") { remote.queueConfig.minBackoff = v }
            if let n = queue["max_backoff"], let v = duration(n, "\(queuePath).max_backoff") { remote.queueConfig.maxBackoff = v }
        }
        if let n = map["headers"], let headerMap = n.mapping {
            for (keyNode, valueNode) in headerMap {
                guard let name = keyNode.scalar?.string, let value = string(valueNode, "\(path).headers.\(keyNode.scalar?.string ?? "")") else { continue }
                if Self.reservedHeaders.contains(name.lowercased()) {
                    fail(keyNode, "\(path).headers.\(name)", "\(name) is a reserved header and cannot be set")
                } else {
                    remote.headers.append((name, value))
                }
            }
        } else if let n = map["headers"] {
            fail(n, "\(path).headers", "expected a mapping of header names to values")
        }
        remote.httpClient = httpClient(map, node, path)
        remote.sigv4 = sigv4(map, path, remote.httpClient)
        if remote.headers.contains(where: { $0.name.lowercased() == "authorization" }),
            remote.httpClient.basicAuth != nil || remote.httpClient.authorization != nil || remote.httpClient.oauth2 != nil || remote.sigv4 != nil
        {
            fail(map["headers"], "\(path).headers.Authorization", "authorization header conflicts with basic_auth, authorization, oauth2 or sigv4")
        }
        remote.writeRelabelConfigs = relabelConfigs(map["write_relabel_configs"], "\(path).write_relabel_configs")
        if let n = map["metadata_config"] {
            let metaPath = "\(path).metadata_config"
            let meta = mapping(n, metaPath, known: ["send", "send_interval", "max_samples_per_send"])
            if let v = meta["send"], let value = bool(v, "\(metaPath).send") { remote.metadataConfig.send = value }
            if let v = meta["send_interval"], let value = duration(v, "\(metaPath).send_interval") { remote.metadataConfig.sendInterval = value }
            if let v = meta["max_samples_per_send"], let value = int(v, "\(metaPath).max_samples_per_send") { remote.metadataConfig.maxSamplesPerSend = value }
        }
        if let n = map["send_exemplars"], let value = bool(n, "\(path).send_exemplars") { remote.sendExemplars = value }
        if let n = map["protobuf_message"], let value = string(n, "\(path).protobuf_message") {
            if let message = RemoteWriteConfig.ProtobufMessage(rawValue: value) {
                remote.protobufMessage = message
            } else {
                fail(n, "\(path).protobuf_message", "unknown protobuf message \"\(value)\" (prometheus.WriteRequest or io.prometheus.write.v2.Request)")
            }
        }
        if let n = map["protobuf_message_fallback"], let value = bool(n, "\(path).protobuf_message_fallback") {
            remote.protobufMessageFallback = value
        }
        remote.fingerprint = Self.fingerprint(node)
        return remote
    }

    /// Headers remote write sets itself (Prometheus's list).
    static let reservedHeaders: Set<String> = [
        "host", "content-encoding", "content-length", "content-type", "user-agent", "connection", "keep-alive",
        "proxy-authenticate", "proxy-authorization", "www-authenticate", "accept-encoding",
        "x-prometheus-remote-write-version", "x-prometheus-remote-read-version",
    ]

    /// A short stable name derived from the URL (FNV-1a), for endpoints without `name`.
    static func defaultName(for url: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in url.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return String(String(hash, radix: 16).prefix(6))
    }
}
