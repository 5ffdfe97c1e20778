//! Container names: validation and the name index (generated names: `berth_specgen::random_name`).

use std::collections::HashMap;

use berth_model::Error;

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
}
