//! The one table `scripts/bench` prints: section, figure, value, what it is compared against,
//! and whether the target is met (read by a person, never asserted).

#[derive(Default)]
pub struct Table {
    rows: Vec<[String; 5]>,
}

impl Table {
    pub fn row(
        &mut self,
        section: &str,
        figure: &str,
        value: impl Into<String>,
        against: &str,
        met: Option<bool>,
    ) {
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "",
        };
        self.rows.push([
            section.to_string(),
            figure.to_string(),
            value.into(),
            against.to_string(),
            verdict.to_string(),
        ]);
    }

    /// A Markdown table, so the output pastes into docs/PERFORMANCE.md as it is.
    pub fn print(&self) {
        let header = ["section", "figure", "value", "compared against", "target"];
        let mut widths = header.map(|h| h.chars().count());
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 5]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
                .collect();
            println!("| {} |", padded.join(" | "));
        };
        line(header);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        println!("|-{}-|", rule.join("-|-"));
        for row in &self.rows {
            line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
        }
    }
}
