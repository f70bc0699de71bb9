//! Write the generated seeds into a corpus directory: `seeds DIR` makes `DIR/<target>/`.

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "fuzz/corpus".into());
    for (target, name, bytes) in baomi_fuzz::seeds::generated() {
        let d = dir.join(target);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(&name), bytes)?;
    }
    Ok(())
}
