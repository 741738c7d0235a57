//! The `pgdiverge` command.
fn main() {
    println!("pgdiverge {}", env!("CARGO_PKG_VERSION"));
}
