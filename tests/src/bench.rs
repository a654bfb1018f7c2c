//! The one format every benchmark prints its headline figures in, so that `make bench`
//! can gather them into one table (`bench-table`).
//!
//! A figure is one line beside the benchmark's own readable output:
//!
//! ```text
//! figure<TAB>name<TAB>value<TAB>unit<TAB>anchor<TAB>anchor value<TAB>target<TAB>verdict<TAB>load
//! ```
//!
//! The anchor is what the figure is measured against in the same run (a hello-world's
//! cold start, `psql \copy` of the same rows), so that a busy machine moves both; the
//! ratio is `value / anchor value`. The load is the machine's 1/5/15-minute load average
//! when the figure was taken: figures from a loaded machine are not comparable with
//! figures from a quiet one.

/// A headline figure of a benchmark.
pub struct Figure<'a> {
    pub name: &'a str,
    pub value: f64,
    pub unit: &'a str,
    /// What the value is measured against in the same run, and its value in the same unit.
    pub anchor: Option<(&'a str, f64)>,
    pub target: Target,
}

/// The figure's target, which decides the verdict.
#[derive(Clone, Copy)]
pub enum Target {
    /// The value itself at most this much.
    AtMost(f64),
    /// The value itself at least this much.
    AtLeast(f64),
    /// The value divided by its anchor at most this much.
    RatioAtMost(f64),
    /// Printed for information; nothing to meet.
    None,
}

impl Figure<'_> {
    pub fn ratio(&self) -> Option<f64> {
        self.anchor
            .filter(|(_, anchor)| *anchor > 0.0)
            .map(|(_, anchor)| self.value / anchor)
    }

    pub fn meets_target(&self) -> Option<bool> {
        match self.target {
            Target::AtMost(limit) => Some(self.value <= limit),
            Target::AtLeast(limit) => Some(self.value >= limit),
            Target::RatioAtMost(limit) => self.ratio().map(|ratio| ratio <= limit),
            Target::None => None,
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::AtMost(limit) => format!("≤ {} {}", number(limit), self.unit),
            Target::AtLeast(limit) => format!("≥ {} {}", number(limit), self.unit),
            Target::RatioAtMost(limit) => format!("≤ {}×", number(limit)),
            Target::None => "-".to_owned(),
        }
    }

    /// Prints the figure's line on standard output.
    pub fn print(&self) {
        let (anchor, anchor_value) = match self.anchor {
            Some((name, value)) => (name.to_owned(), number(value)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        let verdict = match self.meets_target() {
            Some(true) => "ok",
            Some(false) => "over target",
            None => "-",
        };
        println!(
            "figure\t{}\t{}\t{}\t{anchor}\t{anchor_value}\t{}\t{verdict}\t{}",
            self.name,
            number(self.value),
            self.unit,
            self.target_text(),
            load_average()
        );
    }
}

/// A value with as many decimals as its size needs: 74800, 12.3, 0.042.
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1000.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 0.1 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// The machine's 1/5/15-minute load average, as `/proc/loadavg` gives it.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|line| {
            line.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// A figure line read back, for the table.
pub struct FigureLine {
    pub fields: Vec<String>,
}

impl FigureLine {
    pub const COLUMNS: [&'static str; 8] = [
        "figure",
        "value",
        "unit",
        "anchor",
        "anchor value",
        "target",
        "verdict",
        "load",
    ];

    /// The figure in a line of a benchmark's output, if the line is one.
    pub fn parse(line: &str) -> Option<FigureLine> {
        let rest = line.strip_prefix("figure\t")?;
        let fields: Vec<String> = rest.split('\t').map(str::to_owned).collect();
        (fields.len() == Self::COLUMNS.len()).then_some(FigureLine { fields })
    }

    /// The value over the anchor value, when both are numbers.
    pub fn ratio(&self) -> Option<f64> {
        let value: f64 = self.fields[1].parse().ok()?;
        let anchor: f64 = self.fields[4].parse().ok()?;
        (anchor > 0.0).then(|| value / anchor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_target_is_met_only_within_the_ratio() {
        let figure = |value| Figure {
            name: "init",
            value,
            unit: "ms",
            anchor: Some(("hello", 4.0)),
            target: Target::RatioAtMost(2.0),
        };
        assert_eq!(figure(8.0).meets_target(), Some(true));
        assert_eq!(figure(8.1).meets_target(), Some(false));
    }

    #[test]
    fn a_figure_line_reads_back_with_its_ratio() {
        let line = "figure\tinit accept-orders\t7.50\tms\thello init\t3.00\t≤ 2×\tover target\t0.1 0.2 0.3";
        let parsed = FigureLine::parse(line).expect("a figure line");
        assert_eq!(parsed.fields[0], "init accept-orders");
        assert_eq!(parsed.ratio(), Some(2.5));
        assert!(FigureLine::parse("load average: 1.0").is_none());
    }
}
