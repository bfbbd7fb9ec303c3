extension FileSDConfig {
    /// Why `pattern` cannot be a `file_sd_configs` path, or nil when it can. As Prometheus
    /// (`discovery/file`: `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`), the name must end in
    /// `.json`, `.yml` or `.yaml` (all lower or all upper case) and a glob may only be in the last
    /// path element; here no glob character (`*`, `?`, `[`) may be in a directory, since only the
    /// last element is expanded.
    public static func patternProblem(_ pattern: String) -> String? {
        let slash = pattern.lastIndex(of: "/")
        let directory = slash.map { pattern[..<$0] } ?? ""
        let name = slash.map { pattern[pattern.index(after: $0)...] } ?? pattern[...]
        if directory.contains(where: { "*?[".contains($0) }) {
            return "path \"\(pattern)\" is not valid for file discovery: globs are allowed only in the last path element"
        }
        let extensions = [".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"]
        if !extensions.contains(where: { name.hasSuffix($0) && name.count > $0.count }) {
            return "path \"\(pattern)\" is not valid for file discovery: the extension must be .json, .yml or .yaml"
        }
        return nil
    }
}
