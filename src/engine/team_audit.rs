//! The Audit panel's Team view asks the team store for a page of the shared history: the query
//! (filter and paging in SQL) runs on a task of its own and answers over the event channel, so
//! the window never waits on the database, reachable or not.

use super::EventSink;
use super::types::Event;
use crate::team::{TeamPage, TeamQuery, TeamStore};
use std::sync::Arc;

pub(crate) fn query(team: Option<Arc<TeamStore>>, query: TeamQuery, sink: &EventSink) {
    let sink = sink.clone();
    tokio::spawn(async move {
        let result = match team {
            None => Err("this profile has no team store ([profile.team])".to_owned()),
            Some(store) => read(&store, &query).await,
        };
        sink.emit(Event::TeamAuditPage { query, result }).await;
    });
}

async fn read(store: &TeamStore, query: &TeamQuery) -> Result<Box<TeamPage>, String> {
    match store.history(query).await {
        Ok((rows, next)) => Ok(Box::new(TeamPage {
            query: query.clone(),
            rows,
            next,
        })),
        // Down since a moment ago: say since when; otherwise the server answered and refused.
        Err(why) if store.down_since().is_some() => Err(store.unreachable(&why)),
        Err(why) => Err(format!("the team store refused the query: {why}")),
    }
}
