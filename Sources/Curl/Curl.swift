import CCurl

/// Facts about the linked libcurl, and its one-time global setup.
public enum Curl {
    /// libcurl's version string, e.g. `"libcurl/7.88.1 OpenSSL/3.0.x zlib/1.2.13 ..."`.
    public static var version: String {
        String(cString: curl_version())
    }

    /// `curl_global_init(CURL_GLOBAL_ALL)`, run exactly once (Swift runs a `static let`
    /// initializer once, thread-safely) before the first easy or multi handle is created.
    static let globalInitResult: CURLcode = ccurl_global_init()
}
