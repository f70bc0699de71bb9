//! The security officer's dashboard: incidents by day, level, channel, department, rule and
//! disposition over a period, each chart a way into the queue filtered by what was clicked.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use baomi_server::api::{ApiState, parse_day};
use baomi_server::authz::Principal;
use baomi_store::IncidentFilter;
use serde::Deserialize;
use serde_json::json;

use super::{Chrome, PageResult};

#[derive(Deserialize, Default)]
pub struct Period {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    c: Chrome,
    from: String,
    to: String,
    total: i64,
    open: i64,
    handled: i64,
    /// The charts' data as JSON, read by `assets/console.js` (no inline script: CSP).
    charts: String,
}

pub async fn page(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(period): Query<Period>,
) -> PageResult {
    let now = baomi_store::now_ms();
    let to = period
        .to
        .filter(|s| parse_day(s, true).is_some())
        .unwrap_or_else(|| baomi_store::local_date(now));
    let from = period
        .from
        .filter(|s| parse_day(s, false).is_some())
        .unwrap_or_else(|| baomi_store::local_date(now - 29 * 86_400_000));
    let filter = IncidentFilter {
        from_ms: parse_day(&from, false),
        to_ms: parse_day(&to, true),
        ..Default::default()
    };
    let store = &state.gateway.store;
    let stats = store.stats(&filter).await?;
    let c = Chrome::new(&state, &p, &headers, "dash.title", "/dashboard");
    let t = c.t;
    let by_rule = stats.by_rule.clone();
    // Every day of the period, also those without incidents, so the chart reads as a calendar.
    let counted: std::collections::HashMap<&str, i64> =
        stats.by_day.iter().map(|(d, n)| (d.as_str(), *n)).collect();
    let mut days = Vec::new();
    if let (Some(mut day), Some(end)) = (filter.from_ms, filter.to_ms) {
        while day < end && days.len() < 400 {
            let d = baomi_store::local_date(day);
            let n = counted.get(d.as_str()).copied().unwrap_or(0);
            days.push((d, n));
            day += 86_400_000;
        }
    }
    let open = stats
        .by_disposition
        .iter()
        .filter(|(d, _)| d == "open")
        .map(|(_, n)| n)
        .sum::<i64>();
    let series = |dim: &str, rows: &[(String, i64)], label: &dyn Fn(&str) -> String| {
        json!({
            "dim": dim,
            "keys": rows.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            "labels": rows.iter().map(|(k, _)| label(k)).collect::<Vec<_>>(),
            "values": rows.iter().map(|(_, n)| n).collect::<Vec<_>>(),
        })
    };
    let charts = json!({
        "from": from,
        "to": to,
        "day": series("day", &days, &|k| k[5..].to_owned()),
        "level": series("level", &stats.by_level, &|k| if k == "-" { t.t("common.none").to_owned() } else { t.level(k) }),
        "channel": series("channel", &stats.by_channel, &|k| t.channel(k).to_owned()),
        "department": series("department", &stats.by_department, &|k| k.to_owned()),
        "rule": series("rule", &by_rule, &|k| k.to_owned()),
        "disposition": series("disposition", &stats.by_disposition, &|k| t.disposition(k).to_owned()),
        "titles": {
            "day": t.t("dash.by_day"),
            "level": t.t("dash.by_level"),
            "channel": t.t("dash.by_channel"),
            "department": t.t("dash.by_department"),
            "rule": t.t("dash.by_rule"),
            "disposition": t.t("dash.by_disposition"),
        },
    });
    Ok(crate::render(&DashboardPage {
        from,
        to,
        total: stats.total,
        open,
        handled: stats.total - open,
        // `</` cannot close the data block early.
        charts: charts.to_string().replace("</", "<\\/"),
        c,
    }))
}
