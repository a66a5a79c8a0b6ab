//! The injector engine.

/// `gale inject`: resolve the settings, run, write the result directory, print the summary.
pub fn run_cli(args: crate::cli::InjectArgs) -> anyhow::Result<std::process::ExitCode> {
    let _ = args;
    anyhow::bail!("gale inject is not written yet")
}
