//! Container names: validation, Docker-style generated names, and the name index.

use std::collections::HashMap;

use berth_model::Error;

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "ardent", "bold", "brave", "bright", "brisk", "calm", "clever", "cosmic",
    "crisp", "daring", "deft", "eager", "earnest", "epic", "fair", "fervent", "fleet", "frosty",
    "gentle", "glad", "golden", "hardy", "hearty", "humble", "jolly", "keen", "kind", "lively",
    "lucid", "lunar", "mellow", "merry", "mighty", "nimble", "noble", "patient", "placid", "proud",
    "quiet", "rapid", "serene", "shiny", "silent", "steady", "stoic", "sunny", "swift", "tidy",
    "vivid", "wise", "witty", "zealous",
];

const NOUNS: &[&str] = &[
    "anchor",
    "barge",
    "beacon",
    "bollard",
    "bow",
    "buoy",
    "cabin",
    "canal",
    "capstan",
    "cargo",
    "clipper",
    "compass",
    "coral",
    "current",
    "cutter",
    "delta",
    "dinghy",
    "dock",
    "estuary",
    "ferry",
    "fjord",
    "galley",
    "harbor",
    "helm",
    "hull",
    "inlet",
    "jetty",
    "keel",
    "lagoon",
    "lantern",
    "lighthouse",
    "mast",
    "mooring",
    "narrows",
    "oar",
    "pier",
    "quay",
    "reef",
    "rudder",
    "sail",
    "schooner",
    "shoal",
    "skiff",
    "sloop",
    "sound",
    "stern",
    "tide",
    "tugboat",
    "wharf",
    "yawl",
];

/// Checks a user-given name against Docker's rule `/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate(name: &str) -> Result<String, Error> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let mut chars = bare.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {
            bare.len() >= 2
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        }
        _ => false,
    };
    if ok {
        Ok(bare.to_string())
    } else {
        Err(Error::invalid(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

/// A generated `adjective_noun` name; `seed` picks it (the caller passes fresh random bits).
pub fn generate(seed: u64) -> String {
    let a = ADJECTIVES[(seed % ADJECTIVES.len() as u64) as usize];
    let n = NOUNS[((seed >> 16) % NOUNS.len() as u64) as usize];
    format!("{a}_{n}")
}

/// Name → container ID, kept in step with the container records.
#[derive(Debug, Default)]
pub struct NameIndex {
    by_name: HashMap<String, String>,
}

impl NameIndex {
    /// Reserves `name` for `id`; Docker's conflict message when another container has it.
    pub fn reserve(&mut self, name: &str, id: &str) -> Result<(), Error> {
        if let Some(owner) = self.by_name.get(name) {
            if owner != id {
                return Err(Error::conflict(format!(
                    "Conflict. The container name \"/{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
        }
        self.by_name.insert(name.to_string(), id.to_string());
        Ok(())
    }

    /// Frees `name`.
    pub fn release(&mut self, name: &str) {
        self.by_name.remove(name);
    }

    /// The container holding `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.by_name.get(name).map(String::as_str)
    }

    /// Whether `name` is taken.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_name_rule() {
        assert_eq!(validate("/web").ok().as_deref(), Some("web"));
        assert_eq!(validate("a.b-c_d1").ok().as_deref(), Some("a.b-c_d1"));
        for bad in ["", "a", "-x", "_x", "a b", "a/b", "é1"] {
            assert!(validate(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn conflict_message_is_dockers() {
        let mut idx = NameIndex::default();
        idx.reserve("web", "abc").expect("free");
        let err = idx.reserve("web", "def").expect_err("taken");
        assert!(err.message.starts_with(
            "Conflict. The container name \"/web\" is already in use by container \"abc\""
        ));
        idx.release("web");
        assert!(idx.reserve("web", "def").is_ok());
    }

    #[test]
    fn generated_names_are_valid() {
        for seed in [0u64, 1, 77, u64::MAX, 123_456_789] {
            assert!(validate(&generate(seed)).is_ok());
        }
    }
}
