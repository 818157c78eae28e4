//! Login's failure counters on DynamoDB. Every attempt is counted before its password is
//! checked, by one conditional UpdateItem on one item (1 write unit, where a transaction of
//! two counters billed 4):
//!
//! - an attempt with no trusted device counts on its address's `LOGINFAIL` item: the count from
//!   every network in `count`, `locked_until` and `expires_at`, and this network's count beside
//!   it, in the map `nets` (network -> packed counter, [`Slot::Network`]; one attribute, so a
//!   policy can name it); networks whose counts have expired are removed by the same write, so
//!   the map holds only live ones;
//! - an attempt with a trusted device counts on that device's trust item, in `fails`;
//! - a re-authentication counts on its session's own counter item.
//!
//! The write is conditional on the counters being as read and not locked, so of racing
//! attempts each is counted once and none passes a lock; one that lost reads again.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::*;
use super::DynamoStore;
use crate::domain::backoff::{Backoff, LoginFailures};
use crate::store::StoreResult;

/// The map of an address's network counters in its `LOGINFAIL` item.
pub(super) const NETWORKS: &str = "nets";
/// The attribute of a trusted device's counter in its trust item.
pub(super) const DEVICE_FAILS: &str = "fails";

/// Where in an item a failure counter is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Slot {
    /// The item's own `count`, `locked_until` and `expires_at`.
    Item,
    /// One attribute holding `"<count> <locked_until> <expires_at>"`.
    Packed(String),
    /// A network's entry in the item's map [`NETWORKS`], in the same form.
    Network(String),
}

/// The map of network counters of an item, if it has one.
fn networks(item: &Item) -> Option<&HashMap<String, AttributeValue>> {
    item.get(NETWORKS).and_then(|m| m.as_m().ok())
}

impl Slot {
    /// This counter in `item` as it stands (none stored: a counter at zero), with the stored
    /// value the reservation's condition compares.
    fn read(&self, item: Option<&Item>) -> StoreResult<(LoginFailures, Stored)> {
        let Some(item) = item else {
            return Ok((LoginFailures::default(), Stored::Absent));
        };
        match self {
            Slot::Item => {
                let Some(count) = opt_n::<i64>(item, "count") else {
                    return Ok((LoginFailures::default(), Stored::Absent));
                };
                let expires_at: i64 = get_n(item, "expires_at")?;
                let failures = LoginFailures {
                    // Below zero only if a success was taken back off a counter that had
                    // meanwhile gone: counts as zero.
                    count: count.clamp(0, u32::MAX.into()) as u32,
                    locked_until: opt_n(item, "locked_until").unwrap_or(0),
                    expires_at,
                };
                Ok((failures, Stored::Numbers { count, expires_at }))
            }
            Slot::Packed(name) => packed(opt_s(item, name), name),
            Slot::Network(network) => packed(
                networks(item)
                    .and_then(|m| m.get(network))
                    .and_then(|v| v.as_s().ok())
                    .cloned(),
                NETWORKS,
            ),
        }
    }
}

/// A packed counter as stored (`name` names it if it is malformed).
fn packed(text: Option<String>, name: &str) -> StoreResult<(LoginFailures, Stored)> {
    match text {
        None => Ok((LoginFailures::default(), Stored::Absent)),
        Some(text) => Ok((unpack(&text).ok_or_else(|| malformed(name))?, Stored::Text(text))),
    }
}

/// A counter's stored value, as the condition of the next write compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stored {
    Absent,
    Numbers { count: i64, expires_at: i64 },
    Text(String),
}

fn pack(f: LoginFailures) -> String {
    format!("{} {} {}", f.count, f.locked_until, f.expires_at)
}

fn unpack(text: &str) -> Option<LoginFailures> {
    let mut parts = text.split(' ');
    let failures = LoginFailures {
        count: parts.next()?.parse().ok()?,
        locked_until: parts.next()?.parse().ok()?,
        expires_at: parts.next()?.parse().ok()?,
    };
    parts.next().is_none().then_some(failures)
}

/// What one reservation write did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Reservation {
    /// Counted on every counter.
    Counted,
    /// A counter is locked for this many more seconds: nothing counted.
    Locked(u64),
    /// Another attempt (or a change of the item) came first: nothing counted; read again.
    Raced,
}

/// One reservation: an attempt counted on `counters` of the item `key` (as read: `item`).
pub(super) struct Reserve<'a> {
    pub key: Item,
    pub item: Option<&'a Item>,
    pub counters: Vec<(Slot, Backoff)>,
    /// A further condition the item must still meet (with its values), as the trust of a
    /// device: the write never makes an item that is gone.
    pub guard: Option<(&'a str, Item)>,
    pub now: i64,
    pub keep_secs: i64,
}

/// The update expression, condition, names and values of a reservation.
#[derive(Debug, Default)]
struct Write {
    set: Vec<String>,
    remove: Vec<String>,
    condition: Vec<String>,
    names: HashMap<String, String>,
    values: Item,
}

impl Reserve<'_> {
    /// The write counting this attempt, or how long a lock has to run.
    fn write(&self) -> StoreResult<Result<Write, u64>> {
        let mut w = Write::default();
        let mut wait = 0;
        if self.item.is_none() {
            w.condition.push("attribute_not_exists(pk)".into());
        }
        if let Some((condition, values)) = &self.guard {
            w.condition.push((*condition).to_string());
            w.values.extend(values.clone());
        }
        for (i, (slot, backoff)) in self.counters.iter().enumerate() {
            let (old, stored) = slot.read(self.item)?;
            wait = wait.max(old.wait(self.now));
            let new = old.reserve(self.now, *backoff, self.keep_secs);
            match slot {
                Slot::Item => {
                    w.names.insert("#c".into(), "count".into());
                    w.set
                        .push("#c = :c, locked_until = :lu, expires_at = :exp".into());
                    w.values.extend([
                        (":c".to_string(), n(new.count)),
                        (":lu".to_string(), n(new.locked_until)),
                        (":exp".to_string(), n(new.expires_at)),
                    ]);
                    match stored {
                        Stored::Numbers { count, expires_at } => {
                            w.condition.push(
                                "#c = :oc AND expires_at = :oe AND \
                                 (attribute_not_exists(locked_until) OR locked_until <= :now)"
                                    .into(),
                            );
                            w.values.extend([
                                (":oc".to_string(), n(count)),
                                (":oe".to_string(), n(expires_at)),
                                (":now".to_string(), n(self.now)),
                            ]);
                        }
                        _ if self.item.is_some() => w.condition.push("attribute_not_exists(#c)".into()),
                        _ => {}
                    }
                }
                Slot::Network(network) if self.item.is_none_or(|i| networks(i).is_none()) => {
                    // No map yet: the write makes it, with this network's counter alone.
                    w.names.insert("#nets".into(), NETWORKS.into());
                    w.set.push(format!("#nets = :p{i}"));
                    let entry = HashMap::from([(network.clone(), s(pack(new)))]);
                    w.values.insert(format!(":p{i}"), AttributeValue::M(entry));
                    if self.item.is_some() {
                        w.condition.push("attribute_not_exists(#nets)".into());
                    }
                }
                Slot::Network(network) => {
                    w.names.insert("#nets".into(), NETWORKS.into());
                    w.names.insert(format!("#p{i}"), network.clone());
                    w.set.push(format!("#nets.#p{i} = :p{i}"));
                    w.values.insert(format!(":p{i}"), s(pack(new)));
                    match stored {
                        Stored::Text(text) => {
                            w.condition.push(format!("#nets.#p{i} = :op{i}"));
                            w.values.insert(format!(":op{i}"), s(text));
                        }
                        _ => w.condition.push(format!("attribute_not_exists(#nets.#p{i})")),
                    }
                }
                Slot::Packed(name) => {
                    w.names.insert(format!("#p{i}"), name.clone());
                    w.set.push(format!("#p{i} = :p{i}"));
                    w.values.insert(format!(":p{i}"), s(pack(new)));
                    match stored {
                        Stored::Text(text) => {
                            w.condition.push(format!("#p{i} = :op{i}"));
                            w.values.insert(format!(":op{i}"), s(text));
                        }
                        _ if self.item.is_some() => w.condition.push(format!("attribute_not_exists(#p{i})")),
                        _ => {}
                    }
                }
            }
        }
        if wait > 0 {
            return Ok(Err(wait as u64));
        }
        // Other networks' counters that have expired leave with this write (if unchanged).
        let counted: Vec<&Slot> = self.counters.iter().map(|(slot, _)| slot).collect();
        for (j, (name, value)) in self.expired_networks(&counted).into_iter().enumerate() {
            w.names.insert("#nets".into(), NETWORKS.into());
            w.names.insert(format!("#x{j}"), name);
            w.remove.push(format!("#nets.#x{j}"));
            w.condition.push(format!("#nets.#x{j} = :ox{j}"));
            w.values.insert(format!(":ox{j}"), s(value));
        }
        Ok(Ok(w))
    }

    /// The network counters of the item, other than `counted`, that have expired (network,
    /// value).
    fn expired_networks(&self, counted: &[&Slot]) -> Vec<(String, String)> {
        let Some(map) = self.item.and_then(networks) else {
            return vec![];
        };
        let mut expired: Vec<(String, String)> = map
            .iter()
            .filter(|(network, _)| !counted.contains(&&Slot::Network(network.to_string())))
            .filter_map(|(network, value)| {
                let text = value.as_s().ok()?;
                let f = unpack(text)?;
                (f.expires_at <= self.now).then(|| (network.clone(), text.clone()))
            })
            .collect();
        expired.sort();
        expired
    }
}

impl DynamoStore {
    /// Counts one attempt on the counters of `r`, unless one is locked.
    pub(super) async fn reserve_attempt(&self, r: Reserve<'_>) -> StoreResult<Reservation> {
        let w = match r.write()? {
            Ok(w) => w,
            Err(wait) => return Ok(Reservation::Locked(wait)),
        };
        let mut expression = format!("SET {}", w.set.join(", "));
        if !w.remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", w.remove.join(", ")));
        }
        let names = (!w.names.is_empty()).then_some(w.names);
        let counted = self
            .update_if_named(
                "reserve login attempt",
                r.key,
                &expression,
                Some(&w.condition.join(" AND ")),
                w.values,
                names,
            )
            .await?;
        Ok(if counted {
            Reservation::Counted
        } else {
            Reservation::Raced
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        free: 5,
        base_secs: 1,
        max_secs: 900,
    };

    /// An address's item with `count`/`expires_at` (if given) and these network counters.
    fn item(count: Option<(i64, i64)>, nets: &[(&str, &str)]) -> Item {
        let mut item = key("LOGINFAIL#a@example.com", "LOGINFAIL");
        if let Some((count, expires_at)) = count {
            item.insert("count".into(), n(count));
            item.insert("expires_at".into(), n(expires_at));
        }
        if !nets.is_empty() {
            let map = nets.iter().map(|(k, v)| (k.to_string(), s(*v))).collect();
            item.insert(NETWORKS.into(), AttributeValue::M(map));
        }
        item
    }

    fn reserve<'a>(item: Option<&'a Item>, network: &str) -> Reserve<'a> {
        Reserve {
            key: key("LOGINFAIL#a@example.com", "LOGINFAIL"),
            item,
            counters: vec![(Slot::Item, BACKOFF), (Slot::Network(network.into()), BACKOFF)],
            guard: None,
            now: 1000,
            keep_secs: 4500,
        }
    }

    #[test]
    fn a_packed_counter_reads_back_as_written_and_nothing_else_reads() {
        let f = LoginFailures {
            count: 7,
            locked_until: 1064,
            expires_at: 5500,
        };
        assert_eq!(unpack(&pack(f)), Some(f));
        for bad in ["", "1 2", "1 2 3 4", "a 2 3", "-1 2 3"] {
            assert_eq!(unpack(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_first_attempt_makes_the_item_and_counts_one_on_the_address_and_its_network() {
        let w = reserve(None, "10.0.0.0/24").write().unwrap().unwrap();
        assert_eq!(w.condition, ["attribute_not_exists(pk)"]);
        assert_eq!(w.values[":c"], n(1));
        assert!(w.set.contains(&"#nets = :p1".to_string()));
        let map = HashMap::from([("10.0.0.0/24".to_string(), s("1 1000 5500"))]);
        assert_eq!(w.values[":p1"], AttributeValue::M(map));
        assert!(w.remove.is_empty());
    }

    #[test]
    fn a_counter_as_read_is_the_condition_of_the_next_count() {
        let it = item(Some((2, 5000)), &[("n", "2 0 5000")]);
        let w = reserve(Some(&it), "n").write().unwrap().unwrap();
        assert!(w.condition[0].starts_with("#c = :oc AND expires_at = :oe"));
        assert_eq!(w.condition[1], "#nets.#p1 = :op1");
        assert_eq!(w.names["#p1"], "n");
        assert_eq!(
            (w.values[":oc"].clone(), w.values[":op1"].clone()),
            (n(2), s("2 0 5000"))
        );
        assert_eq!(
            (w.values[":c"].clone(), w.values[":p1"].clone()),
            (n(3), s("3 1000 5500"))
        );
        // A network not in the map yet: the condition is that it is still absent.
        let w = reserve(Some(&it), "m").write().unwrap().unwrap();
        assert_eq!(w.condition[1], "attribute_not_exists(#nets.#p1)");
        // An item without the map: the write makes the map, if it is still absent.
        let bare = item(Some((2, 5000)), &[]);
        let w = reserve(Some(&bare), "m").write().unwrap().unwrap();
        assert_eq!(w.condition[1], "attribute_not_exists(#nets)");
    }

    #[test]
    fn a_locked_counter_counts_nothing_and_says_how_long() {
        let it = item(Some((1, 5000)), &[("n", "6 1008 5000")]);
        assert_eq!(reserve(Some(&it), "n").write().unwrap().err(), Some(8));
        let mut locked = item(Some((9, 5000)), &[]);
        locked.insert("locked_until".into(), n(1030));
        assert_eq!(reserve(Some(&locked), "n").write().unwrap().err(), Some(30));
        // The same network's counter, expired, counts nothing.
        let it = item(Some((1, 5000)), &[("n", "6 1008 999")]);
        let w = reserve(Some(&it), "n").write().unwrap().unwrap();
        assert_eq!(w.values[":p1"], s("1 1000 5500"));
    }

    #[test]
    fn other_networks_expired_counters_leave_with_the_write_and_live_ones_stay() {
        let nets = [("gone", "1 0 1000"), ("live", "1 0 1001"), ("here", "1 0 900")];
        let it = item(Some((3, 5000)), &nets);
        let w = reserve(Some(&it), "here").write().unwrap().unwrap();
        assert_eq!(w.remove, ["#nets.#x0"]);
        assert_eq!(w.names["#x0"], "gone");
        assert!(w.condition.contains(&"#nets.#x0 = :ox0".to_string()));
        assert_eq!(w.values[":ox0"], s("1 0 1000"));
    }

    #[test]
    fn a_guarded_reservation_never_makes_an_item() {
        let mut it = key("LOGINFAIL#a@example.com", "TRUST#h");
        it.insert("expires_at".into(), n(9000));
        let r = Reserve {
            key: it.clone(),
            item: Some(&it),
            counters: vec![(Slot::Packed(DEVICE_FAILS.into()), BACKOFF)],
            guard: Some(("expires_at = :te", HashMap::from([(":te".to_string(), n(9000))]))),
            now: 1000,
            keep_secs: 4500,
        };
        let w = r.write().unwrap().unwrap();
        assert_eq!(w.condition, ["expires_at = :te", "attribute_not_exists(#p0)"]);
        assert_eq!(w.names["#p0"], "fails");
        assert_eq!(w.values[":p0"], s("1 1000 5500"));
    }

    #[test]
    fn an_item_without_the_address_count_yet_is_written_only_while_it_has_none() {
        let it = item(None, &[("n", "1 0 5000")]);
        let w = reserve(Some(&it), "n").write().unwrap().unwrap();
        assert_eq!(w.condition[0], "attribute_not_exists(#c)");
        assert_eq!(w.values[":c"], n(1));
    }

    #[test]
    fn a_trusted_devices_counter_as_read_is_the_condition_of_its_next_count() {
        let mut it = key("LOGINFAIL#a@example.com", "TRUST#h");
        it.insert(DEVICE_FAILS.into(), s("2 0 5000"));
        let r = Reserve {
            key: it.clone(),
            item: Some(&it),
            counters: vec![(Slot::Packed(DEVICE_FAILS.into()), BACKOFF)],
            guard: None,
            now: 1000,
            keep_secs: 4500,
        };
        let w = r.write().unwrap().unwrap();
        assert_eq!(w.condition, ["#p0 = :op0"]);
        assert_eq!(
            (w.values[":op0"].clone(), w.values[":p0"].clone()),
            (s("2 0 5000"), s("3 1000 5500"))
        );
    }

    #[test]
    fn a_stored_count_below_zero_counts_as_zero_and_is_compared_as_stored() {
        let it = item(Some((-1, 5000)), &[]);
        let w = reserve(Some(&it), "n").write().unwrap().unwrap();
        assert_eq!((w.values[":oc"].clone(), w.values[":c"].clone()), (n(-1), n(1)));
    }

    #[test]
    fn a_malformed_counter_is_an_error_not_a_zero() {
        let it = item(Some((1, 5000)), &[("n", "garbage")]);
        assert!(reserve(Some(&it), "n").write().is_err());
    }
}
