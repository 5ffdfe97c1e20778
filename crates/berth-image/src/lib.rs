//! berth-image: berth's local image store and union file system (synchronous; the engine
//! calls it from `spawn_blocking`).
//!
//! - [`Store`]: content-addressed blobs (verified before they become visible), image
//!   records, tags; [`Store::resolve`] turns what a user typed into an image ID with
//!   Docker's rules; [`Store::list`], [`Store::image`], [`Store::history`], [`Store::tag`],
//!   [`Store::remove`], [`Store::prune`].
//! - [`Reference`]: Docker references, normalized (`busybox` →
//!   `docker.io/library/busybox:latest`, shown as `busybox:latest`).
//! - [`spec`]: OCI / Docker manifests, indexes and the image config ([`ImageConfig`]).
//! - Loading and saving: [`Store::load`] (docker-archive and OCI layout, as any `docker save`
//!   writes them), [`Store::save`], [`Store::import`] (a root file system tar), and the
//!   [`changes`] module (`--change` Dockerfile instructions).
//! - Layers are unpacked once per chain ID, fd-relative and race-free ([`fsx`]), with
//!   overlayfs whiteouts. [`snapshot`]: a container's root as an overlay of the layers
//!   plus its `rw/upper`, or a full copy when overlay cannot be used; [`Store::changes`]
//!   (`docker diff`), [`Store::commit`].
//! - [`archive`]: `docker export`, `docker cp` in both directions, path stat, sizes.
//!
//! Invariants: nothing inside the store root holds an absolute path; no lookup below a
//! root (a layer, a container root) can leave it, whatever the tree contains.

pub mod archive;
pub mod changes;
mod diff;
mod digest;
mod error;
pub mod fsx;
mod images;
mod layers;
mod load;
mod pack;
mod reference;
mod save;
pub mod snapshot;
pub mod spec;
mod store;
mod time;
mod unpack;

pub use archive::{archive_path, export, extract_into, stat_path, PathStat};
pub use digest::{is_hex64, Digest, HashReader, HashWriter};
pub use error::{Error, ErrorKind, Result};
pub use images::{DeleteItem, HistoryItem, ImportOptions, InUse, Usage};
pub use load::{LoadProgress, Loaded};
pub use pack::Packer;
pub use reference::{Reference, DEFAULT_DOMAIN, DEFAULT_TAG};
pub use snapshot::{mount_overlay, unmount, Change, ChangeKind, CommitOptions, Driver, Snapshot};
pub use spec::{ContainerConfig, Healthcheck, History, ImageConfig};
pub use store::{decompress, Compression, Image, ImageRecord, Store};
pub use time::{format_rfc3339, now_rfc3339, parse_rfc3339};
pub use unpack::Ownership;
