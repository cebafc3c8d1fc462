//! What each plugin recorded and what was dropped on the way: counted per
//! store while it runs ([`Counts`], no atomics on the recording path) and
//! added to the plugin's shared [`TracingStats`] when the invocation ends.
//! The export pipeline adds the spans it could not deliver.

use crate::telemetry::DeliveryStats;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Per-plugin counters of what its guests recorded and what was dropped:
/// by the limits and budgets, by a full export queue, or by a collector
/// that failed. Shared by every instance of the plugin; read them with
/// [`crate::Plugin::stats`].
#[derive(Debug, Default)]
pub struct TracingStats {
    spans_started: AtomicU64,
    spans_ended: AtomicU64,
    spans_dropped: AtomicU64,
    /// Where the export pipeline counts this plugin's lost spans, and the
    /// plugin's name there.
    delivery: OnceLock<(Arc<DeliveryStats>, String)>,
    contexts_dropped: AtomicU64,
    attributes_dropped: AtomicU64,
    events_dropped: AtomicU64,
    links_dropped: AtomicU64,
    array_items_dropped: AtomicU64,
    bytes_dropped: AtomicU64,
    tracing_nanos: AtomicU64,
}

/// A store's counts since they were last added to its [`TracingStats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) spans_started: u64,
    pub(crate) spans_ended: u64,
    pub(crate) spans_dropped: u64,
    pub(crate) contexts_dropped: u64,
    pub(crate) attributes_dropped: u64,
    pub(crate) events_dropped: u64,
    pub(crate) links_dropped: u64,
    pub(crate) array_items_dropped: u64,
    pub(crate) bytes_dropped: u64,
    pub(crate) tracing_nanos: u64,
}

impl TracingStats {
    /// Spans started in the host, recorded or not. Spans the SDK skipped in
    /// an unsampled trace never reach the host and do not count.
    pub fn spans_started(&self) -> u64 {
        self.spans_started.load(Ordering::Relaxed)
    }

    /// Spans ended, by the guest or by the host (after a crash, or when the
    /// guest left them open).
    pub fn spans_ended(&self) -> u64 {
        self.spans_ended.load(Ordering::Relaxed)
    }

    /// Spans refused by a limit or budget (never recorded).
    pub fn spans_dropped(&self) -> u64 {
        self.spans_dropped.load(Ordering::Relaxed)
    }

    /// Recorded spans the export pipeline could not deliver: dropped by a
    /// full queue or in a batch the collector refused.
    pub fn spans_lost(&self) -> u64 {
        self.delivery
            .get()
            .map_or(0, |(delivery, name)| delivery.lost_by(name))
    }

    /// Context handles or attachments refused by a limit.
    pub fn contexts_dropped(&self) -> u64 {
        self.contexts_dropped.load(Ordering::Relaxed)
    }

    /// Attributes dropped: reserved or empty keys, past a per-span limit,
    /// or past the byte budget.
    pub fn attributes_dropped(&self) -> u64 {
        self.attributes_dropped.load(Ordering::Relaxed)
    }

    /// Events dropped past a per-span limit or the byte budget.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped.load(Ordering::Relaxed)
    }

    /// Links dropped: invalid, past a per-span limit or the byte budget.
    pub fn links_dropped(&self) -> u64 {
        self.links_dropped.load(Ordering::Relaxed)
    }

    /// Array elements cut past `max_array_length`.
    pub fn array_items_dropped(&self) -> u64 {
        self.array_items_dropped.load(Ordering::Relaxed)
    }

    /// Bytes of attributes, events and links dropped by the byte budget.
    pub fn bytes_dropped(&self) -> u64 {
        self.bytes_dropped.load(Ordering::Relaxed)
    }

    /// Time spent inside the tracing host calls (the guide's "monitor
    /// overhead"): what tracing costs this plugin, boundary excluded.
    pub fn tracing_time(&self) -> Duration {
        Duration::from_nanos(self.tracing_nanos.load(Ordering::Relaxed))
    }

    /// Everything dropped anywhere, in one number for summaries: refused
    /// spans, lost spans, and dropped contexts, attributes, events, links
    /// and array elements.
    pub fn anything_dropped(&self) -> bool {
        self.spans_dropped() > 0
            || self.spans_lost() > 0
            || self.contexts_dropped() > 0
            || self.attributes_dropped() > 0
            || self.events_dropped() > 0
            || self.links_dropped() > 0
            || self.array_items_dropped() > 0
    }

    /// Adds a store's counts.
    pub(crate) fn add(&self, counts: &Counts) {
        let add = |counter: &AtomicU64, n: u64| {
            if n > 0 {
                counter.fetch_add(n, Ordering::Relaxed);
            }
        };
        add(&self.spans_started, counts.spans_started);
        add(&self.spans_ended, counts.spans_ended);
        add(&self.spans_dropped, counts.spans_dropped);
        add(&self.contexts_dropped, counts.contexts_dropped);
        add(&self.attributes_dropped, counts.attributes_dropped);
        add(&self.events_dropped, counts.events_dropped);
        add(&self.links_dropped, counts.links_dropped);
        add(&self.array_items_dropped, counts.array_items_dropped);
        add(&self.bytes_dropped, counts.bytes_dropped);
        add(&self.tracing_nanos, counts.tracing_nanos);
    }

    /// Reports, as this plugin's lost spans, what `delivery` counts lost
    /// under `name` (once; later calls change nothing).
    pub(crate) fn losses_from(&self, delivery: Arc<DeliveryStats>, name: &str) {
        let _ = self.delivery.set((delivery, name.to_owned()));
    }

    /// One line for the console: what was recorded, dropped and lost.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} spans started, {} ended, {} dropped",
            self.spans_started(),
            self.spans_ended(),
            self.spans_dropped()
        );
        if self.spans_lost() > 0 {
            line.push_str(&format!(", {} lost in export", self.spans_lost()));
        }
        let mut parts = Vec::new();
        for (n, what) in [
            (self.attributes_dropped(), "attributes"),
            (self.events_dropped(), "events"),
            (self.links_dropped(), "links"),
            (self.array_items_dropped(), "array items"),
            (self.contexts_dropped(), "contexts"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        if !parts.is_empty() {
            line.push_str(&format!(" (also dropped: {})", parts.join(", ")));
        }
        line.push_str(&format!("; {:.1?} in tracing calls", self.tracing_time()));
        line
    }
}

impl Counts {
    /// Adds `other` to these counts.
    pub(crate) fn merge(&mut self, other: &Counts) {
        self.spans_started += other.spans_started;
        self.spans_ended += other.spans_ended;
        self.spans_dropped += other.spans_dropped;
        self.contexts_dropped += other.contexts_dropped;
        self.attributes_dropped += other.attributes_dropped;
        self.events_dropped += other.events_dropped;
        self.links_dropped += other.links_dropped;
        self.array_items_dropped += other.array_items_dropped;
        self.bytes_dropped += other.bytes_dropped;
        self.tracing_nanos += other.tracing_nanos;
    }
}

/// When a tracing call began, for [`Counts::add_time_since`].
#[derive(Clone, Copy)]
pub(crate) struct CallStart(u64);

impl CallStart {
    #[inline]
    pub(crate) fn now() -> Self {
        Self(CallClock::get().read())
    }
}

impl Counts {
    /// Adds the time since `start` to the time spent in tracing calls.
    #[inline]
    pub(crate) fn add_time_since(&mut self, start: CallStart) {
        let clock = CallClock::get();
        self.tracing_nanos += clock.nanos(clock.read().saturating_sub(start.0));
    }
}

/// The clock of the tracing-time metric, read twice per tracing call. Where
/// the kernel itself keeps time with the CPU's time-stamp counter (constant,
/// nonstop and the clock source: the counter ticks at one rate on every
/// core), a reading is one instruction; elsewhere it is the OS monotonic
/// clock (about 20 ns in a VM, four times per span).
enum CallClock {
    /// Ticks of the time-stamp counter, and nanoseconds per tick.
    Tsc { nanos_per_tick: f64 },
    /// Nanoseconds since `origin`.
    Monotonic { origin: std::time::Instant },
}

impl CallClock {
    fn get() -> &'static Self {
        static CLOCK: std::sync::OnceLock<CallClock> = std::sync::OnceLock::new();
        CLOCK.get_or_init(Self::new)
    }

    fn new() -> Self {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        if tsc_is_the_clock() {
            // Calibrated once against the monotonic clock.
            let (t0, c0) = (std::time::Instant::now(), tsc());
            std::thread::sleep(std::time::Duration::from_millis(5));
            let (t1, c1) = (std::time::Instant::now(), tsc());
            let ticks = c1.saturating_sub(c0);
            if ticks > 0 {
                return Self::Tsc {
                    nanos_per_tick: (t1 - t0).as_nanos() as f64 / ticks as f64,
                };
            }
        }
        Self::Monotonic {
            origin: std::time::Instant::now(),
        }
    }

    #[inline]
    fn read(&self) -> u64 {
        match self {
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            Self::Tsc { .. } => tsc(),
            #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
            Self::Tsc { .. } => 0,
            Self::Monotonic { origin } => origin.elapsed().as_nanos() as u64,
        }
    }

    #[inline]
    fn nanos(&self, ticks: u64) -> u64 {
        match self {
            Self::Tsc { nanos_per_tick } => (ticks as f64 * nanos_per_tick) as u64,
            Self::Monotonic { .. } => ticks,
        }
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[inline]
fn tsc() -> u64 {
    // SAFETY: `rdtsc` has no preconditions; it is available on every
    // x86_64 CPU.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Whether the kernel keeps time with the TSC and says it is constant and
/// nonstop: then readings on any core are comparable.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn tsc_is_the_clock() -> bool {
    let source = std::fs::read_to_string(
        "/sys/devices/system/clocksource/clocksource0/current_clocksource",
    )
    .unwrap_or_default();
    let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = flags
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or_default();
    let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
    source.trim() == "tsc" && has("constant_tsc") && has("nonstop_tsc")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_summarise() {
        let stats = TracingStats::default();
        let counts = Counts {
            spans_started: 3,
            spans_ended: 2,
            spans_dropped: 1,
            attributes_dropped: 4,
            ..Counts::default()
        };
        stats.add(&counts);
        stats.add(&counts);
        let delivery = Arc::new(DeliveryStats::default());
        delivery.count_lost("p", 5);
        stats.losses_from(delivery, "p");
        assert_eq!(stats.spans_started(), 6);
        assert_eq!(stats.spans_lost(), 5);
        assert!(stats.anything_dropped());
        let line = stats.summary();
        assert!(
            line.starts_with(
                "6 spans started, 4 ended, 2 dropped, 5 lost in export (also dropped: 8 attributes)"
            ),
            "{line}"
        );
    }
}
