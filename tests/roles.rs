//! The roles' lab tests, one module per role: `roles/NAME/tests/lab.rs` is `role_lab::NAME` here,
//! found by the root build script (build.rs), so adding a role's lab test touches only its
//! folder. Run one role's with `cargo test --test roles -- --ignored role_lab::NAME::`.
//!
//! Each module reaches the shared helpers as `crate::util` (tests/util/mod.rs).
//!
//! Each test owns its lab hosts (tests/util/HOSTS.md); tests/run runs this binary last in its
//! lane, four tests at a time (`--test-threads=4`).

mod util;

mod role_lab {
    include!(concat!(env!("OUT_DIR"), "/role_labs.rs"));
}
