//! Command-line flags, as the operator types them (clap derive). Resolving them into a run is
//! `commands`' job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  rampart ping  -i inventory/prod.toml                  # who answers, with what OS
  rampart check -i inventory/prod.toml site.toml --diff # what would change, with diffs
  rampart apply -i inventory/prod.toml --limit 'web:!web3'
  rampart apply -i hosts.ini --rolling                  # canary first, then waves
  rampart audit -i inventory/prod.toml --html audit.html
  rampart inventory graph -i hosts.ini                  # the group tree of an Ansible inventory

Global options go before or after the command: `rampart -i hosts.ini inventory graph`,
`rampart inventory -i hosts.ini graph` and `rampart inventory graph -i hosts.ini` are the same.

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
#[command(name = "rampart", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// Options accepted before or after the command.
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Options an operator types anywhere on the line: before the command, after it, or after a
/// nested one (`rampart -i hosts.ini inventory graph`, `rampart inventory graph -i hosts.ini`).
/// A command reads the ones it uses with `#[arg(from_global)]`; [`command`] hides the others
/// from its help and [`check_globals`] refuses them on its command line.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options (before or after the command)")]
pub struct GlobalArgs {
    /// Inventory: rampart TOML, Ansible INI or YAML (with group_vars/ and host_vars/ beside it).
    /// Required by ping, check, apply, audit and inventory.
    #[arg(
        short,
        long,
        global = true,
        value_name = "INVENTORY",
        env = "RAMPART_INVENTORY"
    )]
    pub inventory: Option<PathBuf>,

    /// Only these hosts: names, groups, globs, `a:b` union, `a:&b` intersection, `!x` exclusion.
    #[arg(short, long, global = true, value_name = "PATTERN")]
    pub limit: Option<String>,

    /// At most N hosts at once (default: all).
    #[arg(short, long, global = true, value_name = "N")]
    pub forks: Option<usize>,

    /// Only the I-th of N stable slices of the selected hosts (by a hash of each host's name),
    /// for N runners that share one fleet: `--shard 1/4` .. `--shard 4/4`.
    #[arg(long, global = true, value_name = "I/N")]
    pub shard: Option<String>,

    /// One JSON document on stdout instead of the recap.
    #[arg(long, global = true)]
    pub json: bool,

    /// More output on stderr (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Never use colour (also: the NO_COLOR environment variable).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// No progress on stderr: only the recap (or the --json document) at the end.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Append the run's full record to FILE, one JSON event a line: phases, every step with its
    /// exit status, duration and output (redacted, capped per step), every host's outcome.
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

/// The global options of the fleet commands, and the commands that take each one (every other
/// command hides it from its help and refuses it on its command line).
const FLEET_GLOBALS: [(&str, &[&str]); 7] = [
    (
        "inventory",
        &["ping", "check", "apply", "audit", "inventory"],
    ),
    ("limit", &["ping", "check", "apply", "audit"]),
    ("forks", &["ping", "check", "apply", "audit"]),
    (
        "json",
        &["ping", "check", "apply", "audit", "baseline", "report"],
    ),
    ("quiet", &["ping", "check", "apply"]),
    ("log", &["ping", "check", "apply"]),
    ("shard", &["ping", "check", "apply", "audit"]),
];

/// The commands that refuse to run without an inventory.
const NEEDS_INVENTORY: [&str; 5] = ["ping", "check", "apply", "audit", "inventory"];

/// rampart's command line, built: the global options that a command does not take are hidden
/// from its help (and from the help of its own subcommands), so `rampart roles --help` does not
/// offer `--limit`.
pub fn command() -> clap::Command {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Global options are copied into every subcommand when the command is built; hiding them
    // must come after that.
    cmd.build();
    cmd.mut_subcommands(|sub| {
        let name = sub.get_name().to_owned();
        let hidden: Vec<&str> = FLEET_GLOBALS
            .iter()
            .filter(|(_, takers)| !takers.contains(&name.as_str()))
            .map(|(id, _)| *id)
            .collect();
        hide_args(sub, &hidden)
    })
}

fn hide_args(cmd: clap::Command, ids: &[&str]) -> clap::Command {
    cmd.mut_args(|a| {
        if ids.contains(&a.get_id().as_str()) {
            a.hide(true)
        } else {
            a
        }
    })
    .mut_subcommands(|sub| hide_args(sub, ids))
}

/// What clap alone cannot say about global options: the commands that need an inventory get
/// one (from `-i` anywhere on the line or RAMPART_INVENTORY), and a command refuses the fleet
/// options it does not use instead of ignoring them.
pub fn check_globals(cmd: &mut clap::Command, m: &clap::ArgMatches) -> Result<(), clap::Error> {
    use clap::error::ErrorKind;
    // The error shows the command's own usage line (`Usage: rampart roles [OPTIONS] [NAME]`).
    let Some((name, cmd)) = m
        .subcommand()
        .and_then(|(name, _)| Some((name, cmd.find_subcommand_mut(name)?)))
    else {
        return Ok(());
    };
    for (id, takers) in FLEET_GLOBALS {
        if !takers.contains(&name)
            && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
        {
            return Err(cmd.error(
                ErrorKind::ArgumentConflict,
                format!("`--{id}` does not apply to `rampart {name}`"),
            ));
        }
    }
    if NEEDS_INVENTORY.contains(&name) && m.get_one::<PathBuf>("inventory").is_none() {
        return Err(cmd.error(
            ErrorKind::MissingRequiredArgument,
            format!(
                "`rampart {name}` needs an inventory: `-i FILE` (before or after the command) \
                 or RAMPART_INVENTORY"
            ),
        ));
    }
    Ok(())
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
    /// The embedded CIS baseline: `rampart baseline list` prints its controls.
    Baseline(crate::baseline::BaselineArgs),
    /// Work with audit reports: merge the reports of shards (`audit --shard I/N --json`).
    Report(ReportArgs),
}

/// `rampart report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ReportAction,
}

/// Report actions.
#[derive(Debug, Subcommand)]
pub enum ReportAction {
    /// Merge shard reports (`rampart audit --shard I/N --json`) into one fleet report: the
    /// matrix and scores on stdout (`--json`: the merged JSON document), and `--html`/`--junit`
    /// files. Refuses reports of different sites or rampart versions.
    Merge(MergeArgs),
}

/// `rampart report merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shard reports, JSON documents of `rampart audit --shard I/N --json`.
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,

    /// Write the merged fleet's self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Write the merged fleet's JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Print the merged JSON document instead of the matrix (global `--json`).
    #[arg(from_global)]
    pub json: bool,
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
    /// The inventory (global `-i`; the parser makes sure there is one).
    #[arg(from_global)]
    pub inventory: PathBuf,

    /// Only these hosts (global `--limit`).
    #[arg(from_global)]
    pub limit: Option<String>,

    /// At most N hosts at once (global `--forks`).
    #[arg(from_global)]
    pub forks: Option<usize>,

    /// Only this slice of the selected hosts (global `--shard I/N`).
    #[arg(from_global)]
    pub shard: Option<String>,

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

    /// One JSON document on stdout instead of the recap (global `--json`).
    #[arg(from_global)]
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
    /// The inventory file or directory (global `-i`; the parser makes sure there is one).
    #[arg(from_global)]
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::error::ErrorKind;

    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        crate::try_parse_from(line.split_whitespace()).map(|p| p.0)
    }

    fn ok(line: &str) -> Cli {
        parse(line).unwrap_or_else(|e| panic!("`{line}` refused:\n{e}"))
    }

    fn refused(line: &str) -> ErrorKind {
        match parse(line) {
            Ok(cli) => panic!("`{line}` accepted: {cli:?}"),
            Err(e) => e.kind(),
        }
    }

    fn help(line: &str) -> String {
        match parse(line) {
            Err(e) if e.kind() == ErrorKind::DisplayHelp => e.render().to_string(),
            other => panic!("`{line}` did not print help: {other:?}"),
        }
    }

    #[test]
    fn the_command_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn the_inventory_goes_before_or_after_nested_commands() {
        for line in [
            "rampart inventory graph -i hosts.ini",
            "rampart inventory -i hosts.ini graph",
            "rampart -i hosts.ini inventory graph",
            "rampart --inventory=hosts.ini inventory graph",
        ] {
            match ok(line).command {
                Command::Inventory(InventoryArgs {
                    inventory,
                    view: InventoryView::Graph,
                }) => assert_eq!(inventory, Path::new("hosts.ini"), "{line}"),
                other => panic!("`{line}`: {other:?}"),
            }
        }
        match ok("rampart -i a.ini inventory host web1 -v").command {
            Command::Inventory(InventoryArgs {
                inventory,
                view: InventoryView::Host { name },
            }) => {
                assert_eq!(inventory, Path::new("a.ini"));
                assert_eq!(name, "web1");
            }
            other => panic!("{other:?}"),
        }
    }

    /// Every fleet command sees the global options wherever they stand on the line.
    #[test]
    fn fleet_options_go_before_or_after_the_command() {
        let conn_of = |cli: Cli| match cli.command {
            Command::Ping(a) => a.conn,
            Command::Check(a) => a.conn,
            Command::Apply(a) => a.run.conn,
            Command::Audit(a) => a.conn,
            other => panic!("{other:?}"),
        };
        for cmd in ["ping", "check", "apply", "audit"] {
            for line in [
                format!("rampart -i inv.toml --limit web:!web3 -f 3 --json {cmd}"),
                format!("rampart {cmd} -i inv.toml --limit web:!web3 -f 3 --json"),
                format!("rampart --json -f 3 {cmd} --limit=web:!web3 --inventory inv.toml"),
                format!("rampart -i inv.toml {cmd} -l web:!web3 --forks=3 --json"),
            ] {
                let conn = conn_of(ok(&line));
                assert_eq!(conn.inventory, Path::new("inv.toml"), "{line}");
                assert_eq!(conn.limit.as_deref(), Some("web:!web3"), "{line}");
                assert_eq!(conn.forks, Some(3), "{line}");
                assert!(conn.json, "{line}");
            }
        }
        let conn = conn_of(ok("rampart check -i inv.toml"));
        assert_eq!((conn.limit, conn.forks, conn.json), (None, None, false));
    }

    #[test]
    fn verbose_and_no_color_go_anywhere() {
        for line in [
            "rampart -vv --no-color secrets keygen",
            "rampart secrets -vv --no-color keygen",
            "rampart secrets keygen -v -v --no-color",
        ] {
            let cli = ok(line);
            assert_eq!(cli.global.verbose, 2, "{line}");
            assert!(cli.global.no_color, "{line}");
        }
        let cli = ok("rampart roles sshd");
        assert_eq!((cli.global.verbose, cli.global.no_color), (0, false));
    }

    #[test]
    fn run_flags_mix_with_global_options() {
        match ok("rampart apply site.toml --limit web --tags sshd,ufw -i inv.toml --diff -v")
            .command
        {
            Command::Apply(a) => {
                assert_eq!(a.run.site, Path::new("site.toml"));
                assert_eq!(a.run.tags, ["sshd", "ufw"]);
                assert!(a.run.diff);
                assert_eq!(a.run.conn.limit.as_deref(), Some("web"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_command_refuses_the_fleet_options_it_does_not_use() {
        for line in [
            "rampart roles --limit web",
            "rampart --json roles",
            "rampart init -i hosts.ini",
            "rampart -f 3 secrets keygen",
            "rampart inventory graph -i x --limit web",
            "rampart inventory list -i x --json",
        ] {
            assert_eq!(refused(line), ErrorKind::ArgumentConflict, "{line}");
        }
    }

    #[test]
    fn fleet_commands_need_an_inventory() {
        if std::env::var_os("RAMPART_INVENTORY").is_some() {
            return; // the environment gives one
        }
        for line in [
            "rampart ping",
            "rampart check site.toml",
            "rampart inventory graph",
        ] {
            assert_eq!(refused(line), ErrorKind::MissingRequiredArgument, "{line}");
        }
        assert_eq!(refused("rampart nope"), ErrorKind::InvalidSubcommand);
    }

    /// Help lists each global option once, under its own heading, and only where it applies.
    #[test]
    fn help_shows_each_global_option_once_where_it_applies() {
        // Lines that define an option (`  -l, --limit <PATTERN>` or `      --json`), not prose.
        let count = |h: &str, flag: &str| {
            h.lines()
                .map(str::trim_start)
                .filter(|l| {
                    l.starts_with(flag) || l.starts_with('-') && l.contains(&format!(", {flag}"))
                })
                .count()
        };
        // The short help says what rampart is (not the library crate's description).
        let short = help("rampart -h");
        assert!(short.starts_with("rampart: harden a fleet"), "{short}");
        let top = help("rampart --help");
        let (options, examples) = top.split_once("Examples:").expect("examples");
        assert!(
            examples.contains("Global options go before or after the command"),
            "{top}"
        );
        for flag in [
            "--inventory",
            "--limit",
            "--forks",
            "--json",
            "--verbose",
            "--no-color",
        ] {
            assert_eq!(count(options, flag), 1, "{flag} in:\n{top}");
        }
        for cmd in ["ping", "check", "apply", "audit"] {
            let h = help(&format!("rampart {cmd} --help"));
            assert_eq!(h.matches("Global options").count(), 1, "{h}");
            for flag in ["--inventory", "--limit", "--forks", "--json", "--verbose"] {
                assert_eq!(count(&h, flag), 1, "{flag} in `{cmd} --help`:\n{h}");
            }
        }
        for line in ["rampart inventory --help", "rampart inventory graph --help"] {
            let h = help(line);
            assert_eq!(count(&h, "--inventory"), 1, "{h}");
            assert_eq!(count(&h, "--limit") + count(&h, "--json"), 0, "{h}");
        }
        for line in [
            "rampart roles --help",
            "rampart init --help",
            "rampart secrets keygen --help",
            "rampart help roles",
        ] {
            let h = help(line);
            assert_eq!(count(&h, "--verbose"), 1, "{h}");
            for flag in ["--inventory", "--limit", "--forks", "--json"] {
                assert_eq!(count(&h, flag), 0, "{flag} in `{line}`:\n{h}");
            }
        }
    }
}
