//! Extract files and print their findings, for measuring memory from outside:
//! `/usr/bin/time -v target/release/examples/peak FILE…` (peak RSS is "Maximum resident
//! set size"). With `--threads N` the files are extracted on N threads at once, as the scan
//! door's workers do. Also prints the process's own peak (`VmHWM`) at the end.

use baomi_core::{Finding, Part};
use baomi_extract::{Blob, Limits, Sink, extract};

#[derive(Default)]
struct Count {
    parts: u64,
    text: u64,
    findings: Vec<Finding>,
}

impl Sink for Count {
    fn part(&mut self, part: Part) {
        self.parts += 1;
        self.text += part.text.len() as u64;
    }
    fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}

fn one(path: &str) -> String {
    let blob = match std::fs::read(path) {
        Ok(bytes) => Blob::from_vec(bytes),
        Err(e) => return format!("{path}: {e}\n"),
    };
    let start = std::time::Instant::now();
    let mut sink = Count::default();
    let summary = extract(blob, path, &Limits::default(), &mut sink);
    let mut out = format!(
        "{path}: {} parts, {} bytes of text, expanded {}, complete {}, {:.1} s\n",
        sink.parts,
        sink.text,
        summary.expanded_bytes,
        summary.complete,
        start.elapsed().as_secs_f64()
    );
    for f in &sink.findings {
        out.push_str(&format!("  {:?} {}: {}\n", f.kind, f.part, f.reason));
    }
    out
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut threads = 1;
    if args.first().is_some_and(|a| a == "--threads") && args.len() > 1 {
        threads = args[1].parse().unwrap_or(1);
        args.drain(..2);
    }
    let queue = std::sync::Mutex::new(args.into_iter());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap().next();
                    let Some(path) = next else { break };
                    print!("{}", one(&path));
                }
            });
        }
    });
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM"))
    {
        println!("{line}");
    }
}
