//! Runtime errors.

/// Broad class of an error, for callers that map errors to exit codes or HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The container or a file does not exist.
    NotFound,
    /// A container with that ID exists already.
    AlreadyExists,
    /// The operation does not fit the container's status.
    Conflict,
    /// The bundle or the request is malformed.
    InvalidArgument,
    /// The kernel or host lacks something needed.
    Unsupported,
    /// A system call or I/O failed.
    System,
}

/// A runtime error: what failed, on which object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid configuration or request.
    #[error("{0}")]
    Invalid(String),
    /// Missing container or file.
    #[error("{0}")]
    NotFound(String),
    /// A container with this ID exists.
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    /// Wrong status for the operation.
    #[error("{0}")]
    Conflict(String),
    /// Not supported here.
    #[error("{0}")]
    Unsupported(String),
    /// A system call failed.
    #[error("{context}: {source}")]
    Sys {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The bundle's config.json.
    #[error(transparent)]
    Spec(#[from] berth_spec::SpecError),
    /// The cgroup manager.
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::Error),
    /// The seccomp compiler.
    #[error(transparent)]
    Seccomp(#[from] berth_seccomp::Error),
    /// A failure reported by the container's init process.
    #[error("{0}")]
    Container(String),
}

impl Error {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) | Error::Spec(_) | Error::Seccomp(_) => ErrorKind::InvalidArgument,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::AlreadyExists(_) => ErrorKind::AlreadyExists,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Sys { .. } | Error::Container(_) | Error::Cgroup(_) => ErrorKind::System,
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn sys(context: impl Into<String>, source: impl Into<std::io::Error>) -> Error {
        Error::Sys {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
