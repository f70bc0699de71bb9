// `sqlx::migrate!` embeds the migrations at compile time, but on stable Rust the macro cannot
// tell Cargo to watch the directory: without this a new or renamed migration is silently
// missing from an incremental build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
