//! Sends codes off the request path.
//!
//! A request only queues its mobile number and code. Worker threads then check
//! whether any certificate is registered to the number and send the SMS only if
//! one is, so the response neither waits for the gateway nor takes a different
//! time for numbers without certificates.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use divoc_store::Store;

use super::OtpError;
use super::sms::{SmsSender, render_message};

/// Worker threads that check numbers and send messages.
const WORKERS: usize = 4;

/// Maximum number of codes waiting for a worker. A request that finds the queue
/// full gets 503.
const QUEUE_CAPACITY: usize = 1024;

/// Seconds between purges of expired challenges and ended rate-limit windows.
const PURGE_INTERVAL_SECONDS: i64 = 60;

/// One code to deliver. Lives in memory only until a worker has handled it.
struct Job {
    mobile: String,
    code: String,
    mobile_reference: String,
}

/// State shared by the workers.
struct WorkerContext {
    store: Store,
    sender: Box<dyn SmsSender>,
    message_template: String,
    code_minutes: u64,
    rate_window: Duration,
    /// Bucket name prefixes of the delivery limits, each with its window.
    delivery_windows: Vec<(String, Duration)>,
    /// Unix time of the last purge, so that only one worker purges a minute.
    last_purge: AtomicI64,
}

/// The queue in front of the worker threads.
pub(super) struct Dispatcher {
    queue: SyncSender<Job>,
}

/// The queue is full: the gateway is slower than requests arrive.
#[derive(Debug)]
pub(super) struct QueueFull;

/// Settings of the workers.
pub(super) struct DispatchSettings {
    pub message_template: String,
    pub code_ttl: Duration,
    pub rate_window: Duration,
    /// Bucket name prefixes of the citizen limits on email, share links and
    /// SMS, each with its window, so that the purge keeps their counts.
    pub delivery_windows: Vec<(String, Duration)>,
}

impl Dispatcher {
    /// Starts the worker threads.
    pub(super) fn start(
        store: Store,
        sender: Box<dyn SmsSender>,
        settings: DispatchSettings,
    ) -> Result<Self, OtpError> {
        let (queue, receiver) = sync_channel(QUEUE_CAPACITY);
        let receiver = Arc::new(Mutex::new(receiver));
        let context = Arc::new(WorkerContext {
            store,
            sender,
            message_template: settings.message_template,
            code_minutes: settings.code_ttl.as_secs().div_ceil(60).max(1),
            rate_window: settings.rate_window,
            delivery_windows: settings.delivery_windows,
            last_purge: AtomicI64::new(0),
        });
        for index in 0..WORKERS {
            let receiver = Arc::clone(&receiver);
            let context = Arc::clone(&context);
            std::thread::Builder::new()
                .name(format!("otp-sms-{index}"))
                .spawn(move || run_worker(&receiver, &context))
                .map_err(OtpError::Thread)?;
        }
        Ok(Dispatcher { queue })
    }

    /// Queues a code for delivery without waiting.
    pub(super) fn enqueue(
        &self,
        mobile: String,
        code: String,
        mobile_reference: String,
    ) -> Result<(), QueueFull> {
        let job = Job {
            mobile,
            code,
            mobile_reference,
        };
        match self.queue.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(QueueFull),
        }
    }
}

/// Takes jobs until the queue is dropped with the service.
fn run_worker(receiver: &Mutex<Receiver<Job>>, context: &WorkerContext) {
    loop {
        // The lock is held only while waiting for the next job.
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        deliver(context, &job);
        purge_if_due(context);
    }
}

fn deliver(context: &WorkerContext, job: &Job) {
    let registered = match context.store.mobile_has_certificates(&job.mobile) {
        Ok(registered) => registered,
        Err(error) => {
            tracing::error!(
                %error,
                mobile.reference = %job.mobile_reference,
                "certificate check by mobile number failed; code not sent"
            );
            return;
        }
    };
    if !registered {
        tracing::info!(
            mobile.reference = %job.mobile_reference,
            "no certificate is registered to this mobile number; code not sent"
        );
        return;
    }
    let text = render_message(&context.message_template, &job.code, context.code_minutes);
    match context
        .sender
        .send(&job.mobile, &text, &job.mobile_reference)
    {
        Ok(()) => {
            tracing::info!(mobile.reference = %job.mobile_reference, "code handed to the SMS sender")
        }
        Err(error) => tracing::error!(
            %error,
            mobile.reference = %job.mobile_reference,
            "code not delivered"
        ),
    }
}

/// Deletes expired challenges and ended rate-limit windows after a job, at most
/// once a minute per process.
fn purge_if_due(context: &WorkerContext) {
    let now = chrono::Utc::now();
    let last = context.last_purge.load(Ordering::Relaxed);
    if now.timestamp() - last < PURGE_INTERVAL_SECONDS {
        return;
    }
    let claimed = context.last_purge.compare_exchange(
        last,
        now.timestamp(),
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    if claimed.is_err() {
        return;
    }
    match context.store.purge_otp_state(now, context.rate_window) {
        Ok(purge) => tracing::debug!(
            challenges = purge.challenges,
            rate_limits = purge.rate_limits,
            "purged expired citizen login state"
        ),
        Err(error) => tracing::warn!(%error, "failed to purge expired citizen login state"),
    }
    for (prefix, window) in &context.delivery_windows {
        match context.store.purge_rate_limits(prefix, now, *window) {
            Ok(purged) => {
                tracing::debug!(prefix = %prefix, purged, "purged ended rate-limit windows");
            }
            Err(error) => {
                tracing::warn!(%error, prefix = %prefix, "failed to purge ended rate-limit windows")
            }
        }
    }
}
