//! The CLI's errors and the documented exit codes they map to.

use std::fmt;
use std::process::ExitCode;

use rampart_core::InputError;

/// Exit codes, as `rampart --help` documents them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success; check found nothing to change; audit found every control passing.
    Ok = 0,
    /// rampart itself failed.
    Internal = 1,
    /// Bad input; nothing was sent to any host.
    BadInput = 2,
    /// A host failed.
    HostFailed = 3,
    /// A host was unreachable (and none failed).
    Unreachable = 4,
    /// check: changes pending; audit: a control fails.
    Drift = 5,
    /// Interrupted.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// Why a command could not run.
#[derive(Debug)]
pub enum CliError {
    /// The operator's input is wrong: each error names a file, line and what to do.
    Input(Vec<InputError>),
    /// Something failed on the controller.
    Internal(String),
}

impl CliError {
    /// An internal error.
    pub fn internal(msg: impl Into<String>) -> Self {
        CliError::Internal(msg.into())
    }

    /// The exit code.
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Input(_) => Exit::BadInput,
            CliError::Internal(_) => Exit::Internal,
        }
    }
}

impl From<InputError> for CliError {
    fn from(e: InputError) -> Self {
        CliError::Input(vec![e])
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Input(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "error: {e}")?;
                }
                if errors.len() > 1 {
                    write!(f, "\n{} errors; nothing was sent to any host", errors.len())?;
                }
                Ok(())
            }
            CliError::Internal(m) => write!(f, "error: {m}"),
        }
    }
}
