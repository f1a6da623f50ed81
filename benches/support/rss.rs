//! Peak memory of the benchmark process, shared by the benchmarks that report it.

/// Peak resident set size of this process in KiB, from `/proc/self/status` (Linux).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// KiB as MiB to one decimal, or "unavailable".
pub fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "unavailable".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}
