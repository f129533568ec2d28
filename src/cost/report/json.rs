//! JSON: the [`CostReport`] as is, pretty-printed, keys in a fixed order. The schema is documented
//! in `docs/cost-report-schema.md` and `docs/cost-report.schema.json`; `schema_version` changes
//! when it does.

use super::CostReport;
use std::io::Write;

pub fn write_json(report: &CostReport, w: &mut dyn Write) -> Result<(), serde_json::Error> {
    serde_json::to_writer_pretty(&mut *w, report)?;
    w.write_all(b"\n").map_err(serde_json::Error::io)
}
