//! Money: a currency (ISO 4217 code) and amounts in integer minor units (cents for USD).
//!
//! Unit prices are decimals in major units (`0.0416` dollars per instance-hour); each line's
//! monthly cost is rounded once to the currency's minor unit (half away from zero) and every
//! total after that is an exact integer sum. No binary float ever holds money.

use rust_decimal::{Decimal, RoundingStrategy};

/// Digits after the decimal point of a currency's minor unit (ISO 4217): 2 unless listed.
pub fn minor_digits(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "XAF" | "XOF" | "PYG" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "IQD" | "LYD" => 3,
        _ => 2,
    }
}

/// The symbol written before an amount, when the currency has a well-known one.
pub fn symbol(currency: &str) -> Option<&'static str> {
    match currency.to_ascii_uppercase().as_str() {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        _ => None,
    }
}

/// Is this a plausible ISO 4217 code (three ASCII letters)?
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic())
}

/// Rounds a major-unit amount to the currency's minor unit, half away from zero, as an integer
/// count of minor units. `None` if it does not fit in an `i64`.
pub fn to_minor(amount_major: Decimal, currency: &str) -> Option<i64> {
    let digits = minor_digits(currency);
    let rounded =
        amount_major.round_dp_with_strategy(digits, RoundingStrategy::MidpointAwayFromZero);
    let scaled = rounded.checked_mul(Decimal::from(10_i64.pow(digits)))?;
    i64::try_from(scaled).ok()
}

/// Minor units back to an exact major-unit decimal (`8500` cents -> `85.00`).
pub fn minor_to_major(minor: i64, currency: &str) -> Decimal {
    Decimal::new(minor, minor_digits(currency))
}

/// Plain number with the currency's digits, no symbol, no grouping: `1050.00` (for CSV/JSON).
pub fn plain_minor(minor: i64, currency: &str) -> String {
    minor_to_major(minor, currency).to_string()
}

/// For people: `$1,050.00`, `-$5.00`, `1,050.00 CHF`.
pub fn format_minor(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let negative = minor < 0;
    let abs = minor.unsigned_abs();
    let scale = 10_u64.pow(digits);
    let whole = group_thousands(abs / scale);
    let number = if digits == 0 {
        whole
    } else {
        format!("{whole}.{:0width$}", abs % scale, width = digits as usize)
    };
    let sign = if negative { "-" } else { "" };
    match symbol(currency) {
        Some(s) => format!("{sign}{s}{number}"),
        None => format!("{sign}{number} {}", currency.to_ascii_uppercase()),
    }
}

/// Signed form for deltas: `+$115.00`, `-$5.00`, `$0.00`.
pub fn format_delta_minor(minor: i64, currency: &str) -> String {
    if minor > 0 {
        format!("+{}", format_minor(minor, currency))
    } else {
        format_minor(minor, currency)
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn rounds_half_away_from_zero_to_minor_units() {
        assert_eq!(to_minor(d("30.368"), "USD"), Some(3037));
        assert_eq!(to_minor(d("0.005"), "USD"), Some(1));
        assert_eq!(to_minor(d("0.004999"), "USD"), Some(0));
        assert_eq!(to_minor(d("-0.005"), "USD"), Some(-1));
        assert_eq!(to_minor(d("149.5"), "JPY"), Some(150));
        assert_eq!(to_minor(d("1.2345"), "KWD"), Some(1235));
        assert_eq!(to_minor(Decimal::MAX, "USD"), None);
    }

    #[test]
    fn formats_with_symbol_grouping_and_digits() {
        assert_eq!(format_minor(105_000, "USD"), "$1,050.00");
        assert_eq!(format_minor(8500, "usd"), "$85.00");
        assert_eq!(format_minor(-500, "USD"), "-$5.00");
        assert_eq!(format_minor(1_234_567, "EUR"), "€12,345.67");
        assert_eq!(format_minor(1500, "JPY"), "¥1,500");
        assert_eq!(format_minor(1500, "CHF"), "15.00 CHF");
        assert_eq!(format_minor(1235, "KWD"), "1.235 KWD");
        assert_eq!(format_delta_minor(11_500, "USD"), "+$115.00");
        assert_eq!(plain_minor(105_000, "USD"), "1050.00");
        assert_eq!(plain_minor(1500, "JPY"), "1500");
        assert_eq!(minor_to_major(8500, "USD"), d("85.00"));
    }

    #[test]
    fn currency_codes() {
        assert!(is_currency_code("USD"));
        assert!(!is_currency_code("US"));
        assert!(!is_currency_code("U$D"));
    }
}
