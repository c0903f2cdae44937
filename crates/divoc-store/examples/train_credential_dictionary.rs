//! Trains the zstd dictionary that SQLite stores compress credentials with.
//!
//! The committed dictionary, `src/credential/dictionary-1.zdict`, must never
//! change, because stored values need its exact bytes. This program shows how
//! it was made, for a later format with another dictionary:
//!
//! ```sh
//! divoc-server generate --beneficiaries 12000 --seed 7 \
//!   | cargo run -p divoc-store --example train_credential_dictionary -- \
//!       crates/divoc-store/src/credential/skeleton.ndjson dictionary.zdict
//! ```
//!
//! The samples are the credentials of the export on standard input, and the
//! two hand-written credentials of `skeleton.ndjson`, which carry field names and
//! values of real deployments that the generator does not write. The export
//! gives zstd the statistics it stores in the dictionary, so that it need not
//! build them for every credential.

use std::io::BufRead;

/// Size limit of the trained dictionary. On generated credentials, 16 KiB
/// made them 1 to 3 % smaller than 8 KiB.
const DICTIONARY_BYTES: usize = 8 * 1024;

/// Credentials taken from the export.
const EXPORT_SAMPLES: usize = 20_000;

/// Times each hand-written credential is given, so that their text is about
/// 7 % of the samples.
const SKELETON_REPEATS: usize = 1_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let (Some(skeleton), Some(output)) = (arguments.next(), arguments.next()) else {
        return Err(
            "usage: train_credential_dictionary SKELETON.ndjson OUTPUT.zdict < export.ndjson"
                .into(),
        );
    };
    let skeleton = std::fs::read_to_string(&skeleton)?;
    let variants: Vec<&str> = skeleton
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();

    let mut samples: Vec<Vec<u8>> = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let record: serde_json::Value = serde_json::from_str(&line)?;
        if let Some(credential) = record.get("certificate").and_then(|value| value.as_str()) {
            samples.push(credential.as_bytes().to_vec());
            if samples.len() == EXPORT_SAMPLES {
                break;
            }
        }
    }
    let from_export = samples.len();
    for _ in 0..SKELETON_REPEATS {
        samples.extend(variants.iter().map(|variant| variant.as_bytes().to_vec()));
    }
    let dictionary = zstd::dict::from_samples(&samples, DICTIONARY_BYTES)?;
    std::fs::write(&output, &dictionary)?;
    eprintln!(
        "{} bytes from {from_export} credentials and {} hand-written ones, written to {output}",
        dictionary.len(),
        variants.len()
    );
    Ok(())
}
