//! Checksums a `text` rule can require: IBAN (ISO 13616, mod 97) and Luhn (card numbers,
//! IMEI...). Spaces (and hyphens for Luhn) are ignored, as people write them.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Checksum {
    Iban,
    Luhn,
}

impl Checksum {
    pub const NAMES: &'static [&'static str] = &["iban", "luhn"];

    pub fn from_name(s: &str) -> Option<Checksum> {
        match s {
            "iban" => Some(Checksum::Iban),
            "luhn" => Some(Checksum::Luhn),
            _ => None,
        }
    }

    /// How an issue names it.
    pub fn label(self) -> &'static str {
        match self {
            Checksum::Iban => "IBAN",
            Checksum::Luhn => "Luhn number",
        }
    }

    pub fn valid(self, text: &str) -> bool {
        match self {
            Checksum::Iban => iban(text),
            Checksum::Luhn => luhn(text),
        }
    }
}

/// Country code, two check digits, then up to 30 letters or digits; moving the first four
/// characters to the end and reading letters as 10..35 gives a number = 1 (mod 97).
pub fn iban(text: &str) -> bool {
    let chars: Vec<char> = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !(15..=34).contains(&chars.len()) || !chars.iter().all(char::is_ascii_alphanumeric) {
        return false;
    }
    let (head, rest) = chars.split_at(4);
    if !head[..2].iter().all(char::is_ascii_alphabetic)
        || !head[2..].iter().all(char::is_ascii_digit)
    {
        return false;
    }
    let mut rem: u32 = 0;
    for c in rest.iter().chain(head) {
        // Digits stay, letters become two digits (A = 10 ... Z = 35).
        let Some(v) = c.to_digit(36) else {
            return false;
        };
        rem = if v < 10 {
            (rem * 10 + v) % 97
        } else {
            (rem * 100 + v) % 97
        };
    }
    rem == 1
}

/// Every second digit from the right doubled (minus 9 above 9); the sum ends in 0.
pub fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_digit(10))
        .collect::<Option<Vec<u32>>>()
        .unwrap_or_default();
    if digits.len() < 2 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans() {
        for good in [
            "FR76 3000 6000 0112 3456 7890 189",
            "DE89370400440532013000",
            "GB82 WEST 1234 5698 7654 32",
            "gb82west12345698765432",
            "NL91ABNA0417164300",
            "BE68539007547034",
        ] {
            assert!(iban(good), "{good}");
        }
        for bad in [
            "FR76 3000 6000 0112 3456 7890 188",
            "DE89370400440532013001",
            "GB82 WEST 1234 5698 7654 33",
            "FR",
            "",
            "1234567890123456",
            "FR76-3000-6000-0112-3456-7890-189",
            "FRAB30006000011234567890189",
        ] {
            assert!(!iban(bad), "{bad}");
        }
    }

    #[test]
    fn luhns() {
        for good in [
            "4539 1488 0343 6467",
            "79927398713",
            "4111-1111-1111-1111",
            "0000",
        ] {
            assert!(luhn(good), "{good}");
        }
        for bad in ["4539 1488 0343 6468", "79927398710", "1", "", "4111x1111"] {
            assert!(!luhn(bad), "{bad}");
        }
    }
}
