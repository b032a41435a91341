//! The table every benchmark prints: figure, value, baseline, ratio, target, met; and its
//! JSON copy for tracking.

use std::time::Duration;

pub struct Row {
    pub name: String,
    pub value: f64,
    pub baseline_name: String,
    pub baseline: f64,
    pub unit: &'static str,
    pub target: String,
    pub met: bool,
}

/// The `p` quantile (0..=1) of `v`, nearest rank.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `--json FILE` from the command line, if given.
pub fn json_path() -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == "--json").and_then(|i| args.get(i + 1)).cloned()
}

/// Prints the table, and writes it as JSON to `json` when given.
pub fn report(rows: &[Row], json: Option<String>) {
    let show =
        |v: f64, unit: &str| if v < 10.0 { format!("{v:.1} {unit}") } else { format!("{v:.0} {unit}") };
    println!(
        "{:<56} {:>10}  {:<24} {:>10} {:>7}  {:<11} met",
        "figure", "value", "baseline", "", "ratio", "target"
    );
    for r in rows {
        println!(
            "{:<56} {:>10}  {:<24} {:>10} {:>6.2}×  {:<11} {}",
            r.name,
            show(r.value, r.unit),
            r.baseline_name,
            show(r.baseline, r.unit),
            r.value / r.baseline,
            r.target,
            if r.met { "yes" } else { "NO" }
        );
    }
    if let Some(path) = json {
        let table: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "figure": r.name, "value": r.value, "unit": r.unit, "baseline": r.baseline_name,
                    "baselineValue": r.baseline, "ratio": r.value / r.baseline, "target": r.target, "met": r.met,
                })
            })
            .collect();
        std::fs::write(&path, serde_json::to_string_pretty(&table).expect("json"))
            .expect("write the JSON table");
        eprintln!("wrote {path}");
    }
}
