import Foundation
import Yams

/// `scrape_config_files`, as Prometheus's `GetScrapeConfigs` reads them: each pattern is
/// expanded like Go's `filepath.Glob` (relative to the main file's folder); each file matched
/// may hold `scrape_configs:` and nothing else; its jobs are validated as the main file's, with
/// the main file's `global` section; a job name used twice, in any two files, is an error; the
/// jobs' relative paths are relative to their own file's folder. A pattern that matches nothing
/// is not an error (as in Prometheus), only a warning.
extension ConfigLoader {
    static func loadScrapeConfigFiles(
        into configuration: inout Configuration, expandEnvironment: Bool, environment: [String: String]
    ) throws(ConfigErrors) {
        var errors: [ConfigError] = []
        var firstFile: [String: String] = [:]
        for job in configuration.scrapeConfigs { firstFile[job.jobName] = "the main file" }
        for pattern in configuration.scrapeConfigFiles {
            let files = Glob.expand(pattern)
            if files.isEmpty { configuration.warnings.append("scrape_config_files: \"\(pattern)\" matches no file") }
            for file in files {
                let text: String
                do throws(ConfigErrors) {
                    text = try read(file, expandEnvironment: expandEnvironment, environment: environment)
                } catch {
                    errors += error.errors
                    continue
                }
                var reader = NodeReader(file: file)
                let root: Node?
                do throws(ConfigErrors) {
                    root = try reader.compose(text)
                } catch {
                    errors += error.errors
                    continue
                }
                let jobs = reader.includedScrapeConfigs(
                    root, global: configuration.global, globalFingerprint: configuration.globalFingerprint)
                let directory = (file as NSString).deletingLastPathComponent
                for (index, (var job, node)) in jobs.enumerated() {
                    if let first = firstFile[job.jobName] {
                        let mark = node.mapping?["job_name"]?.mark
                        errors.append(
                            ConfigError(
                                file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, key: "scrape_configs[\(index)].job_name",
                                message: "duplicate job name \"\(job.jobName)\" (first in \(first))"))
                        continue
                    }
                    firstFile[job.jobName] = file
                    job.resolvePaths(relativeTo: directory)
                    configuration.scrapeConfigs.append(job)
                }
                errors += reader.errors
                configuration.warnings += reader.warnings
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors: errors) }
    }

    /// The files the configuration at `path` includes through `scrape_config_files`, as they
    /// match now, in order; none if the file cannot be read or parsed. For noticing that an
    /// included file changed (the auto-reload checksum): nothing is validated. Blocking file I/O.
    public static func includedFiles(ofConfigAt path: String, expandEnvironment: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        guard let text = try? read(path, expandEnvironment: expandEnvironment, environment: environment),
            let root = try? Yams.compose(yaml: text), let patterns = root.mapping?["scrape_config_files"]?.sequence
        else { return [] }
        let directory = (path as NSString).deletingLastPathComponent
        return patterns.compactMap { $0.scalar?.string }.flatMap { Glob.expand(Configuration.resolve($0, in: directory)) }
    }
}
