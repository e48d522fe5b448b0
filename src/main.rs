//! The `shadowmesh` binary: see [`shadowmesh::cli`].

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    shadowmesh::cli::main()
}
