//! The event bus: every lifecycle change becomes a Docker `EventMessage`, kept in a bounded
//! history (for `--since`) and broadcast to live subscribers.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use berth_model::docker::{EventActor, EventMessage, EventMessageScopeEnum, EventMessageTypeEnum};
use berth_model::Filters;
use tokio::sync::broadcast;

/// How many past events `events --since` can replay.
const HISTORY: usize = 1024;

/// Publishes and replays events.
#[derive(Debug)]
pub struct EventBus {
    history: Mutex<VecDeque<EventMessage>>,
    live: broadcast::Sender<EventMessage>,
}

impl Default for EventBus {
    fn default() -> Self {
        let (live, _) = broadcast::channel(HISTORY);
        EventBus {
            history: Mutex::new(VecDeque::with_capacity(HISTORY)),
            live,
        }
    }
}

impl EventBus {
    /// Records and broadcasts one event.
    pub fn publish(
        &self,
        typ: EventMessageTypeEnum,
        action: &str,
        id: &str,
        attributes: HashMap<String, String>,
    ) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let msg = EventMessage {
            typ: Some(typ),
            action: Some(action.to_string()),
            actor: Some(EventActor {
                id: Some(id.to_string()),
                attributes: Some(attributes),
            }),
            scope: Some(EventMessageScopeEnum::LOCAL),
            time: Some(now.as_secs() as i64),
            time_nano: Some(now.as_nanos() as i64),
        };
        if let Ok(mut h) = self.history.lock() {
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(msg.clone());
        }
        let _ = self.live.send(msg);
    }

    /// Past events at or after `since` (seconds), and a receiver for the ones to come.
    /// Subscribing before copying the history means no event falls between the two.
    pub fn subscribe(
        &self,
        since: Option<f64>,
    ) -> (Vec<EventMessage>, broadcast::Receiver<EventMessage>) {
        let rx = self.live.subscribe();
        let past = match since {
            None => Vec::new(),
            Some(since) => self
                .history
                .lock()
                .map(|h| {
                    h.iter()
                        .filter(|e| event_time(e) >= since)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
        };
        (past, rx)
    }
}

/// The event's time in seconds.
pub fn event_time(e: &EventMessage) -> f64 {
    e.time_nano
        .map(|n| n as f64 / 1e9)
        .unwrap_or(e.time.unwrap_or(0) as f64)
}

/// Whether `e` passes Docker's event filters (container, image, volume, network, event,
/// type, label; values of one key are OR-ed, keys are AND-ed).
pub fn matches(e: &EventMessage, filters: &Filters) -> bool {
    let attrs = e.actor.as_ref().and_then(|a| a.attributes.as_ref());
    let id = e.actor.as_ref().and_then(|a| a.id.as_deref()).unwrap_or("");
    let name = attrs
        .and_then(|a| a.get("name"))
        .map(String::as_str)
        .unwrap_or("");
    let typ = e.typ.map(|t| t.to_string()).unwrap_or_default();
    filters.iter().all(|(key, values)| {
        crate::util::match_values(key, values, |v| match key.as_str() {
            "type" => &typ == v,
            "event" => e
                .action
                .as_deref()
                .map(|a| a == v || a.starts_with(&format!("{v}:")))
                .unwrap_or(false),
            "container" => typ == "container" && (id.starts_with(v.as_str()) || name == v),
            "image" => {
                (typ == "image" && (id == v || name == v))
                    || attrs
                        .and_then(|a| a.get("image"))
                        .map(|i| i == v)
                        .unwrap_or(false)
            }
            "volume" => typ == "volume" && id == v,
            "network" => typ == "network" && (id == v || name == v),
            "label" => {
                let (k, val) = match v.split_once('=') {
                    Some((k, val)) => (k, Some(val)),
                    None => (v.as_str(), None),
                };
                attrs
                    .and_then(|a| a.get(k))
                    .map(|x| val.map(|val| x == val).unwrap_or(true))
                    .unwrap_or(false)
            }
            _ => true,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(name: &str) -> HashMap<String, String> {
        HashMap::from([
            ("name".to_string(), name.to_string()),
            ("image".to_string(), "busybox".to_string()),
        ])
    }

    #[test]
    fn replay_since_and_filter() {
        let bus = EventBus::default();
        bus.publish(
            EventMessageTypeEnum::CONTAINER,
            "create",
            "aaa",
            attrs("web"),
        );
        bus.publish(
            EventMessageTypeEnum::CONTAINER,
            "start",
            "aaa",
            attrs("web"),
        );
        bus.publish(
            EventMessageTypeEnum::VOLUME,
            "create",
            "vol1",
            HashMap::new(),
        );
        let (past, _rx) = bus.subscribe(Some(0.0));
        assert_eq!(past.len(), 3);
        let f: Filters = [("event".to_string(), vec!["start".to_string()])].into();
        assert_eq!(past.iter().filter(|e| matches(e, &f)).count(), 1);
        let f: Filters = [("container".to_string(), vec!["web".to_string()])].into();
        assert_eq!(past.iter().filter(|e| matches(e, &f)).count(), 2);
        let f: Filters = [("type".to_string(), vec!["volume".to_string()])].into();
        assert_eq!(past.iter().filter(|e| matches(e, &f)).count(), 1);
        let (none, _rx) = bus.subscribe(None);
        assert!(none.is_empty());
    }
}
