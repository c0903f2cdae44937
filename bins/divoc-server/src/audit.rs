//! Writes the audit trail off the request path, in batches.
//!
//! A request hands its audit event to a queue and returns at once. One
//! thread takes the events and writes each batch with a single multi-row
//! INSERT, so a database commit is shared by all the certificates served
//! meanwhile instead of blocking an async worker once per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use divoc_store::{AuditEvent, Store};

/// Events that may wait for the writer. When this many are waiting, new events
/// are dropped and counted rather than blocking requests.
const QUEUE_CAPACITY: usize = 10_000;

/// Maximum events written by one INSERT: 5 bound values each, well below
/// SQLite's limit of 32,766 bound values per statement.
const BATCH_MAX_EVENTS: usize = 1_000;

/// Time without a new event after which a batch is written.
const BATCH_GAP: Duration = Duration::from_millis(2);

/// Maximum time a batch waits after its first event, so under load a batch
/// contains up to 50 ms of events. With no wait, a load test at 1,600
/// requests per second spent 7 % of the server's CPU time writing batches of
/// one or two events, each in its own transaction.
const BATCH_WINDOW: Duration = Duration::from_millis(50);

/// Log one line for the first dropped event and then for every this many.
const DROPPED_LOG_EVERY: u64 = 1_000;

/// Waits before the writes of a failed batch are tried again. A store that is
/// briefly locked or restarting gets about 8 s before the batch is dropped.
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(2),
    Duration::from_secs(5),
];

/// The queue and the thread that writes audit events to the store.
pub struct AuditWriter {
    sender: Mutex<Option<SyncSender<AuditEvent>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    dropped: Arc<AtomicU64>,
}

impl AuditWriter {
    /// Starts the writer thread.
    ///
    /// # Errors
    ///
    /// The error of `std::thread::Builder::spawn` when the thread cannot start.
    pub fn start(store: Store) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::sync_channel(QUEUE_CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        let writer_dropped = Arc::clone(&dropped);
        let thread = std::thread::Builder::new()
            .name("audit-writer".to_owned())
            .spawn(move || write_batches(&store, &receiver, &writer_dropped))?;
        Ok(AuditWriter {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            dropped,
        })
    }

    /// Queues an event without waiting. The event is dropped, counted and
    /// logged when the queue is full or the writer has stopped.
    pub fn record(&self, event: AuditEvent) {
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        let result = match sender.as_ref() {
            Some(sender) => sender.try_send(event),
            None => Err(TrySendError::Disconnected(event)),
        };
        drop(sender);
        if let Err(error) = result {
            let reason = match error {
                TrySendError::Full(_) => "the audit queue is full",
                TrySendError::Disconnected(_) => "the audit writer has stopped",
            };
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped == 1 || dropped.is_multiple_of(DROPPED_LOG_EVERY) {
                tracing::error!(dropped_total = dropped, reason, "audit event dropped");
            }
        }
    }

    /// Returns the number of events dropped since start: refused by a full or
    /// closed queue, or not written after retries.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Stops taking events, writes those already queued and waits for the
    /// writer thread to end. Later calls do nothing.
    pub fn close(&self) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread
            && thread.join().is_err()
        {
            tracing::error!("the audit writer thread panicked; queued audit events are lost");
        }
    }
}

impl Drop for AuditWriter {
    fn drop(&mut self) {
        self.close();
    }
}

/// Writes events in batches: waits for one, then gathers more until none has
/// come for [`BATCH_GAP`], [`BATCH_WINDOW`] has passed or the batch contains
/// [`BATCH_MAX_EVENTS`]. A failed batch is tried again after each
/// of [`RETRY_DELAYS`], then dropped and counted in `dropped`. Ends when the
/// sender is dropped and the queue is empty.
fn write_batches(store: &Store, receiver: &Receiver<AuditEvent>, dropped: &AtomicU64) {
    let mut batch = Vec::with_capacity(BATCH_MAX_EVENTS);
    while let Ok(first) = receiver.recv() {
        batch.push(first);
        let window_end = Instant::now() + BATCH_WINDOW;
        while batch.len() < BATCH_MAX_EVENTS {
            let wait = window_end
                .saturating_duration_since(Instant::now())
                .min(BATCH_GAP);
            match receiver.recv_timeout(wait) {
                Ok(event) => batch.push(event),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        write_with_retries(store, &batch, dropped);
        batch.clear();
    }
}

fn write_with_retries(store: &Store, batch: &[AuditEvent], dropped: &AtomicU64) {
    let mut delays = RETRY_DELAYS.iter();
    loop {
        let Err(error) = store.record_served_batch(batch) else {
            return;
        };
        match delays.next() {
            Some(delay) => {
                tracing::warn!(
                    %error,
                    events = batch.len(),
                    retry_in_ms = delay.as_millis(),
                    "audit records could not be written; retrying"
                );
                std::thread::sleep(*delay);
            }
            None => {
                let count = u64::try_from(batch.len()).unwrap_or(u64::MAX);
                let total = dropped.fetch_add(count, Ordering::Relaxed) + count;
                tracing::error!(
                    %error,
                    events = batch.len(),
                    dropped_total = total,
                    "audit records could not be written after retries; dropped"
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use chrono::{TimeZone, Utc};
    use divoc_store::{AuditQuery, StoreOptions};

    use super::*;

    fn event(index: usize) -> AuditEvent {
        AuditEvent {
            served_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap()
                + chrono::Duration::microseconds(i64::try_from(index).unwrap()),
            certificate_id: "100000001".to_owned(),
            route: "/certificate/api/certificatePDF/{beneficiaryId}".to_owned(),
            subject: Some(format!("subject-{}", index % 2)),
            role: "distribution".to_owned(),
        }
    }

    #[test]
    fn close_writes_every_queued_event() {
        let store = Store::open(":memory:", &StoreOptions::default()).unwrap();
        let writer = AuditWriter::start(store.clone()).unwrap();
        for index in 0..2_500 {
            writer.record(event(index));
        }
        writer.close();

        let stored = store
            .audit_events(AuditQuery::Certificate("100000001"), 10_000)
            .unwrap();
        assert_eq!(stored.len(), 2_500);
        assert_eq!(stored[0], event(0));
        assert_eq!(stored[2_499], event(2_499));
        assert_eq!(writer.dropped(), 0);
    }

    #[test]
    fn record_after_close_is_dropped() {
        let store = Store::open(":memory:", &StoreOptions::default()).unwrap();
        let writer = AuditWriter::start(store.clone()).unwrap();
        writer.close();
        writer.record(event(0));
        assert_eq!(writer.dropped(), 1);
        let stored = store
            .audit_events(AuditQuery::Certificate("100000001"), 10)
            .unwrap();
        assert!(stored.is_empty());
    }
}
