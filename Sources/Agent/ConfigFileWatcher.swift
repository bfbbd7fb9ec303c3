import Model
import ServiceLifecycle

/// `--config.auto-reload-interval`: every `interval`, asks the reloader to reload the
/// configuration file if its content changed (``ConfigReloader/reloadIfChanged()``), as
/// Prometheus's `--config.auto-reload` does. The checks fall on `start + k·interval` of `clock`
/// (a check that ran long skips the slots it overran); the file is read and digested on the
/// blocking-I/O pool.
///
/// Unlike Prometheus, which retries a file that failed to load at every interval, a failed file
/// is tried again only once its content changes (or on SIGHUP / `POST /-/reload`).
struct ConfigFileWatcher: Service {
    let interval: Duration
    let reloader: ConfigReloader
    let clock: any AgentClock

    init(interval: Duration, reloader: ConfigReloader, clock: any AgentClock) {
        precondition(interval > .zero, "a watcher needs a positive interval")
        self.interval = interval
        self.reloader = reloader
        self.clock = clock
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var next = clock.now.advanced(by: interval)
            while await clock.sleepUnlessCancelled(until: next) {
                await reloader.reloadIfChanged()
                next = next.advanced(by: interval)
                let now = clock.now
                if next <= now {
                    next = now.advanced(by: interval)
                }
            }
        }
    }
}
