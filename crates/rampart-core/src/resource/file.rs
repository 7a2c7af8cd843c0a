//! Files, directories, links and in-place edits.
//!
//! **Invariant:** a file is never half-written. New content goes to a temporary file in the
//! target's own directory (so `mv` is an atomic rename), is validated there (or, for drop-ins
//! that can only be checked in place, validated after the rename with the old file restored on
//! failure), and the content hash the plan saw is re-checked on the host right before the
//! rename.

use serde::Serialize;

use super::PlanError;
use crate::facts::{FactRequest, Facts, FileState, sha256_hex};
use crate::plan::{Apply, AttrChange, Change, Diff, Risk};
use crate::secret::Secret;
use crate::shell::{SAFE_PATH_FNS, Script, canonical_absolute};

/// What goes into a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Content {
    /// Text that may be shown in diffs.
    Text(String),
    /// Text holding a secret: never shown, diffs are redacted.
    Sensitive(#[serde(skip)] SensitiveText),
}

/// Text with a secret in it; compared and written, never printed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SensitiveText(Option<Secret>);

impl std::fmt::Debug for SensitiveText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SensitiveText(<redacted>)")
    }
}

impl Content {
    /// Sensitive content from a secret-bearing string.
    pub fn sensitive(text: String) -> Self {
        Content::Sensitive(SensitiveText(Some(Secret::new(text))))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Content::Text(t) => t.as_bytes(),
            Content::Sensitive(SensitiveText(s)) => {
                s.as_ref().map_or(&[], |s| s.expose().as_bytes())
            }
        }
    }

    fn is_sensitive(&self) -> bool {
        matches!(self, Content::Sensitive(_))
    }
}

/// How new content is validated before it can do harm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "command", rename_all = "snake_case")]
pub enum Validate {
    /// Run on the temporary file before the rename; `%s` is replaced by its path
    /// (`visudo -cf %s`, `sshd -t -f %s`).
    Temp(String),
    /// Run after the rename, with the previous file restored if it fails. For drop-ins that
    /// are only meaningful inside the whole configuration (`sshd -t`).
    InPlace(String),
}

/// A whole file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct File {
    /// Absolute path.
    pub path: String,
    /// Desired content; `None` means the file must be absent.
    pub content: Option<Content>,
    /// Permission bits.
    pub mode: u32,
    /// Owner name.
    pub owner: String,
    /// Group name.
    pub group: String,
    /// Validation of new content.
    pub validate: Option<Validate>,
    /// Handlers to notify on change.
    pub notify: Vec<String>,
    /// Shell code run right after the file changed. An apt source (sources.list,
    /// sources.list.d/*.list or *.sources) gets `apt-get update` when this is `None`: the run's
    /// probe could not see the new source, and an install after it in the same run needs its
    /// lists.
    #[serde(skip)]
    pub on_change: Option<Script>,
    /// How risky a change is.
    pub risk: Risk,
}

impl File {
    /// A root-owned file with this content and mode.
    pub fn new(path: impl Into<String>, content: impl Into<String>, mode: u32) -> Self {
        File {
            path: path.into(),
            content: Some(Content::Text(content.into())),
            mode,
            owner: "root".into(),
            group: "root".into(),
            validate: None,
            notify: Vec::new(),
            on_change: None,
            risk: Risk::Low,
        }
    }

    /// A file that must not exist.
    pub fn absent(path: impl Into<String>) -> Self {
        File {
            content: None,
            ..File::new(path, "", 0o644)
        }
    }

    /// Sets the owner and group.
    #[must_use]
    pub fn owned_by(mut self, owner: &str, group: &str) -> Self {
        self.owner = owner.into();
        self.group = group.into();
        self
    }

    /// Adds a validation.
    #[must_use]
    pub fn validated(mut self, v: Validate) -> Self {
        self.validate = Some(v);
        self
    }

    /// Notifies a handler on change.
    #[must_use]
    pub fn notifies(mut self, handler: &str) -> Self {
        self.notify.push(handler.into());
        self
    }

    /// Sets the risk.
    #[must_use]
    pub fn risk(mut self, risk: Risk) -> Self {
        self.risk = risk;
        self
    }

    /// Marks the content as secret-bearing.
    #[must_use]
    pub fn sensitive(mut self) -> Self {
        if let Some(Content::Text(t)) = self.content.take() {
            self.content = Some(Content::sensitive(t));
        }
        self
    }

    pub(super) fn facts(&self, req: &mut FactRequest) {
        req.files.insert(self.path.clone());
        match &self.content {
            Some(c) if c.is_sensitive() => req.secret.insert(self.path.clone()),
            Some(_) => req.declared.insert(self.path.clone()),
            None => false,
        };
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        let cur = facts
            .files
            .get(&self.path)
            .ok_or_else(|| PlanError::MissingFact(format!("file {}", self.path)))?;
        let Some(content) = &self.content else {
            return Ok(match cur {
                FileState::Absent => Change::noop("absent"),
                FileState::Dir { .. } => {
                    return Err(PlanError::Refused(format!(
                        "{} is a directory; refusing to remove it",
                        self.path
                    )));
                }
                _ => {
                    let mut s = Script::new();
                    file_step(&mut s, REMOVE_SH, &self.path, None, false, &[])?;
                    Change::Apply(Apply {
                        summary: format!("remove {}", self.path),
                        diff: Diff::Attrs(vec![AttrChange::new("state", "present", "absent")]),
                        script: s,
                        notify: self.notify.clone(),
                        risk: self.risk,
                        touches: vec![self.path.clone()],
                    })
                }
            });
        };
        plan_content(
            &self.path,
            content,
            self.mode,
            &self.owner,
            &self.group,
            self.validate.as_ref(),
            cur,
        )
        .map(|c| self.finish(c))
    }

    fn finish(&self, change: Change) -> Change {
        match change {
            Change::Apply(mut a) => {
                a.notify.clone_from(&self.notify);
                a.risk = self.risk;
                if let Some(extra) = &self.on_change {
                    a.script.extend(extra);
                } else if self.content.is_some() && crate::aptsources::is_source_path(&self.path) {
                    a.script.extend(&super::apt::refresh_script());
                }
                Change::Apply(a)
            }
            noop => noop,
        }
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        let state = match &self.content {
            None => FileState::Absent,
            Some(c) => file_state(c.bytes(), self.mode, &self.owner, &self.group),
        };
        facts.files.insert(self.path.clone(), state);
    }
}

fn file_state(bytes: &[u8], mode: u32, owner: &str, group: &str) -> FileState {
    FileState::File {
        mode,
        owner: owner.into(),
        group: group.into(),
        size: bytes.len() as u64,
        content: Some(bytes.to_vec()),
        sha256: sha256_hex(bytes),
    }
}

/// Plans whole content for a path: shared by [`File`] and [`Edit`].
fn plan_content(
    path: &str,
    content: &Content,
    mode: u32,
    owner: &str,
    group: &str,
    validate: Option<&Validate>,
    cur: &FileState,
) -> Result<Change, PlanError> {
    check_path(path)?;
    let want = content.bytes();
    let want_sha = sha256_hex(want);
    let (cur_sha, cur_attrs) = match cur {
        FileState::Absent => (None, None),
        FileState::File {
            mode,
            owner,
            group,
            sha256,
            ..
        } => (
            Some(sha256.as_str()),
            Some((*mode, owner.as_str(), group.as_str())),
        ),
        FileState::Dir { .. } => {
            return Err(PlanError::Refused(format!(
                "{path} is a directory, expected a file"
            )));
        }
        FileState::Link { target } => {
            return Err(PlanError::Refused(format!(
                "{path} is a symbolic link to {target}; rampart does not write through links (remove the link or manage {target})"
            )));
        }
        FileState::Other => {
            return Err(PlanError::Refused(format!("{path} is not a regular file")));
        }
    };
    let content_ok = cur_sha == Some(want_sha.as_str());
    let attrs_ok = cur_attrs == Some((mode, owner, group));
    if content_ok && attrs_ok {
        return Ok(Change::noop("content and attributes match"));
    }
    let mut script = Script::new();
    let diff;
    let summary;
    if content_ok {
        // Attributes only: no rewrite, no validation needed. Owner first (`chown -h` never
        // follows a link), then the mode as whoever acts in the directory (see
        // `SAFE_PATH_FNS`): `chmod` would follow a link swapped in since the check.
        let (m, o, g) = cur_attrs.unwrap_or((0, "", ""));
        let mut attrs = Vec::new();
        let (mut set_owner, mut set_mode) = (String::new(), String::new());
        if (o, g) != (owner, group) {
            attrs.push(AttrChange::new(
                "owner",
                format!("{o}:{g}"),
                format!("{owner}:{group}"),
            ));
            set_owner = format!("{owner}:{group}");
        }
        if m != mode {
            attrs.push(AttrChange::new(
                "mode",
                format!("{m:04o}"),
                format!("{mode:04o}"),
            ));
            set_mode = format!("{mode:04o}");
        }
        file_step(
            &mut script,
            ATTRS_SH,
            path,
            Some((owner, group)),
            false,
            &[&set_owner, &set_mode],
        )?;
        attrs.sort_by(|a, b| a.name.cmp(&b.name));
        summary = format!(
            "set {} on {path}",
            attrs
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        );
        diff = Diff::Attrs(attrs);
    } else {
        summary = if cur_sha.is_none() {
            format!("create {path}")
        } else {
            format!("update {path}")
        };
        diff = if content.is_sensitive() {
            Diff::Redacted {
                path: path.to_owned(),
            }
        } else {
            let before = cur
                .text()
                .map(str::to_owned)
                .or_else(|| cur_sha.map(|_| "(binary or large content)\n".to_owned()));
            Diff::Text {
                path: path.to_owned(),
                before,
                after: String::from_utf8_lossy(want).into_owned(),
            }
        };
        write_script(
            &mut script,
            path,
            want,
            mode,
            owner,
            group,
            validate,
            cur_sha,
        )?;
    }
    Ok(Change::Apply(Apply {
        summary,
        diff,
        script,
        notify: Vec::new(),
        risk: Risk::Low,
        touches: vec![path.to_owned()],
    }))
}

/// Refuses a path the shell helpers cannot walk (relative, `..`, `//`, a trailing `/`).
fn check_path(path: &str) -> Result<(), PlanError> {
    if canonical_absolute(path) {
        Ok(())
    } else {
        Err(PlanError::Refused(format!(
            "{path} is not an absolute path without `.`, `..`, `//` or a trailing `/`"
        )))
    }
}

const REMOVE_SH: &str = include_str!("file/remove.sh");
const ATTRS_SH: &str = include_str!("file/attrs.sh");
const WRITE_BEGIN_SH: &str = include_str!("file/write_begin.sh");
const WRITE_END_SH: &str = include_str!("file/write_end.sh");
const DIR_SH: &str = include_str!("file/dir.sh");
const LINK_SH: &str = include_str!("file/link.sh");

/// Appends a step that acts on `path`: the helpers ([`SAFE_PATH_FNS`]), then `code` (a `.sh`
/// file) with its positional parameters: the parent directory, `create` or empty, the owner
/// and group the actor is decided for (empty for none), the path, its name in the parent,
/// then `rest`. The step starts with `rampart_enter "$1" "$2" "$3" "$4"`: the parent pinned
/// as the working directory without following a link a non-root user could have planted
/// (created if `create`), and works on `./NAME` from then on.
pub(super) fn file_step(
    s: &mut Script,
    code: &'static str,
    path: &str,
    owner_group: Option<(&str, &str)>,
    create: bool,
    rest: &[&str],
) -> Result<(), PlanError> {
    check_path(path)?;
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
    let dir = if dir.is_empty() { "/" } else { dir };
    let (owner, group) = owner_group.unwrap_or(("", ""));
    let mut args = vec![
        dir,
        if create { "create" } else { "" },
        owner,
        group,
        path,
        base,
    ];
    args.extend_from_slice(rest);
    s.source(SAFE_PATH_FNS);
    s.call(code, args);
    Ok(())
}

/// The atomic write: guard, temp file in the same directory, validate, rename
/// (`file/write_begin.sh`, the content, `file/write_end.sh`). Every name is relative to the
/// pinned parent; the temporary file is created, written and chmodded by whoever acts there
/// (root, or the file's owner in a directory a user owns), chowned with `-h`, and renamed
/// with `-T` (a link or a directory at the target is replaced or refused, never entered).
#[allow(clippy::too_many_arguments)]
fn write_script(
    s: &mut Script,
    path: &str,
    bytes: &[u8],
    mode: u32,
    owner: &str,
    group: &str,
    validate: Option<&Validate>,
    expect_sha: Option<&str>,
) -> Result<(), PlanError> {
    let (kind, run, as_written) = match validate {
        Some(Validate::Temp(cmd)) => ("temp", substitute_temp(cmd), cmd.as_str()),
        Some(Validate::InPlace(cmd)) => ("inplace", cmd.clone(), cmd.as_str()),
        None => ("", String::new(), ""),
    };
    file_step(
        s,
        WRITE_BEGIN_SH,
        path,
        Some((owner, group)),
        true,
        &[
            expect_sha.unwrap_or("absent"),
            &format!("{mode:04o}"),
            &format!("{owner}:{group}"),
            kind,
            &run,
            as_written,
        ],
    )?;
    s.feed_base64("rampart_put \"$t\"", bytes);
    s.source(WRITE_END_SH);
    Ok(())
}

/// The atomic write alone, unguarded (whatever the target holds, except a directory, is
/// replaced) and unvalidated: rampart-ssh's `Session::put_file`, so there is one remote
/// atomic-write script. `chown` is `OWNER:GROUP`, `OWNER`, `:GROUP` or empty (keep the
/// writer's). The content travels inside the script, in a base64 here-document.
pub fn put_file_script(
    path: &str,
    bytes: &[u8],
    mode: u32,
    chown: &str,
) -> Result<Script, PlanError> {
    let mut s = Script::new();
    // Run alone, not in the apply script's `set -e` subshell.
    s.raw("set -e");
    file_step(
        &mut s,
        WRITE_BEGIN_SH,
        path,
        None,
        false,
        &["-", &format!("{:04o}", mode & 0o7777), chown, "", "", ""],
    )?;
    s.feed_base64("rampart_put \"$t\"", bytes);
    s.source(WRITE_END_SH);
    Ok(s)
}

/// Puts the temporary file's path where a validate command says `%s`. Only a whole word
/// `%s` is the placeholder (as in `visudo -cf %s`), so a command may carry its own `printf`
/// formats. The path is absolute (`$PWD` is the pinned directory): a validator may change its
/// own working directory (redis-server does, to its `dir`). It only reads the file. The
/// command is operator code: `file/write_end.sh` runs it with `eval`, where `"$PWD/$t"`
/// expands to the temporary file (never spliced into the script's text).
fn substitute_temp(cmd: &str) -> String {
    let mut out = String::with_capacity(cmd.len() + 8);
    let bytes = cmd.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let at_start = i == 0 || bytes[i - 1].is_ascii_whitespace();
        let at_end = i + 2 >= bytes.len() || bytes[i + 2].is_ascii_whitespace();
        if cmd[i..].starts_with("%s") && at_start && at_end {
            out.push_str("\"$PWD/$t\"");
            i += 2;
        } else {
            let ch = cmd[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// A directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Directory {
    /// Absolute path.
    pub path: String,
    /// Permission bits.
    pub mode: u32,
    /// Owner name.
    pub owner: String,
    /// Group name.
    pub group: String,
}

impl Directory {
    /// A directory with mode and owner.
    pub fn new(path: impl Into<String>, mode: u32, owner: &str, group: &str) -> Self {
        Directory {
            path: path.into(),
            mode,
            owner: owner.into(),
            group: group.into(),
        }
    }

    pub(super) fn facts(&self, req: &mut FactRequest) {
        req.files.insert(self.path.clone());
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        let cur = facts
            .files
            .get(&self.path)
            .ok_or_else(|| PlanError::MissingFact(format!("file {}", self.path)))?;
        let og = format!("{}:{}", self.owner, self.group);
        let mode = format!("{:04o}", self.mode);
        let mut script = Script::new();
        // In the pinned parent: created by whoever acts there, owner set with `-h`, mode by
        // the actor (see `SAFE_PATH_FNS`); a link swapped in since the probe is refused.
        let mut step = |what: &str, og: &str, mode: &str| {
            file_step(
                &mut script,
                DIR_SH,
                &self.path,
                Some((&self.owner, &self.group)),
                true,
                &[what, og, mode],
            )
        };
        let (summary, diff) = match cur {
            FileState::Absent => {
                step("create", &og, &mode)?;
                (
                    format!("create directory {}", self.path),
                    Diff::Attrs(vec![AttrChange::new("state", "absent", "directory")]),
                )
            }
            FileState::Dir {
                mode: cur_mode,
                owner,
                group,
            } => {
                let mut attrs = Vec::new();
                let (mut set_og, mut set_mode) = ("", "");
                if (owner.as_str(), group.as_str()) != (self.owner.as_str(), self.group.as_str()) {
                    attrs.push(AttrChange::new(
                        "owner",
                        format!("{owner}:{group}"),
                        format!("{}:{}", self.owner, self.group),
                    ));
                    set_og = &og;
                }
                if *cur_mode != self.mode {
                    attrs.push(AttrChange::new(
                        "mode",
                        format!("{cur_mode:04o}"),
                        format!("{:04o}", self.mode),
                    ));
                    set_mode = &mode;
                }
                attrs.sort_by(|a, b| a.name.cmp(&b.name));
                if attrs.is_empty() {
                    return Ok(Change::noop("directory matches"));
                }
                step("attrs", set_og, set_mode)?;
                (
                    format!("set attributes on {}", self.path),
                    Diff::Attrs(attrs),
                )
            }
            _ => {
                return Err(PlanError::Refused(format!(
                    "{} exists and is not a directory",
                    self.path
                )));
            }
        };
        Ok(Change::Apply(Apply {
            summary,
            diff,
            script,
            notify: Vec::new(),
            risk: Risk::Low,
            touches: vec![],
        }))
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        facts.files.insert(
            self.path.clone(),
            FileState::Dir {
                mode: self.mode,
                owner: self.owner.clone(),
                group: self.group.clone(),
            },
        );
    }
}

/// A symbolic link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Symlink {
    /// Where the link lives.
    pub path: String,
    /// What it points to.
    pub target: String,
}

impl Symlink {
    pub(super) fn facts(&self, req: &mut FactRequest) {
        req.files.insert(self.path.clone());
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        let cur = facts
            .files
            .get(&self.path)
            .ok_or_else(|| PlanError::MissingFact(format!("file {}", self.path)))?;
        let before = match cur {
            FileState::Link { target } if *target == self.target => {
                return Ok(Change::noop("link points to the target"));
            }
            FileState::Link { target } => target.clone(),
            FileState::Absent => "(absent)".into(),
            FileState::File { .. } => "(a regular file)".into(),
            _ => {
                return Err(PlanError::Refused(format!(
                    "{} exists and is neither a link nor a file",
                    self.path
                )));
            }
        };
        let mut script = Script::new();
        file_step(
            &mut script,
            LINK_SH,
            &self.path,
            None,
            true,
            &[&self.target],
        )?;
        Ok(Change::Apply(Apply {
            summary: format!("link {} -> {}", self.path, self.target),
            diff: Diff::Attrs(vec![AttrChange::new("target", before, &self.target)]),
            script,
            notify: Vec::new(),
            risk: Risk::Low,
            touches: vec![self.path.clone()],
        }))
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        facts.files.insert(
            self.path.clone(),
            FileState::Link {
                target: self.target.clone(),
            },
        );
    }
}

/// How an [`Edit`] changes a file the host otherwise owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EditKind {
    /// Exactly one line matching `matches` (a literal prefix) exists, and it is `line`: every
    /// other matching line is removed (the fix for the seeds' `tee -a`, which appends a
    /// duplicate on every run). The line replaces the first match in place, or is appended.
    Line {
        /// Lines starting with this are "the same line" (`"127.0.1.1 "`, `"/swapfile "`).
        matches: String,
        /// The line that must be there.
        line: String,
    },
    /// A block between `# BEGIN rampart NAME` and `# END rampart NAME` markers.
    Block {
        /// The block's lines, without markers.
        body: String,
    },
}

/// A managed part of a file: the rest of the file is left as the host has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edit {
    /// The file.
    pub path: String,
    /// A name for the edit (block marker, resource id).
    pub name: String,
    /// What to ensure.
    pub kind: EditKind,
    /// Mode, owner and group if the file must be created.
    pub create_mode: u32,
    /// Handlers to notify on change.
    pub notify: Vec<String>,
    /// How risky a change is.
    pub risk: Risk,
}

impl Edit {
    /// Exactly one line starting with `matches` in `path`, equal to `line`.
    pub fn line(path: &str, name: &str, matches: &str, line: &str) -> Self {
        Edit {
            path: path.into(),
            name: name.into(),
            kind: EditKind::Line {
                matches: matches.into(),
                line: line.into(),
            },
            create_mode: 0o644,
            notify: Vec::new(),
            risk: Risk::Low,
        }
    }

    /// A marked block in `path`.
    pub fn block(path: &str, name: &str, body: &str) -> Self {
        Edit {
            path: path.into(),
            name: name.into(),
            kind: EditKind::Block { body: body.into() },
            create_mode: 0o644,
            notify: Vec::new(),
            risk: Risk::Low,
        }
    }

    /// The whole file after the edit, given its current text.
    pub fn apply_to(&self, current: &str) -> String {
        match &self.kind {
            EditKind::Line { matches, line } => {
                let mut out = Vec::new();
                let mut placed = false;
                for l in current.lines() {
                    if l.starts_with(matches.as_str()) || l == line {
                        if !placed {
                            out.push(line.as_str());
                            placed = true;
                        }
                    } else {
                        out.push(l);
                    }
                }
                if !placed {
                    out.push(line.as_str());
                }
                let mut text = out.join("\n");
                text.push('\n');
                text
            }
            EditKind::Block { body } => {
                let begin = format!("# BEGIN rampart {}", self.name);
                let end = format!("# END rampart {}", self.name);
                let mut block = format!("{begin}\n{}", body.trim_end_matches('\n'));
                block.push('\n');
                block.push_str(&end);
                let lines: Vec<&str> = current.lines().collect();
                let b = lines.iter().position(|l| *l == begin);
                let e = lines.iter().position(|l| *l == end);
                let mut out: Vec<String> = Vec::new();
                match (b, e) {
                    (Some(b), Some(e)) if b < e => {
                        out.extend(lines[..b].iter().map(|s| (*s).to_owned()));
                        out.push(block);
                        out.extend(lines[e + 1..].iter().map(|s| (*s).to_owned()));
                    }
                    _ => {
                        out.extend(lines.iter().map(|s| (*s).to_owned()));
                        out.push(block);
                    }
                }
                let mut text = out.join("\n");
                text.push('\n');
                text
            }
        }
    }

    pub(super) fn facts(&self, req: &mut FactRequest) {
        req.files.insert(self.path.clone());
    }

    pub(super) fn plan(&self, facts: &Facts) -> Result<Change, PlanError> {
        let cur = facts
            .files
            .get(&self.path)
            .ok_or_else(|| PlanError::MissingFact(format!("file {}", self.path)))?;
        let (text, mode, owner, group) = match cur {
            FileState::Absent => (
                String::new(),
                self.create_mode,
                "root".to_owned(),
                "root".to_owned(),
            ),
            FileState::File {
                mode, owner, group, ..
            } => match cur.text() {
                Some(t) => (t.to_owned(), *mode, owner.clone(), group.clone()),
                None => {
                    return Err(PlanError::Refused(format!(
                        "{} is not a readable text file",
                        self.path
                    )));
                }
            },
            _ => {
                return Err(PlanError::Refused(format!(
                    "{} is not a regular file",
                    self.path
                )));
            }
        };
        let want = self.apply_to(&text);
        let change = plan_content(
            &self.path,
            &Content::Text(want),
            mode,
            &owner,
            &group,
            None,
            cur,
        )?;
        Ok(match change {
            Change::Apply(mut a) => {
                a.summary = format!("edit {} ({})", self.path, self.name);
                a.notify.clone_from(&self.notify);
                a.risk = self.risk;
                Change::Apply(a)
            }
            Change::Noop { .. } => Change::noop("managed lines present"),
        })
    }

    pub(super) fn simulate(&self, facts: &mut Facts) {
        let (text, mode, owner, group) = match facts.files.get(&self.path) {
            Some(
                f @ FileState::File {
                    mode, owner, group, ..
                },
            ) => (
                f.text().unwrap_or_default().to_owned(),
                *mode,
                owner.clone(),
                group.clone(),
            ),
            _ => (
                String::new(),
                self.create_mode,
                "root".into(),
                "root".into(),
            ),
        };
        let want = self.apply_to(&text);
        facts.files.insert(
            self.path.clone(),
            file_state(want.as_bytes(), mode, &owner, &group),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{assert_idempotent, facts_with_file};
    use super::super::{Resource, STALE_FACTS};
    use super::*;
    use rampart_shtest::Sh;

    /// Who the test runs as: files it makes are owned by that user (root on CI, or not).
    fn me() -> (String, String) {
        let id = |flag| {
            let out = std::process::Command::new("id").arg(flag).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        (id("-un"), id("-gn"))
    }

    /// Runs a change's script as the apply script does: a `set -e` subshell.
    fn apply(sh: &Sh, a: &Apply) -> rampart_shtest::Out {
        sh.run(
            &format!("(\nset -e\n{}) </dev/null\n", a.script.as_str()),
            &[],
        )
    }

    fn planned(f: &File, facts: &Facts) -> Apply {
        match f.plan(facts).unwrap() {
            Change::Apply(a) => a,
            other => panic!("expected a change: {other:?}"),
        }
    }

    fn file(sh: &Sh, rel: &str, content: &str, mode: u32) -> File {
        let (u, g) = me();
        File::new(sh.path(rel), content, mode).owned_by(&u, &g)
    }

    fn state(sh: &Sh, rel: &str) -> FileState {
        let (u, g) = me();
        match sh.read(rel) {
            None => FileState::Absent,
            Some(text) => {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(sh.path(rel))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o7777;
                file_state(text.as_bytes(), mode, &u, &g)
            }
        }
    }

    #[test]
    fn a_new_file_is_written_atomically_with_its_mode() {
        let Some(sh) = Sh::new() else { return };
        std::fs::create_dir(sh.path("etc")).unwrap();
        let f = file(&sh, "etc/x.conf", "a=1\n", 0o640);
        let a = planned(&f, &facts_with_file(&f.path, FileState::Absent));
        assert_eq!(a.summary, format!("create {}", f.path));
        assert!(a.diff.render().contains("+a=1"));
        let out = apply(&sh, &a);
        assert!(out.ok(), "{out:?}");
        assert_eq!(sh.read("etc/x.conf").as_deref(), Some("a=1\n"));
        assert_eq!(
            state(&sh, "etc/x.conf"),
            file_state(b"a=1\n", 0o640, &me().0, &me().1)
        );
        assert_eq!(sh.ls("etc"), ["x.conf"], "no temporary file left");
        // The parent is created when missing.
        let g = file(&sh, "etc/new/dir/y", "y\n", 0o600);
        let out = apply(
            &sh,
            &planned(&g, &facts_with_file(&g.path, FileState::Absent)),
        );
        assert!(out.ok(), "{out:?}");
        assert_eq!(sh.read("etc/new/dir/y").as_deref(), Some("y\n"));
    }

    #[test]
    fn a_target_changed_since_the_probe_is_left_alone_with_exit_75() {
        let Some(sh) = Sh::new() else { return };
        sh.write("etc/x.conf", "someone else's\n");
        let f = file(&sh, "etc/x.conf", "a=1\n", 0o644);
        // The facts said it was absent.
        let out = apply(
            &sh,
            &planned(&f, &facts_with_file(&f.path, FileState::Absent)),
        );
        assert_eq!(out.status, STALE_FACTS, "{out:?}");
        assert!(
            out.stderr.contains("changed on the host since its facts"),
            "{out:?}"
        );
        assert_eq!(sh.read("etc/x.conf").as_deref(), Some("someone else's\n"));
        assert_eq!(sh.ls("etc"), ["x.conf"]);
    }

    #[test]
    fn a_failed_validation_removes_the_temporary_file_and_keeps_the_target() {
        let Some(sh) = Sh::new() else { return };
        sh.stub_body("visudo", "echo \"syntax error in $2\" >&2; exit 1");
        sh.write("etc/sudoers.d/x", "old\n");
        let f = file(&sh, "etc/sudoers.d/x", "new\n", 0o440)
            .validated(Validate::Temp("visudo -cf %s".into()));
        let facts = facts_with_file(&f.path, state(&sh, "etc/sudoers.d/x"));
        let out = apply(&sh, &planned(&f, &facts));
        assert_eq!(out.status, 1, "{out:?}");
        assert!(out.stderr.contains("validation of"), "{out:?}");
        assert!(
            out.stderr.contains("(visudo -cf %s): syntax error in"),
            "{out:?}"
        );
        assert_eq!(sh.read("etc/sudoers.d/x").as_deref(), Some("old\n"));
        assert_eq!(sh.ls("etc/sudoers.d"), ["x"], "temporary file removed");
        // visudo got the temporary file's absolute path.
        let call = &sh.calls()[0];
        assert!(
            call.starts_with(&format!(
                "visudo -cf {}/./.x.rampart.",
                sh.path("etc/sudoers.d")
            )),
            "{call}"
        );
        // And when it passes, the file is renamed into place.
        sh.stub("visudo", 0);
        let out = apply(&sh, &planned(&f, &facts));
        assert!(out.ok(), "{out:?}");
        assert_eq!(sh.read("etc/sudoers.d/x").as_deref(), Some("new\n"));
    }

    #[test]
    fn a_failed_in_place_validation_restores_the_previous_file() {
        let Some(sh) = Sh::new() else { return };
        sh.stub_body("sshd", "echo 'bad option' >&2; exit 255");
        sh.write("etc/ssh/sshd_config.d/00-r.conf", "Port 22\n");
        let f = file(&sh, "etc/ssh/sshd_config.d/00-r.conf", "Port 2222\n", 0o644)
            .validated(Validate::InPlace("sshd -t".into()));
        let facts = facts_with_file(&f.path, state(&sh, "etc/ssh/sshd_config.d/00-r.conf"));
        let out = apply(&sh, &planned(&f, &facts));
        assert_eq!(out.status, 1, "{out:?}");
        assert!(
            out.stderr.contains("previous file restored: bad option"),
            "{out:?}"
        );
        assert_eq!(
            sh.read("etc/ssh/sshd_config.d/00-r.conf").as_deref(),
            Some("Port 22\n")
        );
        assert_eq!(sh.ls("etc/ssh/sshd_config.d"), ["00-r.conf"]);
        // A new file that fails is removed again.
        let g = file(&sh, "etc/ssh/sshd_config.d/01-r.conf", "x\n", 0o644)
            .validated(Validate::InPlace("sshd -t".into()));
        let out = apply(
            &sh,
            &planned(&g, &facts_with_file(&g.path, FileState::Absent)),
        );
        assert_eq!(out.status, 1, "{out:?}");
        assert_eq!(sh.ls("etc/ssh/sshd_config.d"), ["00-r.conf"]);
    }

    #[test]
    fn a_failed_rename_leaves_the_target_and_no_temporary_file() {
        let Some(sh) = Sh::new() else { return };
        sh.stub("mv", 1);
        sh.write("etc/x.conf", "old\n");
        let f = file(&sh, "etc/x.conf", "new\n", 0o644);
        let facts = facts_with_file(&f.path, state(&sh, "etc/x.conf"));
        let out = apply(&sh, &planned(&f, &facts));
        assert_ne!(out.status, 0, "{out:?}");
        assert_eq!(sh.read("etc/x.conf").as_deref(), Some("old\n"));
        assert_eq!(
            sh.ls("etc"),
            ["x.conf"],
            "the trap removed the temporary file"
        );
    }

    #[test]
    fn a_path_and_a_target_with_shell_syntax_stay_data() {
        let Some(sh) = Sh::new() else { return };
        let dir = "etc/a $(touch pwned) `touch pwned2` \"q\" 'q'";
        std::fs::create_dir_all(sh.path(dir)).unwrap();
        let f = file(&sh, &format!("{dir}/$HOME;x"), "ok\n", 0o644);
        let out = apply(
            &sh,
            &planned(&f, &facts_with_file(&f.path, FileState::Absent)),
        );
        assert!(out.ok(), "{out:?}");
        assert_eq!(sh.read(&format!("{dir}/$HOME;x")).as_deref(), Some("ok\n"));
        let l = Symlink {
            path: sh.path(&format!("{dir}/link")),
            target: "$(touch pwned3)".into(),
        };
        let Change::Apply(a) = l
            .plan(&facts_with_file(&l.path, FileState::Absent))
            .unwrap()
        else {
            panic!()
        };
        assert!(apply(&sh, &a).ok());
        assert_eq!(
            std::fs::read_link(sh.path(&format!("{dir}/link")))
                .unwrap()
                .to_str(),
            Some("$(touch pwned3)")
        );
        assert!(
            sh.ls("").iter().all(|n| !n.starts_with("pwned")),
            "{:?}",
            sh.ls("")
        );
    }

    #[test]
    fn a_new_apt_source_refreshes_the_lists_right_after_it_is_written() {
        let refresh = super::super::apt::refresh_script();
        let script = |f: &File| {
            let facts = facts_with_file(&f.path, FileState::Absent);
            let Change::Apply(a) = f.plan(&facts).unwrap() else {
                panic!("expected a change")
            };
            a.script.as_str().to_owned()
        };
        for path in [
            "/etc/apt/sources.list",
            "/etc/apt/sources.list.d/lab.list",
            "/etc/apt/sources.list.d/docker.sources",
        ] {
            let s = script(&File::new(path, "deb file:/srv/r ./\n", 0o644));
            assert!(s.ends_with(refresh.as_str()), "{path}: {s}");
        }
        // Names apt does not read, and other files, refresh nothing.
        for path in [
            "/etc/apt/sources.list.d/lab.list.save",
            "/etc/apt/apt.conf.d/x",
        ] {
            let s = script(&File::new(path, "x\n", 0o644));
            assert!(!s.contains(" update\n"), "{path}: {s}");
        }
        // A role's own on_change replaces it.
        let mut own = File::new("/etc/apt/sources.list.d/x.list", "deb file:/r ./\n", 0o644);
        let mut other = Script::new();
        other.raw("true");
        own.on_change = Some(other);
        assert!(!script(&own).contains(" update\n"));
    }

    #[test]
    fn matching_file_is_a_noop_and_attrs_only_change_is_cheap() {
        let Some(sh) = Sh::new() else { return };
        sh.write("etc/x.conf", "a=1\n");
        let f = file(&sh, "etc/x.conf", "a=1\n", 0o600);
        let mut facts = Facts::default();
        file(&sh, "etc/x.conf", "a=1\n", 0o644).simulate(&mut facts);
        let a = planned(&f, &facts);
        assert_eq!(a.summary, format!("set mode on {}", f.path));
        let out = apply(&sh, &a);
        assert!(out.ok(), "{out:?}");
        assert_eq!(
            state(&sh, "etc/x.conf"),
            file_state(b"a=1\n", 0o600, &me().0, &me().1)
        );
        f.simulate(&mut facts);
        assert!(!f.plan(&facts).unwrap().is_apply());
        // Replaced by a link since the probe: refused.
        std::fs::remove_file(sh.path("etc/x.conf")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", sh.path("etc/x.conf")).unwrap();
        let out = apply(&sh, &a);
        assert_eq!(out.status, STALE_FACTS, "{out:?}");
    }

    #[test]
    fn a_directory_is_created_or_fixed_and_a_file_removed() {
        let Some(sh) = Sh::new() else { return };
        let (u, g) = me();
        let d = Directory::new(sh.path("etc/d"), 0o750, &u, &g);
        let Change::Apply(a) = d
            .plan(&facts_with_file(&d.path, FileState::Absent))
            .unwrap()
        else {
            panic!()
        };
        assert!(apply(&sh, &a).ok());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &str| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&d.path), 0o750);
        // Absent at the probe, there now: stale.
        assert_eq!(apply(&sh, &a).status, STALE_FACTS);
        let cur = FileState::Dir {
            mode: 0o700,
            owner: u.clone(),
            group: g.clone(),
        };
        let Change::Apply(a) = d.plan(&facts_with_file(&d.path, cur)).unwrap() else {
            panic!()
        };
        std::fs::set_permissions(&d.path, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(apply(&sh, &a).ok());
        assert_eq!(mode(&d.path), 0o750);
        // A file removed.
        sh.write("etc/d/gone", "x");
        let f = File::absent(sh.path("etc/d/gone"));
        let facts = facts_with_file(&f.path, state(&sh, "etc/d/gone"));
        let Change::Apply(a) = f.plan(&facts).unwrap() else {
            panic!()
        };
        assert!(apply(&sh, &a).ok());
        assert!(sh.ls("etc/d").is_empty());
    }

    #[test]
    fn validate_in_temp_and_in_place() {
        let f = File::new("/etc/sudoers.d/x", "x\n", 0o440)
            .validated(Validate::Temp("visudo -cf %s".into()));
        let facts = facts_with_file("/etc/sudoers.d/x", FileState::Absent);
        let Change::Apply(a) = f.plan(&facts).unwrap() else {
            panic!()
        };
        assert!(a.script.as_str().contains("'visudo -cf \"$PWD/$t\"'"));
    }

    #[test]
    fn only_a_whole_word_percent_s_is_the_temp_file() {
        assert_eq!(substitute_temp("visudo -cf %s"), "visudo -cf \"$PWD/$t\"");
        assert_eq!(substitute_temp("%s"), "\"$PWD/$t\"");
        assert_eq!(
            substitute_temp("sh -c 'printf \"dir %s\\n\" x' v %s"),
            "sh -c 'printf \"dir %s\\n\" x' v \"$PWD/$t\""
        );
    }

    #[test]
    fn sensitive_content_is_never_in_the_diff() {
        let f = File::new("/etc/redis/acl", "user x on #secret-hash\n", 0o600).sensitive();
        let facts = facts_with_file("/etc/redis/acl", FileState::Absent);
        let Change::Apply(a) = f.plan(&facts).unwrap() else {
            panic!()
        };
        assert!(!a.diff.render().contains("secret-hash"));
        assert!(!format!("{f:?}").contains("secret-hash"));
        assert!(!serde_json::to_string(&f).unwrap().contains("secret-hash"));
    }

    #[test]
    fn refuses_to_write_through_links_and_dirs() {
        let f = File::new("/etc/x", "a", 0o644);
        assert!(
            f.plan(&facts_with_file(
                "/etc/x",
                FileState::Link {
                    target: "/y".into()
                }
            ))
            .is_err()
        );
        assert!(
            f.plan(&facts_with_file(
                "/etc/x",
                FileState::Dir {
                    mode: 0o755,
                    owner: "root".into(),
                    group: "root".into()
                }
            ))
            .is_err()
        );
    }

    #[test]
    fn line_edit_keeps_exactly_one_line() {
        let e = Edit::line("/etc/hosts", "hostname", "127.0.1.1 ", "127.0.1.1 web1");
        assert_eq!(
            e.apply_to("127.0.0.1 localhost\n"),
            "127.0.0.1 localhost\n127.0.1.1 web1\n"
        );
        assert_eq!(
            e.apply_to("127.0.0.1 localhost\n127.0.1.1 old\n::1 x\n127.0.1.1 web1\n"),
            "127.0.0.1 localhost\n127.0.1.1 web1\n::1 x\n"
        );
    }

    #[test]
    fn block_edit_replaces_its_block_only() {
        let e = Edit::block("/etc/f", "x", "a\nb\n");
        let once = e.apply_to("keep\n");
        assert_eq!(once, "keep\n# BEGIN rampart x\na\nb\n# END rampart x\n");
        assert_eq!(e.apply_to(&once), once);
        let other = Edit::block("/etc/f", "x", "c");
        assert_eq!(
            other.apply_to(&once),
            "keep\n# BEGIN rampart x\nc\n# END rampart x\n"
        );
    }

    #[test]
    fn every_file_resource_is_idempotent() {
        let start = facts_with_file("/etc/f", FileState::Absent);
        for r in [
            Resource::File(File::new("/etc/f", "x\n", 0o600).owned_by("lab", "lab")),
            Resource::File(File::absent("/etc/f")),
            Resource::Directory(Directory::new("/etc/f", 0o700, "root", "root")),
            Resource::Symlink(Symlink {
                path: "/etc/f".into(),
                target: "/usr/share/zoneinfo/UTC".into(),
            }),
            Resource::Edit(Edit::line("/etc/f", "l", "k=", "k=v")),
            Resource::Edit(Edit::block("/etc/f", "b", "x y")),
        ] {
            assert_idempotent(&r, start.clone());
        }
    }
}
