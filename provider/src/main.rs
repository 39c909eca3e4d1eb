//! The `poort` binary: everything lives in the library, see `cli::run`.

fn main() -> std::process::ExitCode {
    poort::cli::run()
}
