//! Issue message templates: `{name}` placeholders, `{{` and `}}` for literal braces.
//! Parsed once when the rules are compiled, so a typo is an error at load time.

use std::fmt::Write;

pub const PLACEHOLDERS: &[&str] = &[
    "count", "value", "min", "max", "limit", "job", "category", "mid", "frame", "reason",
    "measure", "child", "other", "rule", "text",
];

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Lit(String),
    Var(&'static str),
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
                    let Some(known) = PLACEHOLDERS.iter().find(|p| **p == name) else {
                        return Err(format!(
                            "unknown placeholder {{{name}}} in message (known: {})",
                            PLACEHOLDERS.join(", ")
                        ));
                    };
                    if !lit.is_empty() {
                        segs.push(Seg::Lit(std::mem::take(&mut lit)));
                    }
                    segs.push(Seg::Var(known));
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
                Seg::Var(name) => {
                    let num = |x: Option<f64>| x.map(fmt_num).unwrap_or_default();
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
                        _ => String::new(),
                    };
                    out.push_str(&piece);
                }
            }
        }
        out
    }
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
