//! Issue message templates: `{name}` placeholders, `{{` and `}}` for literal braces.
//! A number can be shown for people: `{value:%}` as a percentage of the image (a normalized
//! fraction times 100), `{value:~}` rounded to 3 significant digits. `{what}` names what an
//! issue is about for people: the category, else the job.
//! Parsed once when the rules are compiled, so a typo is an error at load time.

use std::fmt::Write;

pub const PLACEHOLDERS: &[&str] = &[
    "count", "value", "min", "max", "limit", "job", "category", "mid", "frame", "reason",
    "measure", "child", "other", "rule", "text", "what",
];

/// The numeric placeholders: the only ones a format (`:%`, `:~`) applies to.
const NUMERIC: &[&str] = &["count", "value", "min", "max", "limit"];

/// How a number is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// As the rules file wrote it (integers as integers, at most 6 decimals).
    Plain,
    /// A fraction as a percentage, 3 significant digits: 0.00234 -> "0.234%".
    Percent,
    /// 3 significant digits: 1234.567 -> "1235", 0.012345 -> "0.0123".
    Round,
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Lit(String),
    Var(&'static str, Spec),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    segs: Vec<Seg>,
}

/// Values a template can show; None renders as an empty string.
#[derive(Debug, Default, Clone)]
pub struct Vars<'a> {
    pub count: Option<f64>,
    pub value: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub limit: Option<f64>,
    pub job: Option<&'a str>,
    pub category: Option<&'a str>,
    pub mid: Option<&'a str>,
    pub frame: Option<u32>,
    pub reason: Option<&'a str>,
    pub measure: Option<&'a str>,
    pub child: Option<&'a str>,
    pub other: Option<&'a str>,
    pub rule: Option<&'a str>,
    /// The text checked (a transcription, an entity's content).
    pub text: Option<&'a str>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut segs = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(ch) => name.push(ch),
                            None => return Err(format!("unclosed '{{' in message {text:?}")),
                        }
                    }
                    let (name, spec) = match name.split_once(':') {
                        None => (name.as_str(), Spec::Plain),
                        Some((n, "%")) => (n, Spec::Percent),
                        Some((n, "~")) => (n, Spec::Round),
                        Some((n, other)) => {
                            return Err(format!(
                                "unknown format {{{n}:{other}}} in message (known: :% for a \
                                 percentage, :~ for 3 significant digits)"
                            ))
                        }
                    };
                    if spec != Spec::Plain && !NUMERIC.contains(&name) {
                        return Err(format!(
                            "{{{name}}} is not a number: only {} take :% or :~",
                            NUMERIC.join(", ")
                        ));
                    }
                    let Some(known) = PLACEHOLDERS.iter().find(|p| **p == name) else {
                        return Err(format!(
                            "unknown placeholder {{{name}}} in message (known: {})",
                            PLACEHOLDERS.join(", ")
                        ));
                    };
                    if !lit.is_empty() {
                        segs.push(Seg::Lit(std::mem::take(&mut lit)));
                    }
                    segs.push(Seg::Var(known, spec));
                }
                '}' => return Err(format!("single '}}' in message {text:?} (write '}}}}')")),
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            segs.push(Seg::Lit(lit));
        }
        Ok(Template { segs })
    }

    pub fn render(&self, v: &Vars) -> String {
        let mut out = String::new();
        for s in &self.segs {
            match s {
                Seg::Lit(l) => out.push_str(l),
                Seg::Var(name, spec) => {
                    let num = |x: Option<f64>| {
                        x.map(|x| match spec {
                            Spec::Plain => fmt_num(x),
                            Spec::Percent => format!("{}%", fmt_human(x * 100.0)),
                            Spec::Round => fmt_human(x),
                        })
                        .unwrap_or_default()
                    };
                    let text = |x: Option<&str>| x.unwrap_or("").to_owned();
                    let piece = match *name {
                        "count" => num(v.count),
                        "value" => num(v.value),
                        "min" => num(v.min),
                        "max" => num(v.max),
                        "limit" => num(v.limit),
                        "job" => text(v.job),
                        "category" => text(v.category),
                        "mid" => text(v.mid),
                        "frame" => v.frame.map(|f| f.to_string()).unwrap_or_default(),
                        "reason" => text(v.reason),
                        "measure" => text(v.measure),
                        "child" => text(v.child),
                        "other" => text(v.other),
                        "rule" => text(v.rule),
                        "text" => text(v.text),
                        // an object without a category is named by its job
                        "what" => text(v.category.or(v.job)),
                        _ => String::new(),
                    };
                    out.push_str(&piece);
                }
            }
        }
        out
    }
}

/// A number for people: 3 significant digits (whole numbers of 1000 and more unrounded
/// past the units), no trailing zeros, no exponent.
pub fn fmt_human(x: f64) -> String {
    if !x.is_finite() {
        return fmt_num(x);
    }
    let a = x.abs();
    if a == 0.0 || a >= 1000.0 {
        return format!("{}", x.round() as i64);
    }
    // digits after the point that keep 3 significant ones (0.0123 -> 4, 12.3 -> 1)
    let decimals = (2 - a.log10().floor() as i32).clamp(0, 12) as usize;
    let mut s = format!("{x:.decimals$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// Numbers in messages: integers as integers, others with at most 6 decimals.
pub fn fmt_num(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let mut s = String::new();
    let _ = write!(s, "{x:.6}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_tutorial_message() {
        let t =
            Template::parse("There are too many BBox ({count}) - Only 1 BBox of Object A accepted")
                .unwrap();
        let v = Vars {
            count: Some(3.0),
            ..Vars::default()
        };
        assert_eq!(
            t.render(&v),
            "There are too many BBox (3) - Only 1 BBox of Object A accepted"
        );
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(fmt_human(0.0023456), "0.00235");
        assert_eq!(fmt_human(12.3456), "12.3");
        assert_eq!(fmt_human(999.96), "1000");
        assert_eq!(fmt_human(1234.567), "1235");
        assert_eq!(fmt_human(0.5), "0.5");
        assert_eq!(fmt_human(-0.0001), "-0.0001");
        let t = Template::parse("{value:%} of the image, {limit:~} px").unwrap();
        let v = Vars {
            value: Some(0.0023456),
            limit: Some(31.4159),
            ..Vars::default()
        };
        assert_eq!(t.render(&v), "0.235% of the image, 31.4 px");
        assert!(Template::parse("{job:%}").is_err());
        let what = Template::parse("This {what}").unwrap();
        let named = Vars {
            category: Some("CAR"),
            job: Some("JOB_0"),
            ..Vars::default()
        };
        assert_eq!(what.render(&named), "This CAR");
        let unnamed = Vars {
            job: Some("JOB_0"),
            ..Vars::default()
        };
        assert_eq!(what.render(&unnamed), "This JOB_0");
        assert!(Template::parse("{value:x}").is_err());
    }

    #[test]
    fn errors_and_escapes() {
        assert!(Template::parse("{nope}").is_err());
        assert!(Template::parse("{count").is_err());
        assert!(Template::parse("a } b").is_err());
        let t = Template::parse("{{literal}} {value}").unwrap();
        assert_eq!(
            t.render(&Vars {
                value: Some(0.67 * 0.53),
                ..Vars::default()
            }),
            "{literal} 0.3551"
        );
    }
}
