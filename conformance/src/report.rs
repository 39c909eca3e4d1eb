//! What a module finds and how that becomes its result: the suite's severities (a failure, a
//! warning, a note), the two ways a module ends early (a stopping failure, or a skip), and the
//! table printed at the end of a run.

use std::fmt;
use std::time::Duration;

/// How much one finding weighs, as in the certification suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Logged for the reader; changes nothing.
    Info,
    /// The module ends as WARNING unless something failed.
    Warning,
    /// The module ends as FAILED.
    Failure,
}

/// One condition's verdict, in words.
#[derive(Clone, Debug)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
}

/// Why a module stopped before its end.
#[derive(Clone, Debug)]
pub enum Abort {
    /// A failure that makes the rest of the module meaningless (the suite's "stop on failure").
    Stop(String),
    /// The OP does not offer what the module tests; acceptable for certification.
    Skip(String),
}

/// The result of one step of a module.
pub type Step<T = ()> = Result<T, Abort>;

/// A module's final verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Passed,
    Warning,
    Skipped,
    Failed,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Passed => "PASSED",
            Status::Warning => "WARNING",
            Status::Skipped => "SKIPPED",
            Status::Failed => "FAILED",
        })
    }
}

/// The findings of one module instance, collected as it runs.
#[derive(Default, Debug)]
pub struct Log {
    pub findings: Vec<Finding>,
}

impl Log {
    pub fn add(&mut self, severity: Severity, message: impl Into<String>) {
        self.findings.push(Finding {
            severity,
            message: message.into(),
        });
    }

    pub fn fail(&mut self, message: impl Into<String>) {
        self.add(Severity::Failure, message);
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        self.add(Severity::Warning, message);
    }

    pub fn info(&mut self, message: impl Into<String>) {
        self.add(Severity::Info, message);
    }

    /// Records `message` at `severity` unless `ok`; returns `ok`.
    pub fn check(&mut self, ok: bool, severity: Severity, message: impl Into<String>) -> bool {
        if !ok {
            self.add(severity, message);
        }
        ok
    }

    /// Whether anything has failed so far.
    pub fn failed(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == Severity::Failure)
    }
}

/// One module's outcome.
#[derive(Clone, Debug)]
pub struct ModuleResult {
    /// The suite's module name (`oidcc-server`, …).
    pub module: &'static str,
    pub status: Status,
    pub findings: Vec<Finding>,
    /// Why the module stopped or was skipped, when it did not run to its end.
    pub ended_early: Option<Abort>,
    pub elapsed: Duration,
}

impl ModuleResult {
    /// Builds the verdict from what was logged and how the module ended: any failure (or a
    /// stopping failure) fails it; otherwise a skip skips it; otherwise any warning warns.
    pub fn conclude(module: &'static str, log: Log, end: Step, elapsed: Duration) -> Self {
        let mut findings = log.findings;
        let ended_early = end.err();
        if let Some(Abort::Stop(message)) = &ended_early {
            findings.push(Finding {
                severity: Severity::Failure,
                message: format!("stopped: {message}"),
            });
        }
        let status = if findings.iter().any(|f| f.severity == Severity::Failure) {
            Status::Failed
        } else if matches!(ended_early, Some(Abort::Skip(_))) {
            Status::Skipped
        } else if findings.iter().any(|f| f.severity == Severity::Warning) {
            Status::Warning
        } else {
            Status::Passed
        };
        Self {
            module,
            status,
            findings,
            ended_early,
            elapsed,
        }
    }

    /// The messages at one severity.
    pub fn messages(&self, severity: Severity) -> Vec<&str> {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .map(|f| f.message.as_str())
            .collect()
    }

    /// The reasons worth printing beside the status: failures for FAILED, warnings for WARNING,
    /// the skip reason for SKIPPED.
    pub fn reasons(&self) -> Vec<String> {
        match self.status {
            Status::Failed => self
                .messages(Severity::Failure)
                .into_iter()
                .map(String::from)
                .collect(),
            Status::Warning => self
                .messages(Severity::Warning)
                .into_iter()
                .map(String::from)
                .collect(),
            Status::Skipped => match &self.ended_early {
                Some(Abort::Skip(reason)) => vec![reason.clone()],
                _ => Vec::new(),
            },
            Status::Passed => Vec::new(),
        }
    }
}

/// The module → result table, one module a line, reasons indented below.
pub fn render_table(results: &[ModuleResult]) -> String {
    let width = results.iter().map(|r| r.module.len()).max().unwrap_or(0);
    let mut out = String::new();
    for result in results {
        out.push_str(&format!(
            "{:width$}  {:8} {:>6.1}s\n",
            result.module,
            result.status.to_string(),
            result.elapsed.as_secs_f64()
        ));
        for reason in result.reasons() {
            out.push_str(&format!(
                "{:width$}    - {}\n",
                "",
                reason.replace('\n', " ")
            ));
        }
    }
    let count = |status| results.iter().filter(|r| r.status == status).count();
    out.push_str(&format!(
        "{} passed, {} warning, {} skipped, {} failed\n",
        count(Status::Passed),
        count(Status::Warning),
        count(Status::Skipped),
        count(Status::Failed)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_outweighs_a_skip_and_a_warning() {
        let mut log = Log::default();
        log.warn("w");
        let r = ModuleResult::conclude("m", log, Ok(()), Duration::ZERO);
        assert_eq!(r.status, Status::Warning);
        let mut log = Log::default();
        log.fail("f");
        let r = ModuleResult::conclude("m", log, Err(Abort::Skip("s".into())), Duration::ZERO);
        assert_eq!(r.status, Status::Failed);
        let r = ModuleResult::conclude(
            "m",
            Log::default(),
            Err(Abort::Skip("s".into())),
            Duration::ZERO,
        );
        assert_eq!(r.status, Status::Skipped);
        let r = ModuleResult::conclude(
            "m",
            Log::default(),
            Err(Abort::Stop("x".into())),
            Duration::ZERO,
        );
        assert_eq!(r.status, Status::Failed);
        assert_eq!(r.reasons(), vec!["stopped: x".to_string()]);
    }
}
