//! Generated container names, `adjective_surname` like Docker's, from berth's own lists:
//! adjectives of temperament and surnames of people who shaped computing and science.

const ADJECTIVES: [&str; 50] = [
    "able", "agile", "amused", "ardent", "bold", "brave", "bright", "calm", "candid", "careful",
    "cheerful", "clever", "cosmic", "curious", "daring", "deft", "diligent", "eager", "earnest",
    "fearless", "fervent", "frank", "gentle", "gifted", "glad", "hardy", "honest", "humble",
    "jolly", "keen", "kind", "lively", "loyal", "lucid", "merry", "mindful", "nimble", "patient",
    "plucky", "proud", "quiet", "radiant", "serene", "steady", "sturdy", "swift", "tender",
    "upbeat", "vivid", "witty",
];

const SURNAMES: [&str; 50] = [
    "allen",
    "babbage",
    "backus",
    "bartik",
    "bell",
    "berners_lee",
    "boole",
    "cerf",
    "church",
    "codd",
    "conway",
    "curie",
    "dijkstra",
    "easley",
    "engelbart",
    "euler",
    "faraday",
    "feynman",
    "floyd",
    "gauss",
    "goldberg",
    "hamilton",
    "hamming",
    "hodgkin",
    "hollerith",
    "hopper",
    "huffman",
    "johnson",
    "kahn",
    "karp",
    "knuth",
    "lamarr",
    "lamport",
    "liskov",
    "lovelace",
    "mccarthy",
    "meitner",
    "minsky",
    "noether",
    "perlman",
    "ritchie",
    "shannon",
    "shaw",
    "sutherland",
    "tarjan",
    "thompson",
    "torvalds",
    "turing",
    "vaughan",
    "wirth",
];

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS once per process and perturbed per instance.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    h.finish()
}

/// A name like `brave_lovelace`. `retry > 0` appends a digit, as Docker does after a
/// collision, so a few retries find a free name even when the pair is taken.
pub fn random_name(retry: u32) -> String {
    let r = random_u64();
    let adj = ADJECTIVES[(r % 50) as usize];
    let sur = SURNAMES[((r / 50) % 50) as usize];
    if retry > 0 {
        format!("{adj}_{sur}{}", (r / 2500) % 10)
    } else {
        format!("{adj}_{sur}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_variety() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let n = random_name(0);
            let (a, s) = n.split_once('_').expect("adjective_surname");
            assert!(ADJECTIVES.contains(&a), "{n}");
            assert!(SURNAMES.contains(&s), "{n}");
            seen.insert(n);
        }
        assert!(seen.len() > 100, "names repeat too often: {}", seen.len());
        let r = random_name(1);
        assert!(r.chars().last().is_some_and(|c| c.is_ascii_digit()), "{r}");
    }

    #[test]
    fn lists_have_no_duplicates_and_valid_chars() {
        for list in [&ADJECTIVES[..], &SURNAMES[..]] {
            let mut v = list.to_vec();
            v.sort();
            v.dedup();
            assert_eq!(v.len(), list.len());
            assert!(list
                .iter()
                .all(|w| w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        }
    }
}
