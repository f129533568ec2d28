//! List then watch, as kube-runtime's `watcher` does, with the list's pages pipelined: the next
//! page is asked for as soon as the current page's bytes are in, and pages are decoded on a
//! blocking thread meanwhile. kube-runtime's watcher asks for page N+1 only after every object
//! of page N has been handed out and applied, so the client's decode and the cache's inserts
//! (and any wait for a poll's read of the cache) add up with the server's time for each page;
//! here they overlap it. Used for pods: 300 pages at 150,000 pods, where this is the gap
//! between "all pod details in" and one bare LIST of the same pods.
//!
//! Events and errors are kube-runtime's, in the same order, so the cache applies them as it
//! applies a `watcher`'s: `Init`, `InitApply` per listed object, `InitDone`, then `Apply` /
//! `Delete`; a 410 Gone (an expired continue token or watch) ends the stream with the error.

use futures::{Stream, StreamExt};
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::core::{ListMeta, ObjectList};
use kube::runtime::watcher::{Error, Event};
use kube::{Client, Resource, ResourceExt};
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use std::collections::VecDeque;
use std::fmt::Debug;

/// client-go's page size, as kube-runtime's watcher asks for.
const PAGE_SIZE: u32 = 500;

/// Pages fetched ahead of the one being decoded: one queued, one on the wire.
const AHEAD: usize = 1;

/// One page as the server sent it, with its list metadata read.
struct Page {
    text: String,
    meta: ListMeta,
}

/// List (pipelined) then watch `api` from the list's resourceVersion, re-watching from the
/// last version seen when a watch ends. Ends after the first error, which it yields.
pub(super) fn watch<K>(api: Api<K>) -> impl Stream<Item = Result<Event<K>, Error>> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    futures::stream::unfold(Step::Start(api), |step| async move {
        let mut step = step;
        loop {
            let (out, next) = step.advance().await;
            match out {
                Some(item) => return Some((item, next)),
                None if matches!(next, Step::Done) => return None,
                None => step = next,
            }
        }
    })
}

enum Step<K: Resource + Clone> {
    Start(Api<K>),
    Listing {
        api: Api<K>,
        pages: tokio::sync::mpsc::Receiver<Result<Page, kube::Error>>,
        /// Stops the page fetcher when the stream is dropped mid-list.
        _fetcher: AbortOnDrop,
        objects: VecDeque<K>,
        version: Option<String>,
    },
    Watch {
        api: Api<K>,
        version: String,
    },
    Watching {
        api: Api<K>,
        version: String,
        events: futures::stream::BoxStream<'static, kube::Result<WatchEvent<K>>>,
    },
    Done,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<K> Step<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    async fn advance(self) -> (Option<Result<Event<K>, Error>>, Self) {
        match self {
            Step::Start(api) => {
                let (tx, rx) = tokio::sync::mpsc::channel(AHEAD);
                let fetcher = tokio::spawn(fetch_pages(
                    api.clone().into_client(),
                    api.resource_url().to_string(),
                    tx,
                ));
                let next = Step::Listing {
                    api,
                    pages: rx,
                    _fetcher: AbortOnDrop(fetcher),
                    objects: VecDeque::new(),
                    version: None,
                };
                (Some(Ok(Event::Init)), next)
            }
            Step::Listing {
                api,
                mut pages,
                _fetcher,
                mut objects,
                mut version,
            } => {
                if let Some(obj) = objects.pop_front() {
                    let next = Step::Listing {
                        api,
                        pages,
                        _fetcher,
                        objects,
                        version,
                    };
                    return (Some(Ok(Event::InitApply(obj))), next);
                }
                match pages.recv().await {
                    Some(Ok(page)) => match decode::<K>(page.text).await {
                        Ok(items) => {
                            version = page.meta.resource_version.filter(|v| !v.is_empty());
                            let next = Step::Listing {
                                api,
                                pages,
                                _fetcher,
                                objects: items.into(),
                                version,
                            };
                            (None, next)
                        }
                        Err(e) => (Some(Err(Error::InitialListFailed(e))), Step::Done),
                    },
                    Some(Err(e)) => (Some(Err(Error::InitialListFailed(e))), Step::Done),
                    // The fetcher is done: the last page had no continue token.
                    None => match version {
                        Some(version) => (Some(Ok(Event::InitDone)), Step::Watch { api, version }),
                        None => (Some(Err(Error::NoResourceVersion)), Step::Done),
                    },
                }
            }
            Step::Watch { api, version } => {
                let params = WatchParams::default();
                match api.watch(&params, &version).await {
                    Ok(events) => (
                        None,
                        Step::Watching {
                            api,
                            version,
                            events: events.boxed(),
                        },
                    ),
                    Err(e) => (Some(Err(Error::WatchStartFailed(e))), Step::Done),
                }
            }
            Step::Watching {
                api,
                version,
                mut events,
            } => match events.next().await {
                Some(Ok(WatchEvent::Added(obj) | WatchEvent::Modified(obj))) => {
                    match obj.resource_version().filter(|v| !v.is_empty()) {
                        Some(version) => (
                            Some(Ok(Event::Apply(obj))),
                            Step::Watching {
                                api,
                                version,
                                events,
                            },
                        ),
                        None => (Some(Err(Error::NoResourceVersion)), Step::Done),
                    }
                }
                Some(Ok(WatchEvent::Deleted(obj))) => {
                    match obj.resource_version().filter(|v| !v.is_empty()) {
                        Some(version) => (
                            Some(Ok(Event::Delete(obj))),
                            Step::Watching {
                                api,
                                version,
                                events,
                            },
                        ),
                        None => (Some(Err(Error::NoResourceVersion)), Step::Done),
                    }
                }
                Some(Ok(WatchEvent::Bookmark(mark))) => (
                    None,
                    Step::Watching {
                        api,
                        version: mark.metadata.resource_version,
                        events,
                    },
                ),
                Some(Ok(WatchEvent::Error(status))) => {
                    (Some(Err(Error::WatchError(status))), Step::Done)
                }
                Some(Err(e)) => (Some(Err(Error::WatchFailed(e))), Step::Done),
                // The server ended the watch (its timeout): watch again from where it was.
                None => (None, Step::Watch { api, version }),
            },
            Step::Done => (None, Step::Done),
        }
    }
}

/// Fetch every page of the list, at most [`AHEAD`] pages ahead of the reader; the next page is
/// asked for as soon as this one's continue token is read.
async fn fetch_pages(
    client: Client,
    url: String,
    tx: tokio::sync::mpsc::Sender<Result<Page, kube::Error>>,
) {
    let request = kube::core::Request::new(url);
    let mut params = ListParams::default().limit(PAGE_SIZE);
    loop {
        let text = match request.list(&params) {
            Ok(mut req) => {
                req.extensions_mut().insert("list");
                client.request_text(req).await
            }
            Err(e) => Err(kube::Error::BuildRequest(e)),
        };
        let page = text.and_then(|text| {
            let meta = list_meta(&text).map_err(kube::Error::SerdeError)?;
            Ok(Page { text, meta })
        });
        let token = match &page {
            Ok(p) => p.meta.continue_.clone().filter(|t| !t.is_empty()),
            Err(_) => None,
        };
        if tx.send(page).await.is_err() {
            return;
        }
        match token {
            Some(t) => params.continue_token = Some(t),
            None => return,
        }
    }
}

/// A page's objects, decoded on a blocking thread: 500 pods of 7.9 KB take milliseconds of CPU
/// that the runtime's workers (and the page fetcher on them) should not wait for.
async fn decode<K>(text: String) -> Result<Vec<K>, kube::Error>
where
    K: Clone + DeserializeOwned + Send + 'static,
{
    let decoded = tokio::task::spawn_blocking(move || {
        serde_json::from_str::<ObjectList<K>>(&text).map(|list| list.items)
    })
    .await;
    match decoded {
        Ok(items) => items.map_err(kube::Error::SerdeError),
        Err(e) => Err(kube::Error::Service(Box::new(e))),
    }
}

/// A list's `metadata` (continue token, resourceVersion) without decoding its items. The API
/// server writes `metadata` before `items` (Go field order), so reading stops there; a body
/// with the items first has them skipped unparsed.
fn list_meta(text: &str) -> Result<ListMeta, serde_json::Error> {
    let mut found = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let read = serde::Deserializer::deserialize_map(&mut de, MetaFirst(&mut found));
    match (read, found) {
        (_, Some(meta)) => Ok(meta),
        (Err(e), None) => Err(e),
        (Ok(()), None) => Ok(ListMeta::default()),
    }
}

/// Reads the top-level keys until `metadata` is read, then stops (with an error nobody sees).
struct MetaFirst<'a>(&'a mut Option<ListMeta>);

impl<'de> Visitor<'de> for MetaFirst<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Kubernetes list")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "metadata" {
                *self.0 = Some(map.next_value::<ListMeta>()?);
                return Err(serde::de::Error::custom("metadata read"));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_metadata_first_or_last() {
        let first = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"abc"},"items":[{"metadata":{"name":"x"}}]}"#;
        let last = r#"{"apiVersion":"v1","items":[{"metadata":{"name":"x","continue":"no"}}],"kind":"PodList","metadata":{"resourceVersion":"8"}}"#;
        let m = list_meta(first).unwrap();
        assert_eq!(m.continue_.as_deref(), Some("abc"));
        assert_eq!(m.resource_version.as_deref(), Some("7"));
        let m = list_meta(last).unwrap();
        assert_eq!(m.continue_, None);
        assert_eq!(m.resource_version.as_deref(), Some("8"));
        assert!(list_meta("{\"items\": [").is_err());
    }
}
