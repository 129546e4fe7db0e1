//! Which template language a chart is written in.

/// The template language of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateSyntax {
    /// Go's text/template with Sprig and Helm's functions, as Helm renders it: the default.
    Go,
    /// capstan's minijinja dialect: charts whose `Chart.yaml` carries the annotation
    /// `capstan.dev/template-syntax: minijinja`.
    Minijinja,
}

/// The `Chart.yaml` annotation that marks a chart as written in capstan's minijinja dialect.
pub const SYNTAX_ANNOTATION: &str = "capstan.dev/template-syntax";

impl TemplateSyntax {
    /// The language `chart`'s templates are written in.
    pub fn of(chart: &crate::Chart) -> TemplateSyntax {
        match chart
            .metadata
            .annotations
            .get(SYNTAX_ANNOTATION)
            .map(String::as_str)
        {
            Some("minijinja") => TemplateSyntax::Minijinja,
            _ => TemplateSyntax::Go,
        }
    }

    /// The name users read: `Go templates` or `minijinja`.
    pub fn name(self) -> &'static str {
        match self {
            TemplateSyntax::Go => "Go templates",
            TemplateSyntax::Minijinja => "minijinja",
        }
    }
}
