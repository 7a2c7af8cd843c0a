//! Test helpers shared by the resource tests: fact builders and the idempotence check.

use super::Resource;
use crate::facts::{Facts, FileState};
use crate::plan::Change;

/// Facts holding one file.
pub(crate) fn facts_with_file(path: &str, state: FileState) -> Facts {
    let mut f = Facts::default();
    f.files.insert(path.to_owned(), state);
    f
}

/// Plans `r` against `facts`, applies the simulated result, and asserts the second plan is a
/// no-op: the property every resource must have.
pub(crate) fn assert_idempotent(r: &Resource, mut facts: Facts) {
    let first = r
        .plan(&facts)
        .unwrap_or_else(|e| panic!("{}: first plan failed: {e}", r.id()));
    if let Change::Apply(_) = first {
        r.simulate(&mut facts);
    }
    let second = r
        .plan(&facts)
        .unwrap_or_else(|e| panic!("{}: second plan failed: {e}", r.id()));
    assert!(
        !second.is_apply(),
        "{}: not idempotent, second plan: {second:?}",
        r.id()
    );
}
