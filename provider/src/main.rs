//! The `poort` binary: everything lives in the library, see `cli::run`.

/// mimalloc instead of glibc's malloc: a request allocates and frees many small values across
/// worker threads, and glibc's allocator spent about a fifth of a token request's CPU on that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    poort::cli::run()
}
