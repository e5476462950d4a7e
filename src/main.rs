//! Thin entry point: parse the command line, run it, print the error chain once, exit.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = jailsmith::cli::parse();
    if cli.command.writes() {
        jailsmith::apply::interrupt::install();
    }
    match jailsmith::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("jailsmith: error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(jailsmith::exit::code_of(&err))
        }
    }
}
