//! rampart's executor: connect to every host at once, gather facts in one round trip, plan
//! purely, apply in batches, run handlers, verify, and report.
//!
//! **Architecture invariant:** this crate decides *when* things run and *where* results go;
//! *what* to change is decided by `rampart-core`, and *how bytes reach a host* by
//! `rampart-ssh`.

pub mod factcache;
pub mod host;
pub mod journal;
pub mod load;
pub mod localfs;
pub mod portprobe;
pub mod remote;
pub mod run;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use host::{HostJob, Reporter, RoleJob, RunOptions, Shared, Silent, StepEvent, VerifyPolicy};
pub use run::{Rollout, run_fleet, run_rollout};
