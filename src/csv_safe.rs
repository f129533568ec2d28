//! Spreadsheet-safe CSV cells, shared by every CSV export (audit log, cost reports).
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and, in some, tab or carriage
//! return) as a formula — CSV injection. Such cells get a leading single quote, which spreadsheets
//! show as text. Quoting of commas, quotes and newlines is left to the `csv` crate.

/// The cell, with a leading `'` when it would otherwise start a formula.
pub fn neutralise(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_starts_are_quoted_and_the_rest_is_untouched() {
        for bad in ["=1+1", "+1", "-5", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(bad), format!("'{bad}"));
        }
        for ok in ["85.00", "Server", "", "a=b", "'quoted"] {
            assert_eq!(neutralise(ok), ok);
        }
    }
}
