import HeapModule
import Model
import Synchronization

/// Runs the scrapes of every target from one task: at a target's slot it starts one child task
/// that scrapes it once, and the next slot is scheduled when that scrape returns.
///
/// Between scrapes a target costs its ``ScrapeLoop`` and the loop's state (caches), not a task:
/// a suspended task keeps every stack slab it ever used (≈12 KB per loop task measured with
/// heaptrack), which with a task per target made most of the agent's memory at 16,000 targets.
///
/// - Slots: ``ScrapeSchedule`` (a target's wall-clock slot; missed slots are skipped, a target is
///   never scraped twice back to back); how late each scrape starts goes to
///   `agent_scrape_lateness_seconds`.
/// - ``remove(_:stale:)`` aborts the target's scrape in flight at once; with `stale`, its series
///   then get staleness markers (the target left discovery); without, nothing more is written
///   (a reload restarting the target).
/// - Cancelling ``run()`` (shutdown) aborts every scrape in flight and writes no markers, as
///   Prometheus does.
///
/// The loop's state moves into the scrape's task and back: exactly one task touches it at a time.
final class ScrapeScheduler: Sendable {
    private struct Entry {
        let loop: ScrapeLoop
        let generation: Int
        var schedule: ScrapeSchedule
        /// The loop's state between scrapes; nil while a scrape holds it.
        var state: ScrapeLoop.State?
        /// Aborts the scrape in flight.
        var inFlight: StopHandle?
    }

    /// A scheduled scrape; a slot whose generation no longer matches its target's entry is dropped.
    private struct Slot: Comparable {
        var due: ContinuousClock.Instant
        var id: String
        var generation: Int
        static func < (lhs: Slot, rhs: Slot) -> Bool { lhs.due < rhs.due }
        static func == (lhs: Slot, rhs: Slot) -> Bool { lhs.due == rhs.due && lhs.generation == rhs.generation }
    }

    /// What the run loop is doing, for ``add(_:)`` and returning scrapes to decide whether to wake it.
    private enum RunState {
        /// Between waits: it looks at the slots again before it waits.
        case busy
        /// Waiting until `deadline` (nil: until woken).
        case waiting(deadline: ContinuousClock.Instant?)
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var slots = Heap<Slot>()
        var nextGeneration = 0
        /// Scrapes in flight of removed targets, by generation: whether their series go stale.
        var abandoned: [Int: Bool] = [:]
        /// Staleness markers to write for removed targets that were between scrapes.
        var staleWork: [(ScrapeLoop, ScrapeLoop.State)] = []
        var run = RunState.busy

        /// Whether the run loop must wake up for work due at `due` (nil: now).
        func mustWake(for due: ContinuousClock.Instant?) -> Bool {
            guard case .waiting(let deadline) = run else { return false }
            guard let due, let deadline else { return true }
            return due < deadline
        }
    }

    private let clock: any AgentClock
    private let state = Mutex(State())
    private let wake = WakeSignal()

    init(clock: any AgentClock) {
        self.clock = clock
    }

    /// How many targets are scheduled.
    var count: Int { state.withLock { $0.entries.count } }

    /// Schedules `loop`'s target (replacing nothing: remove a target before adding it again).
    func add(_ loop: ScrapeLoop) {
        let target = loop.target
        let schedule = ScrapeSchedule(
            interval: target.interval, offset: target.offset, now: clock.now, wallMilliseconds: clock.wallMilliseconds)
        let wakeUp = state.withLock { state in
            let generation = state.nextGeneration
            state.nextGeneration += 1
            state.entries[target.id] = Entry(
                loop: loop, generation: generation, schedule: schedule, state: ScrapeLoop.State(target: target))
            state.slots.insert(Slot(due: schedule.next, id: target.id, generation: generation))
            return state.mustWake(for: schedule.next)
        }
        if wakeUp { wake.notify() }
    }

    /// Unschedules a target, aborting its scrape in flight; with `stale`, its series get
    /// staleness markers. The run loop wakes to drop the target's slot (its wait may have been
    /// for it) and to write the markers.
    func remove(_ id: String, stale: Bool) {
        let wakeUp = state.withLock { state -> Bool in
            guard let entry = state.entries.removeValue(forKey: id) else { return false }
            if let loopState = entry.state {
                if stale { state.staleWork.append((entry.loop, loopState)) }
            } else {
                state.abandoned[entry.generation] = stale
                entry.inFlight?.stop()
            }
            return state.mustWake(for: nil)
        }
        if wakeUp { wake.notify() }
    }

    /// Starts scrapes at their slots until the task is cancelled.
    func run() async {
        await withDiscardingTaskGroup { scrapes in
            while !Task.isCancelled {
                let now = clock.now
                let (due, stale, deadline) = state.withLock { state in
                    var due: [(ScrapeLoop, Int, ScrapeLoop.State, StopHandle, lateness: Duration)] = []
                    while let slot = state.slots.min, slot.due <= now {
                        state.slots.removeMin()
                        guard var entry = state.entries[slot.id], entry.generation == slot.generation,
                            let loopState = entry.state
                        else { continue }
                        let handle = StopHandle()
                        entry.state = nil
                        entry.inFlight = handle
                        state.entries[slot.id] = entry
                        due.append((entry.loop, entry.generation, loopState, handle, now - slot.due))
                    }
                    let stale = state.staleWork
                    state.staleWork = []
                    // Slots of removed (or re-added) targets are dropped here, so the wait is for a live one.
                    while let slot = state.slots.min, state.entries[slot.id]?.generation != slot.generation {
                        state.slots.removeMin()
                    }
                    let deadline = state.slots.min?.due
                    state.run = .waiting(deadline: deadline)
                    return (due, stale, deadline)
                }
                for (loop, generation, loopState, handle, lateness) in due {
                    loop.metrics.lateness.record(lateness)
                    scrapes.addTask { await self.scrape(loop, generation: generation, state: loopState, handle: handle) }
                }
                for (loop, loopState) in stale {
                    scrapes.addTask {
                        var loopState = loopState
                        await loop.markEverythingStale(state: &loopState)
                    }
                }
                await wait(until: deadline)
                state.withLock { $0.run = .busy }
            }
        }
    }

    /// One scrape in its own task, abortable through `handle`; then the target's next slot, or,
    /// if it was removed meanwhile, its staleness markers.
    private func scrape(_ loop: ScrapeLoop, generation: Int, state loopState: ScrapeLoop.State, handle: StopHandle) async {
        let box = StateBox(loopState)
        await handle.run {
            var state = box.take()
            await loop.scrapeOnce(state: &state)
            box.put(state)
        }
        var returned = box.take()
        let id = loop.target.id
        let (markStale, wakeUp) = state.withLock { state -> (Bool, Bool) in
            if var entry = state.entries[id], entry.generation == generation {
                entry.schedule.advance(past: clock.now)
                entry.state = returned
                entry.inFlight = nil
                state.entries[id] = entry
                state.slots.insert(Slot(due: entry.schedule.next, id: id, generation: generation))
                return (false, state.mustWake(for: entry.schedule.next))
            }
            return (state.abandoned.removeValue(forKey: generation) ?? false, false)
        }
        if wakeUp { wake.notify() }
        if markStale, !Task.isCancelled { await loop.markEverythingStale(state: &returned) }
    }

    /// Returns at `deadline` (never, if nil) or when woken.
    private func wait(until deadline: ContinuousClock.Instant?) async {
        guard let deadline else { return await wake.wait() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [clock] in _ = try? await clock.sleep(until: deadline, tolerance: nil) }
            group.addTask { [wake] in await wake.wait() }
            await group.next()
            group.cancelAll()
        }
    }
}

/// Carries a loop's state into the scrape's task and back (one task at a time holds it).
private final class StateBox: Sendable {
    private let value: Mutex<ScrapeLoop.State?>

    init(_ state: ScrapeLoop.State) { value = Mutex(state) }

    func take() -> ScrapeLoop.State {
        value.withLock { state in
            defer { state = nil }
            return state!
        }
    }

    func put(_ state: ScrapeLoop.State) { value.withLock { $0 = state } }
}
