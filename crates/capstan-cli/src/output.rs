//! Output: Helm's tables and release summaries, times as Helm prints them, JSON and YAML, and
//! live progress lines from the applier's event stream.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use capstan_proto::applier::v1 as pb;
use serde::Serialize;

use crate::console::{eout, eoutln, out, outln};

/// Columns padded to their widest cell (the last one too) and separated by a tab, as Helm's
/// tables (gosuri/uitable) are.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push('\t');
            }
            let _ = write!(line, "{cell:<width$}", width = widths[c]);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn parse(time: &str) -> Option<jiff::Zoned> {
    let timestamp: jiff::Timestamp = time.parse().ok()?;
    Some(timestamp.to_zoned(jiff::tz::TimeZone::system()))
}

/// Go's `time.ANSIC` in local time (`Mon Jan 15 10:00:00 2024`), as `history` and release
/// summaries print it; empty when unknown.
pub fn ansic(time: &str) -> String {
    parse(time)
        .map(|t| t.strftime("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_default()
}

/// Go's default time format in local time (`2024-01-15 10:00:00.123456789 +0000 UTC`), as
/// `list` prints it; empty when unknown.
pub fn go_default(time: &str) -> String {
    parse(time)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S%.f %z %Z").to_string())
        .unwrap_or_default()
}

/// A time in local time with a Go layout (`--time-format "2006-01-02 15:04:05Z0700"`); empty
/// when unknown.
pub fn go_format(time: &str, layout: &str) -> String {
    parse(time)
        .map(|t| {
            let utc = t.offset().seconds() == 0;
            t.strftime(&go_layout_to_strftime(layout, utc)).to_string()
        })
        .unwrap_or_default()
}

/// A Go time layout as a strftime format (`utc`: Go writes `Z` for a zero `Z07:00` offset).
pub fn go_layout_to_strftime(layout: &str, utc: bool) -> String {
    const TOKENS: [(&str, &str); 31] = [
        ("January", "%B"),
        ("Monday", "%A"),
        ("Jan", "%b"),
        ("Mon", "%a"),
        ("MST", "%Z"),
        ("2006", "%Y"),
        ("Z07:00", "Z"),
        ("Z0700", "Z"),
        ("-07:00", "%:z"),
        ("-0700", "%z"),
        ("-07", "%z"),
        (".000000000", "%.9f"),
        (".000000", "%.6f"),
        (".000", "%.3f"),
        (".999999999", "%.f"),
        (".999999", "%.f"),
        (".999", "%.f"),
        ("01", "%m"),
        ("02", "%d"),
        ("_2", "%e"),
        ("06", "%y"),
        ("15", "%H"),
        ("03", "%I"),
        ("04", "%M"),
        ("05", "%S"),
        ("PM", "%p"),
        ("pm", "%P"),
        ("1", "%-m"),
        ("2", "%-d"),
        ("3", "%-I"),
        ("4", "%-M"),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        if let Some(tail) = rest.strip_prefix('5') {
            out.push_str("%-S");
            rest = tail;
            continue;
        }
        for (token, spec) in TOKENS {
            if let Some(tail) = rest.strip_prefix(token) {
                let spec = match (token, utc) {
                    ("Z07:00", false) => "%:z",
                    ("Z0700", false) => "%z",
                    _ => spec,
                };
                out.push_str(spec);
                rest = tail;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Prints `value` as JSON (one line, as Helm does) or YAML.
pub fn print_structured<T: Serialize>(value: &T, yaml: bool) -> anyhow::Result<()> {
    if yaml {
        out!(
            "{}",
            capstan_sprig::encoding::json_value_to_yaml(&serde_json::to_value(value)?)?
        );
    } else {
        outln!("{}", go_json(&serde_json::to_string(value)?));
    }
    Ok(())
}

/// JSON text as Go's `encoding/json` writes it: `<`, `>` and `&` escaped as `\u003c`, `\u003e`
/// and `\u0026`, and U+2028 and U+2029 as `\u2028` and `\u2029`. Outside strings JSON text has
/// none of these characters, so escaping the whole text escapes exactly the strings' ones.
pub fn go_json(json: &str) -> String {
    if !json.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return json.to_owned();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Values as Helm's `get values` prints them (sigs.k8s.io/yaml): `null` for none.
pub fn values_yaml(json: &str) -> anyhow::Result<String> {
    let value: serde_json::Value = if json.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(json)?
    };
    if value.is_null() || value.as_object().is_some_and(serde_json::Map::is_empty) {
        return Ok("null\n".into());
    }
    Ok(capstan_sprig::encoding::json_value_to_yaml(&value)?)
}

/// A JSON document as YAML as Helm prints it (sigs.k8s.io/yaml over go-yaml): keys sorted,
/// and strings a YAML reader would take for something else (times, numbers, booleans) quoted.
pub fn helm_yaml(json: &str) -> anyhow::Result<String> {
    let value: serde_json::Value = serde_json::from_str(json)?;
    Ok(capstan_sprig::encoding::json_value_to_yaml(&value)?)
}

/// The summary Helm prints after install, upgrade and for `status`.
pub fn release_summary(release: &pb::ReleaseInfo) -> String {
    summary(release, false)
}

/// The summary, with the revision's description (`status --show-desc`).
pub fn summary(release: &pb::ReleaseInfo, description: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "NAME: {}", release.name);
    let _ = writeln!(out, "LAST DEPLOYED: {}", ansic(&release.last_deployed));
    let _ = writeln!(out, "NAMESPACE: {}", release.namespace);
    let _ = writeln!(out, "STATUS: {}", release.status_name());
    let _ = writeln!(out, "REVISION: {}", release.revision);
    if description {
        let _ = writeln!(out, "DESCRIPTION: {}", release.description);
    }
    out
}

/// Helm's TEST SUITE lines: `TEST SUITE: None` when the release has no test hook, else the last
/// run of each test hook that has run, in the release's hook order (nothing for tests that
/// never ran).
pub fn test_suite(hooks: &[capstan_release::Hook]) -> String {
    let tests: Vec<&capstan_release::Hook> = hooks
        .iter()
        .filter(|h| h.events.contains(&capstan_release::HookEvent::Test))
        .collect();
    if tests.is_empty() {
        return "TEST SUITE: None\n".into();
    }
    let time = |t: &Option<capstan_release::GoTime>| {
        t.as_ref()
            .map(|t| ansic(&t.to_string()))
            .unwrap_or_default()
    };
    let mut out = String::new();
    for hook in tests {
        let run = &hook.last_run;
        if run.started_at.is_none() {
            continue;
        }
        let _ = writeln!(
            out,
            "TEST SUITE:     {}\nLast Started:   {}\nLast Completed: {}\nPhase:          {}",
            hook.name,
            time(&run.started_at),
            time(&run.completed_at),
            run.phase.as_ref().map_or("", |p| p.as_str()),
        );
    }
    out
}

/// `--quiet`: no progress at all.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns the progress display off (`--quiet`) for the rest of the process.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// Writes the progress of an operation to standard error: timestamped plain lines when it is
/// not a terminal (CI, pipes); on a terminal, a live display redrawn on every event and every
/// half second: the phase with the time elapsed and left before `--timeout`, then one line per
/// object and hook with what happened to it and what it waits for, coloured unless `NO_COLOR`
/// is set, with warnings and recoveries printed above it as they happen. After an atomic
/// operation's failure the rows start over with the rollback's own. `--quiet` prints nothing.
pub struct ProgressPrinter {
    terminal: bool,
    colour: bool,
    quiet: bool,
    started: std::time::Instant,
    timeout: Option<std::time::Duration>,
    board: Board,
    drawn: usize,
}

impl Default for ProgressPrinter {
    fn default() -> Self {
        ProgressPrinter::new(None)
    }
}

/// Whether colour is wanted on a terminal: not with `NO_COLOR` (any non-empty value) or
/// `TERM=dumb`.
pub fn colour_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// A duration as Go prints it, to the second (`1m5s`, `45s`, `1h0m0s`).
pub fn go_duration(duration: std::time::Duration) -> String {
    let total = duration.as_secs();
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

fn object_name(o: Option<&pb::ObjectRef>) -> String {
    o.map(|o| format!("{}/{}", o.kind.to_lowercase(), o.name))
        .unwrap_or_default()
}

/// The state of the live display: the phase and each object's last action and readiness.
#[derive(Default, Debug)]
pub struct Board {
    phase: String,
    objects: Vec<Row>,
}

/// One object of the live display: its name, its last action, and its readiness with why.
type Row = (String, String, Option<(bool, String)>);

/// How the display is drawn: with colour, and with the clock after the phase.
#[derive(Default)]
pub struct Style {
    /// ANSI colours.
    pub colour: bool,
    /// `12s elapsed, 4m48s left`.
    pub clock: Option<String>,
}

/// Text in an ANSI colour (`code`, e.g. `32` green) when colour is on.
fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour && !text.is_empty() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

impl Board {
    /// Takes in an event; returns a line to print above the display (warnings, recoveries, the
    /// start of an atomic rollback).
    pub fn update(&mut self, event: &pb::operation_event::Event) -> Option<String> {
        use pb::operation_event::Event as E;
        match event {
            E::Phase(p) if p.phase == "rolling-back" => {
                self.phase = ProgressPrinter::line(event).unwrap_or_default();
                // The rows start over: what follows is the rollback's own work.
                let failed = std::mem::take(&mut self.objects);
                return Some(format!(
                    "rolling back after the failure ({} object(s) of the failed attempt)",
                    failed.len()
                ));
            }
            E::Phase(_) => self.phase = ProgressPrinter::line(event).unwrap_or_default(),
            E::Hook(h) => {
                let row = self.slot(format!("hook/{}", h.name));
                row.1 = h.event.clone();
                row.2 = Some(if h.finished {
                    let detail = if h.message.is_empty() {
                        h.phase.clone()
                    } else {
                        format!("{} ({})", h.phase, h.message)
                    };
                    (h.phase == "Succeeded", detail)
                } else {
                    (false, "running".into())
                });
            }
            E::Object(o) => self.slot(object_name(o.object.as_ref())).1 = o.action.clone(),
            E::Readiness(r) => {
                self.slot(object_name(r.object.as_ref())).2 = Some((r.ready, r.reason.clone()));
            }
            E::Result(_) => {}
            _ => return ProgressPrinter::line(event),
        }
        None
    }

    fn slot(&mut self, name: String) -> &mut Row {
        let i = match self.objects.iter().position(|(n, _, _)| *n == name) {
            Some(i) => i,
            None => {
                self.objects.push((name, String::new(), None));
                self.objects.len() - 1
            }
        };
        &mut self.objects[i]
    }

    /// The display's lines, plain.
    pub fn lines(&self) -> Vec<String> {
        self.render(&Style::default())
    }

    /// The display's lines in a style.
    pub fn render(&self, style: &Style) -> Vec<String> {
        let width = self.objects.iter().map(|o| o.0.len()).max().unwrap_or(0);
        let mut header = paint(&format!("==> {}", self.phase), "1;36", style.colour);
        if let Some(clock) = &style.clock {
            header = format!("{header}  {}", paint(clock, "2", style.colour));
        }
        let mut lines = vec![header];
        for (name, action, readiness) in &self.objects {
            let state = match readiness {
                // A hook's row says how it ended: Succeeded, Failed (why).
                Some((ok, detail)) if name.starts_with("hook/") && detail != "running" => {
                    paint(detail, if *ok { "32" } else { "31" }, style.colour)
                }
                Some((true, _)) => paint("ready", "32", style.colour),
                Some((false, reason)) if reason == "running" => {
                    paint("running", "33", style.colour)
                }
                Some((false, reason)) if reason.starts_with("Failed") => {
                    paint(reason, "31", style.colour)
                }
                Some((false, reason)) if reason.is_empty() => paint("waiting", "33", style.colour),
                Some((false, reason)) => paint(&format!("waiting: {reason}"), "33", style.colour),
                None => String::new(),
            };
            let action = match action.as_str() {
                a if a.contains("fail") => paint(&format!("{a:<10}"), "31", style.colour),
                a => format!("{a:<10}"),
            };
            let line = format!("  {name:<width$}  {action} {state}");
            lines.push(line.trim_end().to_string());
        }
        lines
    }
}

impl ProgressPrinter {
    /// The line for one event (`None` for the final result).
    pub fn line(event: &pb::operation_event::Event) -> Option<String> {
        use pb::operation_event::Event as E;
        Some(match event {
            E::Phase(p) if p.revision > 0 => format!("{} (revision {})", p.phase, p.revision),
            E::Phase(p) => p.phase.clone(),
            E::Object(o) => format!("{} {}", object_name(o.object.as_ref()), o.action),
            E::Readiness(r) => format!(
                "{} {}{}",
                object_name(r.object.as_ref()),
                if r.ready { "ready" } else { "not ready" },
                if r.reason.is_empty() {
                    String::new()
                } else {
                    format!(": {}", r.reason)
                }
            ),
            E::Hook(h) if h.finished => format!(
                "hook {} {}: {}{}",
                h.event,
                h.name,
                h.phase,
                if h.message.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", h.message)
                }
            ),
            E::Hook(h) => format!(
                "hook {} {}/{} running",
                h.event,
                h.kind.to_lowercase(),
                h.name
            ),
            E::Warning(w) => format!("warning: {}", w.message),
            E::Recovered(r) => format!("recovered revision {}: {}", r.revision, r.description),
            E::Result(_) => return None,
        })
    }

    /// A printer for an operation with this `--timeout`.
    pub fn new(timeout: Option<std::time::Duration>) -> ProgressPrinter {
        let terminal = std::io::stderr().is_terminal();
        ProgressPrinter {
            terminal,
            colour: terminal && colour_wanted(),
            quiet: QUIET.load(std::sync::atomic::Ordering::Relaxed),
            started: std::time::Instant::now(),
            timeout,
            board: Board::default(),
            drawn: 0,
        }
    }

    /// Whether the display is live (a terminal, not `--quiet`): then [`Self::tick`] keeps its
    /// clock current.
    pub fn live(&self) -> bool {
        self.terminal && !self.quiet
    }

    /// Redraws the live display (its clock moves).
    pub fn tick(&mut self) {
        if self.live() && self.drawn > 0 {
            self.draw(None);
        }
    }

    fn style(&self) -> Style {
        let elapsed = self.started.elapsed();
        let clock = match self.timeout {
            Some(timeout) => format!(
                "{} elapsed, {} left",
                go_duration(elapsed),
                go_duration(timeout.saturating_sub(elapsed))
            ),
            None => format!("{} elapsed", go_duration(elapsed)),
        };
        Style {
            colour: self.colour,
            clock: Some(clock),
        }
    }

    fn draw(&mut self, above: Option<String>) {
        let mut out = String::new();
        if self.drawn > 0 {
            // Up to the first line of the display, and clear to the end of the screen.
            let _ = write!(out, "\x1b[{}A\r\x1b[J", self.drawn);
        }
        if let Some(line) = above {
            let _ = writeln!(out, "{line}");
        }
        let lines = self.board.render(&self.style());
        for line in &lines {
            let _ = writeln!(out, "{line}");
        }
        self.drawn = lines.len();
        eout!("{out}");
    }

    /// Prints one event.
    pub fn print(&mut self, event: &pb::OperationEvent) {
        let Some(inner) = event.event.as_ref() else {
            return;
        };
        if self.quiet {
            return;
        }
        if !self.terminal {
            if let Some(line) = Self::line(inner) {
                eoutln!("{} {line}", event.time);
            }
            return;
        }
        let above = self.board.update(inner);
        self.draw(above);
    }
}

#[cfg(test)]
mod go_layout_tests {
    use super::go_layout_to_strftime;

    #[test]
    fn go_layouts_become_strftime() {
        assert_eq!(
            go_layout_to_strftime("2006-01-02 15:04:05Z0700", true),
            "%Y-%m-%d %H:%M:%SZ"
        );
        assert_eq!(
            go_layout_to_strftime("Mon Jan _2 15:04:05 -07:00 MST at 1 100%", false),
            "%a %b %e %H:%M:%S %:z %Z at %-m %-m00%%"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_every_column() {
        let out = table(&[
            vec!["NAME".into(), "REVISION".into(), "STATUS".into()],
            vec!["prod-api".into(), "3".into(), "deployed".into()],
        ]);
        assert_eq!(
            out,
            "NAME    \tREVISION\tSTATUS  \nprod-api\t3       \tdeployed\n"
        );
    }

    #[test]
    fn json_escapes_as_go_does() {
        assert_eq!(
            go_json(r#"{"a":"x && y <b> \u2028"}"#),
            r#"{"a":"x \u0026\u0026 y \u003cb\u003e \u2028"}"#
        );
        assert_eq!(go_json(r#"{"a":1}"#), r#"{"a":1}"#);
    }

    #[test]
    fn the_test_suite_lists_tests_that_ran() {
        use capstan_release::{Hook, HookEvent, HookExecution, HookPhase};
        assert_eq!(test_suite(&[]), "TEST SUITE: None\n");
        let test = |name: &str, ran: bool| Hook {
            name: name.into(),
            events: vec![HookEvent::Test],
            last_run: HookExecution {
                started_at: ran.then(|| "2024-01-15T10:00:00Z".parse().unwrap()),
                completed_at: ran.then(|| "2024-01-15T10:00:05Z".parse().unwrap()),
                phase: ran.then_some(HookPhase::Succeeded),
            },
            ..Hook::default()
        };
        assert_eq!(test_suite(&[test("never", false)]), "");
        let out = test_suite(&[test("never", false), test("ran", true)]);
        assert!(
            out.starts_with("TEST SUITE:     ran\nLast Started:   "),
            "{out}"
        );
        assert!(out.ends_with("Phase:          Succeeded\n"), "{out}");
    }

    #[test]
    fn the_live_display_shows_each_object_and_what_it_waits_for() {
        use pb::operation_event::Event as E;
        let object = |name: &str| {
            Some(pb::ObjectRef {
                kind: "Deployment".into(),
                name: name.into(),
                ..pb::ObjectRef::default()
            })
        };
        let mut board = Board::default();
        let events = [
            E::Phase(pb::PhaseEvent {
                phase: "applying".into(),
                revision: 2,
            }),
            E::Object(pb::ObjectEvent {
                object: object("web"),
                action: "configured".into(),
                ..Default::default()
            }),
            E::Phase(pb::PhaseEvent {
                phase: "waiting".into(),
                revision: 2,
            }),
            E::Readiness(pb::ReadinessEvent {
                object: object("web"),
                ready: false,
                reason: "1/3 available".into(),
            }),
        ];
        for e in &events {
            assert_eq!(board.update(e), None);
        }
        assert_eq!(
            board.lines(),
            [
                "==> waiting (revision 2)",
                "  deployment/web  configured waiting: 1/3 available"
            ]
        );
        let warning = E::Warning(pb::WarningEvent {
            message: "slow".into(),
        });
        assert_eq!(board.update(&warning).as_deref(), Some("warning: slow"));
    }

    #[test]
    fn times_print_as_helm_prints_them() {
        assert!(!ansic("2024-01-15T10:00:00Z").is_empty());
        assert_eq!(ansic(""), "");
        assert!(go_default("2024-01-15T10:00:00Z").starts_with("2024-01-1"));
    }
}
