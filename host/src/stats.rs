//! What each plugin recorded and what was dropped on the way: counted per
//! store while it runs ([`Counts`], no atomics on the recording path) and
//! added to the plugin's shared [`TracingStats`] when the invocation ends.
//! The export pipeline adds the spans it could not deliver.

use crate::telemetry::DeliveryStats;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Declares the counters once: the shared atomic in [`TracingStats`], its
/// getter, the store-local field in [`Counts`], and adding and merging.
macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// Per-plugin counters of what its guests recorded and what was
        /// dropped: by the limits and budgets, by a full export queue, or by
        /// a collector that failed. Shared by every instance of the plugin;
        /// read them with [`crate::Plugin::stats`].
        #[derive(Debug, Default)]
        pub struct TracingStats {
            $($name: AtomicU64,)*
            tracing_nanos: AtomicU64,
            /// Where the export pipeline counts this plugin's lost spans,
            /// and the plugin's name there.
            delivery: OnceLock<(Arc<DeliveryStats>, String)>,
        }

        /// A store's counts since they were last added to its
        /// [`TracingStats`].
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub(crate) struct Counts {
            $(pub(crate) $name: u64,)*
            pub(crate) tracing_nanos: u64,
        }

        impl TracingStats {
            $(
                $(#[doc = $doc])*
                pub fn $name(&self) -> u64 {
                    self.$name.load(Ordering::Relaxed)
                }
            )*

            /// Adds a store's counts.
            pub(crate) fn add(&self, counts: &Counts) {
                let add = |counter: &AtomicU64, n: u64| {
                    if n > 0 {
                        counter.fetch_add(n, Ordering::Relaxed);
                    }
                };
                $(add(&self.$name, counts.$name);)*
                add(&self.tracing_nanos, counts.tracing_nanos);
            }
        }

        impl Counts {
            /// Adds `other` to these counts.
            pub(crate) fn merge(&mut self, other: &Counts) {
                $(self.$name += other.$name;)*
                self.tracing_nanos += other.tracing_nanos;
            }
        }
    };
}

counters! {
    /// Spans started in the host, recorded or not. Spans the SDK skipped in
    /// an unsampled trace never reach the host and do not count.
    spans_started,
    /// Spans ended, by the guest or by the host (after a crash, or when the
    /// guest left them open).
    spans_ended,
    /// Spans refused by a limit or budget (never recorded).
    spans_dropped,
    /// `wasi:otel` spans refused: an invalid span id (not hex, all zeros),
    /// one taken by another span, or a span ended twice.
    spans_rejected,
    /// `wasi:otel` spans recorded under the invocation span because the
    /// trace or parent they claimed is not one the host knows.
    spans_reparented,
    /// Context handles or attachments refused by a limit.
    contexts_dropped,
    /// Attributes dropped: reserved or empty keys, past a per-span limit,
    /// or past the byte budget.
    attributes_dropped,
    /// Events dropped past a per-span limit or the byte budget.
    events_dropped,
    /// Links dropped: invalid, past a per-span limit or the byte budget.
    links_dropped,
    /// Array elements cut past `max_array_length`.
    array_items_dropped,
    /// Bytes of attributes, events and links dropped by the byte budget.
    bytes_dropped,
    /// Log records emitted.
    logs,
    /// Log records dropped: past the log or byte budget, or with no log
    /// pipeline.
    logs_dropped,
    /// Measurements recorded.
    measurements,
    /// Measurements dropped: an unknown instrument, a value the instrument
    /// cannot take, or a new series past its limit.
    measurements_dropped,
    /// Instruments refused: an invalid name or boundaries, a name taken by
    /// another kind or number type, or past `max_instruments`.
    instruments_refused,
}

impl TracingStats {
    /// Recorded spans the export pipeline could not deliver: dropped by a
    /// full queue or in a batch the collector refused.
    pub fn spans_lost(&self) -> u64 {
        self.delivery
            .get()
            .map_or(0, |(delivery, name)| delivery.lost_by(name))
    }

    /// Time spent inside the tracing host calls (the guide's "monitor
    /// overhead"): what tracing costs this plugin, boundary excluded. Past
    /// a store's first 64 calls, one call in 16 is timed and counted for
    /// 16, so this is an estimate for long invocations.
    pub fn tracing_time(&self) -> Duration {
        Duration::from_nanos(self.tracing_nanos.load(Ordering::Relaxed))
    }

    /// Everything dropped anywhere, in one number for summaries: refused
    /// spans, lost spans, and dropped contexts, attributes, events, links,
    /// array elements, log records, measurements and instruments.
    pub fn anything_dropped(&self) -> bool {
        self.spans_dropped() > 0
            || self.spans_rejected() > 0
            || self.spans_lost() > 0
            || self.contexts_dropped() > 0
            || self.attributes_dropped() > 0
            || self.events_dropped() > 0
            || self.links_dropped() > 0
            || self.array_items_dropped() > 0
            || self.logs_dropped() > 0
            || self.measurements_dropped() > 0
            || self.instruments_refused() > 0
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
        if self.spans_reparented() > 0 {
            line.push_str(&format!(", {} re-parented", self.spans_reparented()));
        }
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        if self.logs() + self.logs_dropped() > 0 {
            line.push_str(&format!(
                "; {}",
                plural(self.logs(), "log record", "log records")
            ));
        }
        if self.measurements() + self.measurements_dropped() > 0 {
            let n = self.measurements();
            line.push_str(&format!("; {}", plural(n, "measurement", "measurements")));
        }
        let mut parts = Vec::new();
        for (n, what) in [
            (self.spans_rejected(), "wasi:otel spans"),
            (self.attributes_dropped(), "attributes"),
            (self.events_dropped(), "events"),
            (self.links_dropped(), "links"),
            (self.array_items_dropped(), "array items"),
            (self.contexts_dropped(), "contexts"),
            (self.logs_dropped(), "log records"),
            (self.measurements_dropped(), "measurements"),
            (self.instruments_refused(), "instruments"),
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

/// When a timed tracing call began, and how many calls its time stands
/// for, for [`Counts::add_time_since`].
#[derive(Clone, Copy)]
pub(crate) struct CallStart {
    ticks: u64,
    weight: u32,
}

/// Chooses which tracing calls are timed for the tracing-time metric: the
/// first [`CallTimer::EXACT`] of a store, then one in [`CallTimer::EVERY`],
/// counted for the calls it stands for. Two clock readings are a measurable
/// part of a call (a time-stamp counter read is 10-25 ns in a VM), and the
/// metric is an estimate either way; short invocations are timed exactly.
#[derive(Debug, Default)]
pub(crate) struct CallTimer {
    calls: u64,
}

impl CallTimer {
    /// Calls timed one by one before sampling starts.
    const EXACT: u64 = 64;
    /// Past those, one call in this many is timed.
    const EVERY: u64 = 16;

    /// Starts timing this call, if it is one of those timed.
    #[inline]
    pub(crate) fn start(&mut self) -> Option<CallStart> {
        let n = self.calls;
        self.calls += 1;
        let weight = if n < Self::EXACT {
            1
        } else if n.is_multiple_of(Self::EVERY) {
            Self::EVERY as u32
        } else {
            return None;
        };
        Some(CallStart {
            ticks: CallClock::get().read(),
            weight,
        })
    }
}

impl Counts {
    /// Adds the time since `start` (times the calls it stands for) to the
    /// time spent in tracing calls.
    #[inline]
    pub(crate) fn add_time_since(&mut self, start: Option<CallStart>) {
        if let Some(start) = start {
            let clock = CallClock::get();
            let nanos = clock.nanos(clock.read().saturating_sub(start.ticks));
            self.tracing_nanos += nanos * u64::from(start.weight);
        }
    }
}

/// The clock of the tracing-time metric, read twice per timed call. Where
/// the kernel itself keeps time with the CPU's time-stamp counter (constant,
/// nonstop and the clock source: the counter ticks at one rate on every
/// core), a reading is one instruction; elsewhere it is the OS monotonic
/// clock (about 20 ns in a VM).
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
    let source =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
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
