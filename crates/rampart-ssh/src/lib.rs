//! rampart's SSH transport, and the only crate in the project that touches russh.
//!
//! A [`Connector`] (one per run) dials a resolved [`Target`], directly or through a ProxyJump
//! chain whose bastion connections it shares between targets, checks the host key against
//! known_hosts ([`HostKeyPolicy`]), authenticates with ssh-agent keys then identity files, and
//! returns a [`Session`]: a cloneable handle on which many tasks run commands concurrently
//! ([`Session::exec`]), write files atomically ([`Session::put_file`]) and read them back
//! ([`Session::fetch_file`]).
//!
//! Code map:
//! - `target`: inventory + `ssh -G` → [`Target`] ([`resolve`], [`Resolver`]).
//! - `client`: [`Connector`], host key check hook, bastion cache, connect timeouts.
//! - `auth`: agent and identity-file authentication, passphrases, RSA hash negotiation.
//! - `known_hosts`: our own known_hosts parser / matcher / appender.
//! - `session`: channels, stdin streaming, timeouts, the channel cap.
//! - `quote`: shell quoting and the remote scripts (`sudo`, atomic put, fetch).
//! - `error`: [`SshError`] and its [`ErrorKind`].

mod auth;
mod client;
mod error;
pub mod known_hosts;
mod quote;
mod session;
mod target;

pub use client::{ClientOptions, Connector, HostKeyPolicy};
pub use error::{ErrorKind, SshError};
pub use quote::{become_command, script_command, shell_quote};
pub use session::{
    Exec, Limits as OutputLimits, MAX_COMMAND_OUTPUT, MAX_HOST_OUTPUT, Output, PutFile, Session,
    SessionStats, Watch,
};
pub use target::{
    DEFAULT_CONNECT_TIMEOUT, ResolveOptions, Resolver, Target, TargetOverrides, resolve,
};
