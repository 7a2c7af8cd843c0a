//! rampart's pure model: what the operator declared, what a host has, and what would change.
//!
//! **Architecture invariant:** this crate does no IO: no files, no network, no processes, no
//! clock. Everything here is a function of its inputs, so planning is unit-tested without SSH.

pub mod aptsources;
pub mod error;
pub mod facts;
pub mod hostplan;
pub mod inventory;
pub mod plan;
pub mod preflight;
pub mod report;
pub mod resource;
pub mod role;
pub mod rollback;
pub mod secret;
pub mod shell;
pub mod site;
pub mod sshd;
pub mod template;
pub mod testing;
pub mod types;
pub mod vars;
pub mod verify;

pub use error::{InputError, Location};
pub use plan::{Apply, Change, Diff, Risk};
pub use secret::Secret;
