//! Lookup by beneficiary id against an existing, large store.
//!
//! Set `DIVOC_BENCH_STORE_URL` to the store to measure (an SQLite path or URL,
//! or a PostgreSQL URL), for example one filled by `scripts/scale-test.sh`.
//! Without it the bench prints a notice and measures nothing. The store is only
//! read.
//!
//! Before criterion's run, a timing loop over `DIVOC_BENCH_SAMPLES` (default
//! 2000) random beneficiaries prints the p50, p99 and maximum latency of one
//! lookup, because criterion reports means and medians only.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs,
    reason = "bench code: a failed expectation ends the bench"
)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use divoc_store::schema::certificates;
use divoc_store::{Store, StoreOptions};

const URL_VARIABLE: &str = "DIVOC_BENCH_STORE_URL";

/// Next value of a xorshift64 generator; the bench needs spread, not quality.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Picks beneficiaries spread over the whole table: for each random
/// 10-digit string, the beneficiary of the first certificate id at or after it.
macro_rules! sample_with {
    ($connection:expr, $count:expr) => {{
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut ids = Vec::with_capacity($count);
        while ids.len() < $count {
            let start = format!("{:010}", next_random(&mut state) % 10_000_000_000);
            let found: Option<String> = certificates::table
                .filter(certificates::certificate_id.ge(&start))
                .order(certificates::certificate_id)
                .select(certificates::pre_enrollment_code)
                .first($connection)
                .optional()
                .expect("sample query");
            if let Some(id) = found {
                ids.push(id);
            }
        }
        ids
    }};
}

fn sample_beneficiaries(url: &str, count: usize) -> Vec<String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut connection = PgConnection::establish(url).expect("PostgreSQL connection");
        sample_with!(&mut connection, count)
    } else {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let mut connection = SqliteConnection::establish(path).expect("SQLite connection");
        sample_with!(&mut connection, count)
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index]
}

fn lookup_by_beneficiary(criterion: &mut Criterion) {
    let Ok(url) = std::env::var(URL_VARIABLE) else {
        println!("skipping the lookup bench: set {URL_VARIABLE} to the URL of a filled store");
        return;
    };
    let samples: usize = std::env::var("DIVOC_BENCH_SAMPLES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(2000);
    let store = Store::open(&url, &StoreOptions::default()).expect("store opens");
    let ids = sample_beneficiaries(&url, samples);

    let mut latencies = Vec::with_capacity(ids.len());
    let mut certificates_found = 0;
    for id in &ids {
        let started = Instant::now();
        let records = store.certificates_by_beneficiary(id).expect("lookup");
        latencies.push(started.elapsed());
        certificates_found += records.len();
    }
    latencies.sort_unstable();
    println!(
        "lookup by beneficiary id on {}: {} lookups, {certificates_found} certificates, \
         p50 {:?}, p99 {:?}, max {:?}",
        store.backend_name(),
        latencies.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );

    let mut next = 0;
    criterion.bench_function(
        &format!("certificates_by_beneficiary/{}", store.backend_name()),
        |bencher| {
            bencher.iter(|| {
                let id = &ids[next % ids.len()];
                next += 1;
                store.certificates_by_beneficiary(id).expect("lookup")
            });
        },
    );
}

criterion_group!(benches, lookup_by_beneficiary);
criterion_main!(benches);
