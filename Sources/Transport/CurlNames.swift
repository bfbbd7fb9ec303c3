import Curl

/// Curl's `BasicAuth`, named apart from the configuration's type of the same name (the module's
/// `Curl` enum hides the module name, so `Curl.BasicAuth` does not resolve).
typealias CurlBasicAuth = BasicAuth
