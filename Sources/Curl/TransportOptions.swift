/// A TLS protocol version, spelled as in Prometheus's `tls_config.min_version`; ordered
/// from oldest to newest.
public enum TLSVersion: String, Sendable, CaseIterable, Comparable {
    /// TLS 1.0.
    case tls10 = "TLS10"
    /// TLS 1.1.
    case tls11 = "TLS11"
    /// TLS 1.2.
    case tls12 = "TLS12"
    /// TLS 1.3.
    case tls13 = "TLS13"

    public static func < (a: TLSVersion, b: TLSVersion) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// TLS settings for `https://` requests, modelled on Prometheus's `tls_config`.
///
/// They have no effect on plain `http://` requests. File paths are read by libcurl when a new
/// TLS connection is set up (not when the request is created), so a missing or malformed
/// file is reported by ``HTTPTransport/perform(_:)`` as a ``CurlError`` of kind
/// ``CurlError/Kind-swift.enum/tls`` whose message names the file. Empty strings are treated
/// like `nil`. Each of the CA, the certificate and the key is given as a file or as PEM text,
/// not both. `description` and the mirror hide ``keyPEM``.
public struct TLSOptions: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    /// PEM file with the CA certificates that verify the server (`CURLOPT_CAINFO`). When set,
    /// it *replaces* the system trust store (the system CA directory is not consulted either),
    /// as in Prometheus; `nil` uses the system store.
    public var caFile: String?
    /// Client certificate for mutual TLS, PEM (`CURLOPT_SSLCERT`). May also hold the private
    /// key, in which case ``keyFile`` can stay `nil`.
    public var certFile: String?
    /// Private key of ``certFile``, PEM, unencrypted (`CURLOPT_SSLKEY`). Setting it without
    /// ``certFile`` is an error.
    public var keyFile: String?
    /// The name sent as TLS SNI and that the server certificate must match, when it differs
    /// from the URL's host (Prometheus's `server_name`). The connection still goes to the
    /// URL's host and port, and the `Host` header still carries the URL's host (unless the
    /// request sets one). Must be a plain DNS name or IP address (ASCII letters, digits, `.`,
    /// `-`, `_`); internationalized names must be given in punycode.
    public var serverName: String?
    /// Skips verification of the server certificate chain and name
    /// (`CURLOPT_SSL_VERIFYPEER` and `CURLOPT_SSL_VERIFYHOST` = 0). Insecure.
    public var insecureSkipVerify: Bool
    /// The lowest TLS version to accept (`CURLOPT_SSLVERSION`); `nil` leaves libcurl's and
    /// OpenSSL's default (TLS 1.2 or higher on current systems, depending on the OpenSSL
    /// configuration). Prometheus's default is TLS 1.2.
    public var minVersion: TLSVersion?
    /// The highest TLS version to offer (the maximum of `CURLOPT_SSLVERSION`); `nil` for
    /// OpenSSL's highest. Not below ``minVersion``.
    public var maxVersion: TLSVersion?
    /// The CA certificates as PEM text (`CURLOPT_CAINFO_BLOB`); like ``caFile`` it replaces
    /// the system store. Not together with ``caFile``.
    public var caPEM: String?
    /// The client certificate as PEM text (`CURLOPT_SSLCERT_BLOB`). Not together with ``certFile``.
    public var certPEM: String?
    /// The client certificate's private key as PEM text, unencrypted (`CURLOPT_SSLKEY_BLOB`).
    /// Not together with ``keyFile``; needs a certificate.
    public var keyPEM: String?

    /// Creates TLS options; the defaults verify the server against the system store.
    public init(
        caFile: String? = nil,
        certFile: String? = nil,
        keyFile: String? = nil,
        serverName: String? = nil,
        insecureSkipVerify: Bool = false,
        minVersion: TLSVersion? = nil,
        maxVersion: TLSVersion? = nil,
        caPEM: String? = nil,
        certPEM: String? = nil,
        keyPEM: String? = nil
    ) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.serverName = serverName
        self.insecureSkipVerify = insecureSkipVerify
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.caPEM = caPEM
        self.certPEM = certPEM
        self.keyPEM = keyPEM
    }

    /// The options, with ``keyPEM`` shown as `<redacted>`.
    public var description: String {
        let parts = customMirror.children.map { "\($0.label ?? ""): \($0.value)" }
        return "TLSOptions(\(parts.joined(separator: ", ")))"
    }

    /// A mirror without the private key.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "caFile": caFile as Any, "certFile": certFile as Any, "keyFile": keyFile as Any,
            "serverName": serverName as Any, "insecureSkipVerify": insecureSkipVerify,
            "minVersion": minVersion as Any, "maxVersion": maxVersion as Any,
            "caPEM": caPEM as Any, "certPEM": certPEM as Any, "keyPEM": keyPEM == nil ? "nil" : "<redacted>",
        ])
    }
}

/// Credentials for HTTP Basic authentication (`CURLOPT_USERNAME`, `CURLOPT_PASSWORD`,
/// `CURLAUTH_BASIC`). They are sent preemptively with the first request, and on redirects
/// only to the original host and port.
///
/// `description`, `debugDescription` and the mirror (`dump`) hide the password.
public struct BasicAuth: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The user name. May contain any character except NUL (a `:` is sent as is).
    public var username: String
    /// The password. May contain any character except NUL.
    public var password: String

    /// Creates credentials.
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// `BasicAuth(username: "<username>", password: <redacted>)`.
    public var description: String { "BasicAuth(username: \(String(reflecting: username)), password: <redacted>)" }
    /// Same as ``description``.
    public var debugDescription: String { description }
    /// A mirror without the password.
    public var customMirror: Mirror { Mirror(self, children: ["username": username, "password": "<redacted>"]) }
}
