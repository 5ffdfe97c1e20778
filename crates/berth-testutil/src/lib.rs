//! berth-testutil (placeholder header, replaced by the owner of the crate).
