//! The `rampart` binary: everything lives in `rampart-cli`; this file only hands over control.

fn main() -> std::process::ExitCode {
    rampart_cli::main()
}
