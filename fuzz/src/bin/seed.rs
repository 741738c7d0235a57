//! Writes the seed corpora: `seed [DIR]` (default `corpus`), one directory per target.

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "corpus".to_string());
    match pgdiverge_fuzz::seeds::write_all(std::path::Path::new(&dir)) {
        Ok(n) => println!("{n} seeds written under {dir}/"),
        Err(e) => {
            eprintln!("seed: {dir}: {e}");
            std::process::exit(1);
        }
    }
}
