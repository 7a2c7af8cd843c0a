//! Command-line flags, as the operator types them (clap derive). Resolving them into a run is
//! `commands`' job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  rampart ping  -i inventory/prod.toml                 who answers, with what OS
  rampart check -i inventory/prod.toml site.toml --diff what would change, with diffs
  rampart apply -i inventory/prod.toml --limit 'web:!web3'
  rampart apply -i hosts.ini --rolling                  canary first, then waves
  rampart audit -i inventory/prod.toml --html audit.html

Exit codes:
  0  success (check: nothing would change; audit: every control passes)
  1  rampart itself failed (a bug or a local I/O error)
  2  bad input: flags, inventory, site, templates or secrets; nothing was sent to any host
  3  at least one host failed
  4  at least one host was unreachable (and none failed)
  5  check found changes to make / audit found a failing control

Environment:
  NO_COLOR                  no colour in output
  RAMPART_KEY_PASSPHRASE    passphrase of an encrypted SSH key (else asked on the terminal)
  RAMPART_LOG               log filter, e.g. `rampart_ssh=debug` (same as -v levels)
  RAMPART_AGE_IDENTITY      age identity file that decrypts the site's secrets
  RAMPART_AGE_KEY           the age identity itself (for CI)
  RAMPART_CACHE_DIR         where probe answers are remembered (default ~/.cache/rampart; empty: off)";

/// rampart: harden a fleet of Debian and Ubuntu hosts over SSH, fast and without lockouts.
///
/// rampart connects to every host in parallel over one SSH connection each, gathers all the
/// facts it needs in one round trip, plans the changes purely, and applies them atomically.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about, long_about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// More output on stderr (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Never use colour (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect to every host and report reachability, host key status, OS and time taken.
    Ping(PingArgs),
    /// Preview: what would change on every host, with diffs. Writes nothing, ever.
    Check(RunArgs),
    /// Converge every host to the site's declared state, all hosts in parallel.
    Apply(ApplyArgs),
    /// Show the resolved inventory, like ansible-inventory.
    Inventory(InventoryArgs),
    /// List the roles this rampart knows, with their default settings.
    Roles(RolesArgs),
    /// Create a new project (inventory, site, secrets placeholder) in a directory.
    Init(InitArgs),
    /// Encrypted secrets (age): keygen, encrypt, decrypt, edit.
    Secrets(SecretsArgs),
    /// Read-only compliance audit of every host: a hosts x controls matrix from the roles'
    /// checks, the seeds' checklist and a port probe from this machine. Writes nothing.
    Audit(crate::audit::AuditArgs),
}

/// `rampart secrets`.
#[derive(Debug, Args)]
pub struct SecretsArgs {
    /// The age identity file (else RAMPART_AGE_IDENTITY, RAMPART_AGE_KEY, ~/.config/rampart/age.key).
    #[arg(long, global = true, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub action: SecretsAction,
}

/// Secrets actions.
#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Generate an age identity; prints its public key (the recipient).
    Keygen {
        /// Write the identity to this file (0600) instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Encrypt a TOML file of secrets for recipients (default: the identity's own).
    Encrypt {
        /// The plaintext TOML.
        input: PathBuf,
        /// The encrypted file to write.
        #[arg(short, long)]
        output: PathBuf,
        /// A recipient (age1...); repeatable.
        #[arg(short, long)]
        recipient: Vec<String>,
        /// A file of recipients, one per line; repeatable.
        #[arg(short = 'R', long)]
        recipients_file: Vec<PathBuf>,
    },
    /// Print the decrypted secrets on stdout.
    Decrypt {
        /// The encrypted file.
        file: PathBuf,
    },
    /// Edit the secrets in $EDITOR (decrypted only into a private temporary file).
    Edit {
        /// The encrypted file (created if absent).
        file: PathBuf,
    },
}

/// How to reach the hosts: shared by every command that connects.
#[derive(Debug, Args, Clone)]
pub struct ConnArgs {
    /// Inventory: rampart TOML, Ansible INI or YAML (with group_vars/ and host_vars/ beside it).
    #[arg(short, long, value_name = "INVENTORY", env = "RAMPART_INVENTORY")]
    pub inventory: PathBuf,

    /// Only these hosts: names, groups, globs, `a:b` union, `a:&b` intersection, `!x` exclusion.
    #[arg(short, long, value_name = "PATTERN")]
    pub limit: Option<String>,

    /// At most N hosts at once (default: all).
    #[arg(short, long, value_name = "N")]
    pub forks: Option<usize>,

    /// Learn the host keys of hosts never seen before (like OpenSSH's
    /// StrictHostKeyChecking=accept-new). A changed key is still refused.
    #[arg(long)]
    pub accept_new: bool,

    /// An ssh_config file to use instead of ~/.ssh/config.
    #[arg(short = 'F', long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,

    /// Do not read ~/.ssh/config (no `ssh -G`): inventory settings and defaults only.
    #[arg(long)]
    pub no_ssh_config: bool,

    /// Seconds to wait for a host to connect and log in.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub connect_timeout: u64,

    /// One JSON document on stdout instead of the recap.
    #[arg(long)]
    pub json: bool,
}

/// `rampart ping`.
#[derive(Debug, Args)]
pub struct PingArgs {
    #[command(flatten)]
    /// Connection flags.
    pub conn: ConnArgs,
}

/// `rampart check` (and the shared part of `apply`).
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    /// Connection flags.
    pub conn: ConnArgs,

    /// The site definition: which roles apply to which hosts, with which settings.
    #[arg(value_name = "SITE", default_value = "site.toml")]
    pub site: PathBuf,

    /// Extra variables, highest precedence: `key=value`, `role.key=value`, `@file.toml|.yml|.json`.
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,

    /// Only these roles (comma-separated role names or play tags).
    #[arg(short, long, value_delimiter = ',')]
    pub tags: Vec<String>,

    /// Not these roles (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub skip_tags: Vec<String>,

    /// Show unified diffs of files and before/after of everything else.
    #[arg(short = 'D', long)]
    pub diff: bool,

    /// Run the roles' verify checks: after apply always (not only when something changed),
    /// and during check too.
    #[arg(long)]
    pub verify: bool,

    /// The age identity that decrypts the site's secrets (else RAMPART_AGE_IDENTITY,
    /// RAMPART_AGE_KEY, ~/.config/rampart/age.key).
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// The encrypted secrets file to use instead of the one the site names.
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,

    /// Also write a self-contained HTML report (what changed where, diffs, timeline) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Also write JUnit XML (a test case per host and resource or check) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Ask every host afresh for `sshd -T` and its package states, instead of reusing the
    /// answers of the last run while the files they depend on are unchanged (kept in
    /// ~/.cache/rampart/facts, or $RAMPART_CACHE_DIR/facts; RAMPART_CACHE_DIR= turns it off).
    #[arg(long)]
    pub no_fact_cache: bool,
}

/// `rampart apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    /// Shared run flags.
    pub run: RunArgs,

    #[command(flatten)]
    /// Rollout and safety flags.
    pub rollout: RolloutArgs,
}

/// How an apply rolls out, and its lockout guards.
#[derive(Debug, Args, Clone, Default)]
pub struct RolloutArgs {
    /// Roll out in waves: a canary first, then growing waves (the site's `[rolling] serial`,
    /// default 1, 10%, 50%, 100%), with a health gate after each wave (a fresh login, the
    /// roles' verify checks, the site's health command). A failed gate stops the rollout.
    #[arg(long)]
    pub rolling: bool,

    /// Continue the site's last stopped rollout: run only the hosts its journal does not
    /// record as done (the journal is `.rampart/journal-<site>.json` beside the site).
    #[arg(long, conflicts_with = "only_failed")]
    pub resume: bool,

    /// Retry only the hosts the site's last journal records as failed, unreachable or rolled
    /// back.
    #[arg(long)]
    pub only_failed: bool,

    /// Apply even when the preflight finds that the plan would cut rampart off a host
    /// (AllowUsers, PermitRootLogin, ufw without the SSH port, fail2ban ignoreip, ...). The
    /// dead-man switch still guards the change.
    #[arg(long)]
    pub skip_preflight: bool,

    /// When the preflight finds that the plan would cut rampart off some hosts, leave only
    /// those hosts unchanged (reported failed with the reason, exit 3) and apply the others,
    /// instead of refusing the whole run.
    #[arg(long, conflicts_with = "skip_preflight")]
    pub exclude_refused: bool,

    /// Seconds a risky change (sshd, firewall, iptables, sudoers) waits for confirmation over
    /// a fresh connection before the host restores its previous configuration by itself
    /// (default: the site's `[rolling] confirm_timeout`, else 120).
    #[arg(long, value_name = "SECONDS")]
    pub confirm_timeout: Option<u64>,
}

/// `rampart inventory`.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// The inventory file or directory.
    #[arg(short, long, value_name = "INVENTORY", env = "RAMPART_INVENTORY")]
    pub inventory: PathBuf,

    /// What to show.
    #[command(subcommand)]
    pub view: InventoryView,
}

/// Views of the inventory.
#[derive(Debug, Subcommand)]
pub enum InventoryView {
    /// Every group and host with its variables, as JSON (like `ansible-inventory --list`).
    List,
    /// One host's connection settings and resolved variables, as JSON.
    Host {
        /// The host's inventory name.
        name: String,
    },
    /// The group tree (like `ansible-inventory --graph`).
    Graph,
}

/// `rampart roles`.
#[derive(Debug, Args)]
pub struct RolesArgs {
    /// Print one role's default settings as TOML, ready to paste under `[roles.NAME]`.
    pub name: Option<String>,
}

/// `rampart init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the project (must be empty or absent).
    #[arg(default_value = ".")]
    pub dir: PathBuf,

    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
}

/// Output format of reports written to files.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// JSON.
    Json,
}
