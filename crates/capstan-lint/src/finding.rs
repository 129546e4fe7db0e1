//! Findings: a severity, the chart-relative file and the problem, printed as Helm prints them.

use std::fmt;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Advice (`[INFO]`); never fails a lint.
    Info,
    /// A likely problem (`[WARNING]`); fails a lint under `--strict`.
    Warning,
    /// A problem an install would hit (`[ERROR]`); always fails a lint.
    Error,
}

/// One finding: its severity, the chart-relative file it concerns, and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// The chart-relative file (`Chart.yaml`, `templates/x.yaml:3:12`), or empty for the chart.
    pub path: String,
    /// The problem, in Helm's words.
    pub text: String,
}

impl fmt::Display for Finding {
    /// `[SEVERITY] file: problem`, or `[SEVERITY] problem` when no file is named.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
        };
        if self.path.is_empty() {
            write!(f, "[{label}] {}", self.text)
        } else {
            write!(f, "[{label}] {}: {}", self.path, self.text)
        }
    }
}

/// The findings for one chart, in the order they were found.
#[derive(Debug, Default, Clone)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    /// Adds a finding about `path`.
    pub fn add(&mut self, severity: Severity, path: impl Into<String>, text: impl Into<String>) {
        self.0.push(Finding {
            severity,
            path: path.into(),
            text: text.into(),
        });
    }

    /// Adds a message of the form `file: problem` (or `file:line:column: problem`).
    pub fn add_message(&mut self, severity: Severity, message: &str) {
        match message.split_once(": ") {
            Some((path, text)) if !path.contains(' ') => self.add(severity, path, text),
            _ => self.add(severity, "", message),
        }
    }

    /// The most serious severity found, if anything was.
    pub fn worst(&self) -> Option<Severity> {
        self.0.iter().map(|f| f.severity).max()
    }

    /// Whether the chart fails the lint: an error, or a warning when `strict`.
    pub fn fails(&self, strict: bool) -> bool {
        match self.worst() {
            Some(Severity::Error) => true,
            Some(Severity::Warning) => strict,
            _ => false,
        }
    }
}

/// `prefix/rest` → `rest`: chart-relative paths carry the chart's name first.
pub fn relative(file: &str) -> &str {
    file.split_once('/').map_or(file, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_into_file_and_problem() {
        let mut findings = Findings::default();
        findings.add_message(Severity::Error, "templates/x.yaml:3:12: unexpected end");
        findings.add_message(Severity::Error, "values don't meet: x");
        assert_eq!(
            findings.0[0].to_string(),
            "[ERROR] templates/x.yaml:3:12: unexpected end"
        );
        assert_eq!(findings.0[1].to_string(), "[ERROR] values don't meet: x");
    }

    #[test]
    fn warnings_fail_only_when_strict() {
        let mut findings = Findings::default();
        assert!(!findings.fails(true));
        findings.add(Severity::Info, "Chart.yaml", "icon is recommended");
        assert!(!findings.fails(true));
        findings.add(
            Severity::Warning,
            "",
            "chart directory is missing these dependencies: a",
        );
        assert!(!findings.fails(false));
        assert!(findings.fails(true));
        findings.add(Severity::Error, "templates/", "directory not found");
        assert!(findings.fails(false));
        assert_eq!(findings.worst(), Some(Severity::Error));
    }
}
