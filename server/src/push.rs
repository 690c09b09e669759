//! The push channel's connections in this process (`GET /events`): how many streams each
//! user holds (bounded, as each is a task and a socket), and the signal that ends them all
//! when the server shuts down (a stream would otherwise hold the graceful shutdown for its
//! whole grace period).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Streams one user may hold at once (tabs, devices).
pub const MAX_STREAMS_PER_USER: usize = 32;
/// Streams this process holds at once.
pub const MAX_STREAMS: usize = 20_000;

/// The registry.
pub struct Push {
    streams: Mutex<Counts>,
    closing: watch::Sender<bool>,
}

#[derive(Default)]
struct Counts {
    per_user: HashMap<String, usize>,
    total: usize,
}

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The user holds [`MAX_STREAMS_PER_USER`] already.
    UserFull,
    /// The process holds [`MAX_STREAMS`] already.
    ServerFull,
}

impl Default for Push {
    fn default() -> Self {
        Push {
            streams: Mutex::default(),
            closing: watch::channel(false).0,
        }
    }
}

impl Push {
    /// Takes a stream slot for `user_id`, given back when the slot is dropped.
    pub fn open(self: &Arc<Self>, user_id: &str) -> Result<StreamSlot, Refused> {
        let mut counts = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        if counts.total >= MAX_STREAMS {
            return Err(Refused::ServerFull);
        }
        let held = counts.per_user.entry(user_id.to_owned()).or_default();
        if *held >= MAX_STREAMS_PER_USER {
            return Err(Refused::UserFull);
        }
        *held += 1;
        counts.total += 1;
        Ok(StreamSlot {
            push: Arc::clone(self),
            user_id: user_id.to_owned(),
        })
    }

    /// Open streams in this process.
    pub fn open_streams(&self) -> usize {
        self.streams.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// Ends every stream (shutdown).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`Push::close_all`] was called.
    pub fn closing(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.subscribe();
        async move {
            let _ = closing.wait_for(|closed| *closed).await;
        }
    }
}

/// One open stream's place in the count.
pub struct StreamSlot {
    push: Arc<Push>,
    user_id: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut counts = self.push.streams.lock().unwrap_or_else(|e| e.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(held) = counts.per_user.get_mut(&self.user_id) {
            *held -= 1;
            if *held == 0 {
                counts.per_user.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_per_user_and_given_back() {
        let push = Arc::new(Push::default());
        let slots: Vec<_> = (0..MAX_STREAMS_PER_USER)
            .map(|_| push.open("u1").map_err(|_| ()))
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        assert_eq!(slots.len(), MAX_STREAMS_PER_USER);
        assert_eq!(push.open("u1").err(), Some(Refused::UserFull));
        assert!(push.open("u2").is_ok(), "another user is not affected");
        drop(slots);
        assert_eq!(push.open_streams(), 0);
        assert!(push.open("u1").is_ok());
    }
}
