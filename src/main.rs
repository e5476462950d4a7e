//! Thin entry point: parse the command line, run it, print the error chain once, exit. A
//! print to a closed pipe ends the process as SIGPIPE would, quietly (apply::pipe).

use std::process::ExitCode;

use jailsmith::apply::pipe;

fn main() -> ExitCode {
    pipe::quiet_closed_pipe_panics();
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(payload) if pipe::is_closed_pipe(&*payload) => pipe::die_of_sigpipe(),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

fn run() -> ExitCode {
    let cli = jailsmith::cli::parse();
    if cli.command.writes() {
        jailsmith::apply::interrupt::install();
    }
    match jailsmith::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) if err.downcast_ref::<pipe::ClosedStdout>().is_some() => pipe::die_of_sigpipe(),
        Err(err) => {
            eprintln!("jailsmith: error: {err}");
            // A typed error often ends its message with its source's ("cannot read X: No
            // such file…"): a cause its parent already showed is not printed again.
            let mut parent = err.to_string();
            for cause in err.chain().skip(1) {
                let this = cause.to_string();
                if !parent.ends_with(&this) {
                    eprintln!("  caused by: {this}");
                }
                parent = this;
            }
            ExitCode::from(jailsmith::exit::code_of(&err))
        }
    }
}
