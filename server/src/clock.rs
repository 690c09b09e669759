//! Where every decision reads the time: the wall clock in production, a [`ShiftedClock`] in
//! tests (which then move time instead of sleeping through a window). A leaf module.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch (the store's time unit).
    fn now_ms(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// The wall clock shifted by an offset its holders move: time flows as usual, and
/// [`advance`](ShiftedClock::advance) jumps it forward (past a rate-limit window, an expiry)
/// for every holder at once. Tests hand one to the server instead of sleeping.
#[derive(Debug, Clone, Default)]
pub struct ShiftedClock(Arc<AtomicI64>);

impl ShiftedClock {
    /// The wall clock, not shifted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `ms` (backward for a negative `ms`).
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.0.load(Ordering::SeqCst)
    }
}

/// A clock shared by everything in one process.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_jumps_for_every_holder() {
        let clock = ShiftedClock::new();
        let shared: SharedClock = Arc::new(clock.clone());
        let before = shared.now_ms();
        clock.advance(3_600_000);
        let after = shared.now_ms();
        assert!(after - before >= 3_600_000, "{before} → {after}");
        assert!(after - before < 3_660_000, "{before} → {after}");
    }
}
